"""Knowledge bases: kb.toml, the registry of several knowledge bases in one service, one broken knowledge base beside a
working one, reloading a rebuilt index, and the API and pages that name a knowledge base. Fake model throughout."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kbot.api import create_app
from kbot.config import Settings
from kbot.embedding import FakeEmbedder
from kbot.errors import CatalogError, IndexMissing, IndexStale, IngestRunning, InvalidSettings, UnknownKnowledgeBase
from kbot.folder import read_source_text
from kbot.index import build_index, current_build, load_index
from kbot.knowledge_base import DEFAULT_KB, configured
from kbot.profile import load_profile
from kbot.service import KbotService

ROOT = Path(__file__).resolve().parents[1]
ASTHMA = ROOT / "tests" / "kbs" / "asthma"
SIDE_EFFECTS = "What are the side effects?"


@pytest.fixture
def asthma(tmp_path: Path) -> Path:
    """A writable copy of the second test knowledge base."""
    return Path(shutil.copytree(ASTHMA, tmp_path / "asthma"))


@pytest.fixture
def two_kbs(
    make_settings: Callable[..., Settings], fake_index_dir: Path, asthma: Path, tmp_path: Path
) -> tuple[Settings, FakeEmbedder]:
    """Settings for seeds/ (default) and asthma, both indexed, under one KBOT_INDEX_DIR."""
    index_root = tmp_path / "index"
    shutil.copytree(fake_index_dir / DEFAULT_KB, index_root / DEFAULT_KB, symlinks=True)
    embedder = FakeEmbedder()
    build_index(asthma, index_root / "asthma", embedder)
    settings = make_settings(index_dir=index_root, knowledge_bases={"asthma": asthma}, model_name=FakeEmbedder.name)
    return settings, embedder


@pytest.fixture
def service(two_kbs: tuple[Settings, FakeEmbedder]) -> KbotService:
    settings, embedder = two_kbs
    return KbotService.load(settings, embedder=embedder)


# ------------------------------------------------------------------------------------------------------- kb.toml


def test_a_folder_without_kb_toml_gets_neutral_defaults(tmp_path: Path) -> None:
    profile = load_profile(tmp_path)
    assert profile.title == "Ask a question" and profile.starters == [] and profile.help_lines is None


def test_the_ketamine_knowledge_base_keeps_its_own_vocabulary() -> None:
    profile = load_profile(ROOT / "seeds")
    assert profile.title == "Ask about ketamine" and len(profile.starters) == 4
    assert profile.lexicon.synonyms["special k"] == "ketamine" and "ketamine's" in profile.lexicon.stopwords


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('titel = "typo"', "titel"),
        ("starters = 3", "starters"),
        ('[lexicon]\nsynonyms = ["a"]', "lexicon.synonyms"),
        ("help_lines = []", "help_lines"),
        ("title = ", "not valid"),
    ],
)
def test_a_bad_kb_toml_is_an_error_that_names_the_field(tmp_path: Path, text: str, named: str) -> None:
    (tmp_path / "kb.toml").write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError, match=named):
        load_profile(tmp_path)


def test_knowledge_base_names_are_checked(make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    assert list(configured(make_settings(knowledge_bases={"nih": tmp_path}))) == [DEFAULT_KB, "nih"]
    with pytest.raises(InvalidSettings, match="'NIH Library'"):
        configured(make_settings(knowledge_bases={"NIH Library": tmp_path}))


# ------------------------------------------------------------------------------------------------ the service


def test_the_same_question_gets_each_knowledge_bases_own_answer(service: KbotService, asthma: Path) -> None:
    ketamine, inhalers = service.ask(SIDE_EFFECTS), service.ask(SIDE_EFFECTS, "asthma")
    assert ketamine.status.value == inhalers.status.value == "answered"
    assert {q.source_id for q in ketamine.quotes} <= {m.id for m in service.kb().sources()}
    assert {q.source_id for q in inhalers.quotes} <= {"inhalers", "triggers"}
    assert "hoarse voice" in inhalers.quotes[0].text
    for quote in inhalers.quotes:  # quotes are spans of the asthma folder's files, not seeds/'s
        assert read_source_text(asthma / quote.source_file)[quote.start : quote.end] == quote.text


def test_one_batch_answers_questions_of_several_knowledge_bases(service: KbotService) -> None:
    answers = service.ask_batch([SIDE_EFFECTS, "what does a puffer do"], [DEFAULT_KB, "asthma"])
    assert answers[1].quotes and answers[1].quotes[0].source_id == "inhalers"  # its lexicon: puffer -> inhaler
    assert all(q.source_id != "inhalers" for q in answers[0].quotes)


def test_one_model_serves_every_knowledge_base(service: KbotService) -> None:
    assert service.kb().retriever is not service.kb("asthma").retriever
    assert [kb.name for kb in service.registry.loaded()] == [DEFAULT_KB, "asthma"]


def test_an_unknown_knowledge_base_is_its_own_error(service: KbotService) -> None:
    with pytest.raises(UnknownKnowledgeBase, match="'nope'"):
        service.ask("good evening to you", "nope")


def test_a_knowledge_base_without_an_index_does_not_stop_the_others(
    make_settings: Callable[..., Settings], fake_index_dir: Path, asthma: Path
) -> None:
    settings = make_settings(index_dir=fake_index_dir, knowledge_bases={"asthma": asthma}, model_name=FakeEmbedder.name)
    service = KbotService.load(settings, embedder=FakeEmbedder())
    assert service.ask(SIDE_EFFECTS).status.value == "answered"
    with pytest.raises(IndexMissing):
        service.kb("asthma")
    with pytest.raises(IndexMissing):  # asked for by name (the CLI), it is an error at once
        KbotService.load(settings, embedder=FakeEmbedder(), only=["asthma"])


# ------------------------------------------------------------------------------------------------- reloading


def _edit_and_rebuild(asthma: Path, settings: Settings, embedder: FakeEmbedder, sentence: str) -> None:
    path = asthma / "triggers.md"
    path.write_text(read_source_text(path) + f"\n## Thunderstorms\n\n{sentence}\n", encoding="utf-8")
    build_index(asthma, settings.index_dir / "asthma", embedder)


def test_refresh_serves_a_rebuilt_index_and_leaves_the_others(
    service: KbotService, two_kbs: tuple[Settings, FakeEmbedder], asthma: Path
) -> None:
    settings, embedder = two_kbs
    default_before = service.kb()
    assert service.refresh() == []  # nothing changed
    sentence = "Thunderstorms can set off a severe asthma attack in people with hay fever."
    _edit_and_rebuild(asthma, settings, embedder, sentence)
    assert service.refresh() == ["asthma"]
    assert service.kb() is default_before
    assert service.kb("asthma").build == current_build(settings.index_dir / "asthma").name  # type: ignore[union-attr]
    answer = service.ask("can thunderstorms set off asthma", "asthma")
    assert answer.quotes[0].text == sentence


def test_a_build_that_cannot_be_loaded_leaves_the_old_one_serving(
    service: KbotService, two_kbs: tuple[Settings, FakeEmbedder], asthma: Path
) -> None:
    settings, embedder = two_kbs
    before = service.kb("asthma")
    _edit_and_rebuild(asthma, settings, embedder, "Thunderstorms can set off an attack.")
    (current_build(settings.index_dir / "asthma") / "corpus.jsonl").write_text("{}")  # type: ignore[operator]
    assert service.refresh() == []
    assert service.kb("asthma") is before
    assert service.ask("what does an inhaler do", "asthma").status.value == "answered"


def test_a_second_ingest_of_the_same_knowledge_base_stops_with_a_clear_error(asthma: Path, tmp_path: Path) -> None:
    import fcntl

    index_dir = tmp_path / "index" / "asthma"
    index_dir.mkdir(parents=True)
    with (index_dir / ".lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as a first ingest holds it while it builds
        with pytest.raises(IngestRunning, match="Another kbot ingest"):
            build_index(asthma, index_dir, FakeEmbedder())
    build_index(asthma, index_dir, FakeEmbedder())  # once it is done, the next one builds
    assert current_build(index_dir) is not None


def test_an_article_with_an_upper_case_suffix_is_read_and_hashed(asthma: Path, tmp_path: Path) -> None:
    (asthma / "triggers.md").rename(asthma / "TRIGGERS.MD")
    catalog = (asthma / "sources.toml").read_text(encoding="utf-8").replace('["triggers.md"]', '["TRIGGERS.MD"]')
    (asthma / "sources.toml").write_text(catalog, encoding="utf-8")
    build_index(asthma, tmp_path / "index", FakeEmbedder())
    (asthma / "TRIGGERS.MD").write_text("# Asthma triggers\n\nPollen.\n", encoding="utf-8")
    with pytest.raises(IndexStale, match=r"TRIGGERS\.MD changed"):
        load_index(tmp_path / "index", asthma, FakeEmbedder.name)


# ------------------------------------------------------------------------------------------------ API and pages


@pytest.fixture
def client(two_kbs: tuple[Settings, FakeEmbedder], service: KbotService) -> Iterator[TestClient]:
    settings, _ = two_kbs
    scoped = settings.model_copy(update={"api_key_scopes": {"asthma-key": ["asthma"]}, "api_keys": ["all-key"]})
    with TestClient(create_app(scoped, service)) as c:
        yield c


def test_api_answers_from_the_named_knowledge_base(client: TestClient) -> None:
    headers = {"X-API-Key": "all-key"}
    default = client.post("/v1/ask", json={"question": SIDE_EFFECTS}, headers=headers).json()
    asthma = client.post("/v1/ask", json={"question": SIDE_EFFECTS, "kb": "asthma"}, headers=headers).json()
    assert asthma["quotes"][0]["source_id"] == "inhalers" and default["quotes"][0]["source_id"] != "inhalers"
    sources = client.get("/v1/sources", params={"kb": "asthma"}, headers=headers).json()["sources"]
    assert {s["id"] for s in sources} == {"inhalers", "triggers"}
    detail = client.get("/v1/sources/inhalers", params={"kb": "asthma"}, headers=headers)
    assert detail.status_code == 200 and detail.json()["source"]["publisher"] == "Riverside Asthma Clinic"
    assert client.get("/v1/sources/inhalers", headers=headers).status_code == 404  # not in default


def test_api_lists_the_knowledge_bases_with_their_builds(client: TestClient, service: KbotService) -> None:
    listed = client.get("/v1/kbs", headers={"X-API-Key": "all-key"}).json()["knowledge_bases"]
    assert [(k["name"], k["title"], k["sources"], k["status"]) for k in listed] == [
        ("default", "Ask about ketamine", 5, "ready"),
        ("asthma", "Ask about asthma", 2, "ready"),
    ]
    assert listed[1]["build"] == service.kb("asthma").build and listed[1]["built_at"]


def test_api_unknown_knowledge_base_is_a_404_and_a_bad_name_a_422(client: TestClient) -> None:
    headers = {"X-API-Key": "all-key"}
    response = client.post("/v1/ask", json={"question": "greetings", "kb": "nope"}, headers=headers)
    assert response.status_code == 404 and response.json()["error"]["code"] == "kb_not_found"
    response = client.post("/v1/ask", json={"question": "greetings", "kb": "../etc"}, headers=headers)
    assert response.status_code == 422 and "../etc" not in response.text


def test_a_key_limited_to_one_knowledge_base_gets_403_on_another(client: TestClient) -> None:
    headers = {"X-API-Key": "asthma-key"}
    assert client.post("/v1/ask", json={"question": SIDE_EFFECTS, "kb": "asthma"}, headers=headers).status_code == 200
    for response in (
        client.post("/v1/ask", json={"question": SIDE_EFFECTS}, headers=headers),
        client.get("/v1/sources", headers=headers),
    ):
        assert response.status_code == 403 and response.json()["error"]["code"] == "kb_forbidden"
    assert [k["name"] for k in client.get("/v1/kbs", headers=headers).json()["knowledge_bases"]] == ["asthma"]


def test_api_a_broken_knowledge_base_answers_its_error_and_readyz_says_which(
    make_settings: Callable[..., Settings], fake_index_dir: Path, asthma: Path, fake_service: KbotService
) -> None:
    settings = make_settings(index_dir=fake_index_dir, knowledge_bases={"asthma": asthma}, model_name=FakeEmbedder.name)
    with TestClient(create_app(settings, KbotService.load(settings, embedder=FakeEmbedder()))) as c:
        ready = c.get("/readyz")
        broken = c.post("/v1/ask", json={"question": SIDE_EFFECTS, "kb": "asthma"})
        working = c.post("/v1/ask", json={"question": SIDE_EFFECTS})
    assert ready.status_code == 200 and ready.json()["status"] == "degraded"
    assert ready.json()["knowledge_bases"]["asthma"] == {
        "status": "unavailable", "sources": 0, "build": "", "error": "index_missing"
    }  # fmt: skip
    assert broken.status_code == 503 and broken.json()["error"]["code"] == "kb_unavailable"
    assert str(fake_index_dir) not in broken.text and broken.json()["error"]["fix"] == "kbot ingest --kb asthma"
    assert working.status_code == 200 and working.json()["status"] == "answered"


def test_each_knowledge_base_has_its_own_chat_page(client: TestClient) -> None:
    page = client.get("/kb/asthma")
    assert page.status_code == 200
    assert "Ask about asthma" in page.text and "What does an inhaler do?" in page.text
    assert 'data-kb="asthma"' in page.text and "Riverside Asthma Clinic" in page.text
    home = client.get("/")
    assert "Ask about ketamine" in home.text and 'data-kb=""' in home.text
    assert client.get("/kb/nope").status_code == 404
    panel = client.get("/panel", params={"kb": "asthma"}).text
    assert "Ask about asthma" in panel and 'data-kb="asthma"' in panel
    demo = client.get("/demo", params={"kb": "asthma"}).text
    assert 'data-kbot-kb="asthma"' in demo and 'data-kbot-title="Ask about asthma"' in demo


def test_openapi_documents_the_kb_field_and_the_kbs_route(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert "/v1/kbs" in schema["paths"]
    ask = json.dumps(schema["components"]["schemas"])
    assert '"kb"' in ask


# ------------------------------------------------------------------------------------------------------ the CLI


def test_cli_ingests_lists_and_asks_each_knowledge_base(asthma: Path, tmp_path: Path) -> None:
    import os
    import subprocess

    from test_cli import kbot_command

    env = {k: v for k, v in os.environ.items() if not k.startswith("KBOT_")}
    env.update(
        HF_HUB_OFFLINE="1",
        KBOT_INDEX_DIR=str(tmp_path / "index"),
        KBOT_SEEDS_DIR=str(ROOT / "seeds"),
        KBOT_KNOWLEDGE_BASES=json.dumps({"asthma": str(asthma), "empty": str(tmp_path / "missing")}),
        KBOT_MODEL_NAME=FakeEmbedder.name,
        KBOT_READER="false",
        KBOT_MIN_DENSE_SCORE="0.55",
    )

    def kbot(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*kbot_command(), *args], env=env, capture_output=True, text=True, timeout=300)

    ingest = kbot("ingest")
    assert ingest.returncode == 2  # "empty" has no folder: said, and the others are built all the same
    assert "default: built the index" in ingest.stdout and "asthma: built the index" in ingest.stdout
    assert "missing does not exist" in ingest.stderr and "Traceback" not in ingest.stderr
    listed = kbot("kbs").stdout.splitlines()
    assert [line.split()[0] for line in listed] == ["default", "asthma", "empty"]
    assert "Ask about asthma" in listed[1] and "2 articles" in listed[1] and "build " in listed[1]
    assert "no index yet: run kbot ingest --kb empty" in listed[2]
    answer = json.loads(kbot("ask", "--kb", "asthma", "--json", SIDE_EFFECTS).stdout)
    assert answer["quotes"][0]["source_id"] == "inhalers"
    unknown = kbot("ask", "--kb", "nope", "good evening to you")
    assert unknown.returncode == 2 and "no knowledge base named 'nope'" in unknown.stderr
    assert "asthma: the index is up to date" in kbot("ingest", "--kb", "asthma", "--if-needed").stdout


def test_a_crisis_gets_the_help_lines_even_when_its_knowledge_base_cannot_answer(
    make_settings: Callable[..., Settings], fake_index_dir: Path, asthma: Path
) -> None:
    settings = make_settings(index_dir=fake_index_dir, knowledge_bases={"asthma": asthma}, model_name=FakeEmbedder.name)
    with TestClient(create_app(settings, KbotService.load(settings, embedder=FakeEmbedder()))) as c:
        crisis = c.post("/v1/ask", json={"question": "i want to end my life tonight", "kb": "asthma"})
        unknown = c.post("/v1/ask", json={"question": "i want to end my life tonight", "kb": "nope"})
        other = c.post("/v1/ask", json={"question": "what does an inhaler do", "kb": "asthma"})
    for response in (crisis, unknown):
        assert response.status_code == 200 and response.json()["status"] == "crisis"
        assert response.json()["resources"][0]["phone"] == "988"
    assert other.status_code == 503
