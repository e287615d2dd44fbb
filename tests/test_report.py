"""The curator's report: ask and vote through the HTTP app, then read the votes back through `kbot report` and
/admin/report (on SQLite and on PostgreSQL), with its plot; the admin key; grouping similar questions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import databases
from kbot.api import create_app
from kbot.catalog import load_catalog
from kbot.cli import app as cli
from kbot.config import Settings
from kbot.embedding import FakeEmbedder
from kbot.report.grouping import group
from kbot.service import KbotService

database_url = databases.database_url  # fixtures: each test on SQLite and on PostgreSQL
postgres = databases.postgres
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
ADMIN = {"X-Admin-Key": "curator-key"}
ANSWERED = "Is ketamine an opioid?"
UNANSWERED = [
    "What is the capital of France?",
    "What is the capital city of France?",
    "Which team won the last Olympic relay race?",
]


@pytest.fixture
def settings(
    make_settings: Callable[..., Settings], fake_index_dir: Path, database_url: str, tmp_path: Path
) -> Settings:
    return make_settings(
        index_dir=fake_index_dir,
        model_name=FakeEmbedder.name,
        database_url=database_url,
        var_dir=tmp_path,
        store_questions=True,
        admin_key=ADMIN["X-Admin-Key"],
    )


@pytest.fixture
def client(settings: Settings, fake_service: KbotService) -> Iterator[TestClient]:
    with TestClient(create_app(settings, fake_service)) as c:
        yield c


def quote_voted_down(client: TestClient) -> dict[str, Any]:
    """Ask, get quotes, vote them down; and a few questions the articles do not answer."""
    answer = client.post("/v1/ask", json={"question": ANSWERED}).json()
    assert answer["status"] == "answered"
    comment = "Old news, call me on 555-867-5309"
    vote = {"answer_id": answer["answer_id"], "helpful": False, "reason": "out_of_date", "comment": comment}
    assert client.post("/v1/feedback", json=vote).status_code == 202
    for question in UNANSWERED:
        assert client.post("/v1/ask", json={"question": question}).json()["status"] == "no_answer"
    return answer


def test_a_vote_reads_back_through_kbot_report(
    client: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    answer = quote_voted_down(client)
    client.app.state.kbot.store.flush()  # type: ignore[attr-defined]
    for name in ("seeds_dir", "index_dir", "model_name", "database_url", "var_dir", "store_questions"):
        monkeypatch.setenv(f"KBOT_{name.upper()}", str(getattr(settings, name)))
    result = CliRunner().invoke(cli, ["report", "--since", "2d", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    markdown = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert (tmp_path / "out" / "rates.png").read_bytes().startswith(b"\x89PNG")
    first = answer["quotes"][0]
    for text in (markdown, page):
        assert "It is out of date (1)" in text  # the reason, read back
        assert "capital of France" in text  # a stored, unanswered question
        assert "Old news, call me on [phone]" in text and "867-5309" not in text  # the comment, scrubbed
    assert f"> {first['text']}" in markdown  # the exact quote, read from its article
    assert "| answered | 1 | 25.0% |" in markdown and "| no_answer | 3 | 75.0% |" in markdown
    quoted = {q["source_id"] for q in answer["quotes"]}
    never = [m for m in load_catalog(settings.seeds_dir) if m.id not in quoted]
    assert never and all(f"`{m.id}`" in markdown for m in never)
    assert all(f"`{source_id}`, " not in markdown.split("## Articles never quoted")[1] for source_id in quoted)
    assert '2 questions: "What is the capital of France?"; "What is the capital city of France?"' in markdown


@SQLITE_ONLY
def test_admin_report_serves_the_page_behind_the_admin_key(client: TestClient) -> None:
    quote_voted_down(client)
    page = client.get("/admin/report", headers=ADMIN)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "It is out of date (1)" in page.text and 'src="data:image/png;base64,' in page.text
    policy = page.headers["content-security-policy"]
    assert "img-src data:" in policy and "'unsafe-inline'" not in policy
    assert client.get("/admin/report").status_code == 401
    assert client.get("/admin/report", headers={"X-Admin-Key": "guess"}).status_code == 403
    assert client.get("/admin/report?since=forever", headers=ADMIN).json()["error"]["code"] == "invalid_request"
    assert client.get("/admin/report?kb=nope", headers=ADMIN).json()["error"]["code"] == "kb_not_found"


@SQLITE_ONLY
def test_admin_report_is_off_without_an_admin_key(
    make_settings: Callable[..., Settings], fake_index_dir: Path, fake_service: KbotService, database_url: str
) -> None:
    settings = make_settings(index_dir=fake_index_dir, model_name=FakeEmbedder.name, database_url=database_url)
    with TestClient(create_app(settings, fake_service)) as client:
        refused = client.get("/admin/report", headers={"X-Admin-Key": ""})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "admin_off"


@SQLITE_ONLY
def test_kbot_report_refuses_a_bad_period_clearly(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KBOT_DATABASE_URL", settings.database_url)
    result = CliRunner().invoke(cli, ["report", "--since", "a month"])
    assert result.exit_code == 2
    assert "hours, days or weeks, such as 12h, 30d or 2w" in result.output and "Traceback" not in result.output


def test_similar_questions_group_together_largest_first() -> None:
    vectors = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.95, 0.1, 0.0], [0.9, 0.0, 0.2], [0.0, 0.0, 1.0]])
    groups = group(["a", "b", "a2", "a3", "c"], vectors)
    assert groups == [["a", "a2", "a3"], ["b"], ["c"]]
    assert group([], np.zeros((0, 3))) == [] and group(["x"], np.ones((1, 3))) == [["x"]]
