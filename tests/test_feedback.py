"""Feedback and what is stored, through the real HTTP app, on SQLite and on a real PostgreSQL server: answer ids, votes
and their refusals, and the privacy promise (no question text in the database unless the clinic opted in)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

import databases
from kbot.api import create_app
from kbot.api.schemas import AnswerOut, ErrorResponse
from kbot.config import Settings
from kbot.embedding import FakeEmbedder
from kbot.service import KbotService
from kbot.store.database import database_url as resolved_url
from kbot.store.records import purge, this_hour
from kbot.store.tables import AnswerRow, FeedbackRow, QuestionRow, QuoteRow

ANSWERED = "Is ketamine an opioid?"
ANSWERED_TOO = "Does ketamine act on opioid receptors in the brain?"
NO_ANSWER = "What is the capital of France? Call me at 555-867-5309"
DECLINED = "How much ketamine should I take?"
CRISIS = "I want to kill myself"
database_url = databases.database_url  # fixtures: each test on SQLite and on PostgreSQL
postgres = databases.postgres
dump = databases.dump
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
SECRET = "MY-PRIVATE-DIAGNOSIS-7781"  # stands for a patient's health information: never echoed


@contextmanager
def app_client(settings: Settings, service: KbotService) -> Iterator[TestClient]:
    with TestClient(create_app(settings, service)) as client:
        yield client


@pytest.fixture
def make_client(
    make_settings: Callable[..., Settings], fake_index_dir: Path, fake_service: KbotService, database_url: str
) -> Callable[..., Any]:
    def make(**overrides: Any) -> Any:
        values = {"index_dir": fake_index_dir, "model_name": FakeEmbedder.name, "database_url": database_url}
        settings = make_settings(**{**values, **overrides})
        return app_client(settings, fake_service)

    return make


def ask(client: TestClient, question: str, status: str) -> str:
    response = client.post("/v1/ask", json={"question": question})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == status
    return str(response.json()["answer_id"])


def vote(client: TestClient, **body: Any) -> Any:
    return client.post("/v1/feedback", json=body)


def flush(client: TestClient) -> None:
    store = client.app.state.kbot.store  # type: ignore[attr-defined]
    store.flush()


def session(url: str) -> Session:
    return Session(create_engine(url.replace("postgresql://", "postgresql+psycopg://")))


def assert_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert ErrorResponse.model_validate(response.json()).error.code == code


def test_every_answer_gets_its_own_random_id(make_client: Callable[..., Any]) -> None:
    with make_client() as client:
        bodies = [client.post("/v1/ask", json={"question": ANSWERED}).json() for _ in range(2)]  # the 2nd is cached
    for body in bodies:
        AnswerOut.model_validate(body)
        assert len(body["answer_id"]) >= 20 and ANSWERED not in body["answer_id"]
    assert bodies[0]["answer_id"] != bodies[1]["answer_id"]


def test_a_vote_is_stored_with_its_reason_and_scrubbed_comment(
    make_client: Callable[..., Any], database_url: str
) -> None:
    with make_client() as client:
        answer_id = ask(client, ANSWERED, "answered")
        comment = "Too vague. Reach me at jo@example.org"
        response = vote(client, answer_id=answer_id, helpful=False, reason="hard_to_understand", comment=comment)
        assert response.status_code == 202 and response.json() == {"status": "accepted"}
        flush(client)
    with session(database_url) as db:
        answer = db.get(AnswerRow, answer_id)
        stored = db.get(FeedbackRow, answer_id)
        quotes = db.scalars(select(QuoteRow).where(QuoteRow.answer_id == answer_id)).all()
    assert answer is not None and answer.status == "answered" and answer.kb == "default"
    assert answer.hour.minute == 0 and answer.hour.second == 0 and "top_dense" in answer.evidence
    assert quotes and all(q.end > q.start for q in quotes)
    assert stored is not None and stored.helpful is False and stored.reason == "hard_to_understand"
    assert stored.comment == "Too vague. Reach me at [email]"


@SQLITE_ONLY  # the refusals are the API's; one database is enough
def test_a_second_vote_and_an_unknown_id_are_refused(make_client: Callable[..., Any]) -> None:
    with make_client() as client:
        answer_id = ask(client, ANSWERED, "answered")
        assert vote(client, answer_id=answer_id, helpful=True).status_code == 202
        assert_error(vote(client, answer_id=answer_id, helpful=False), 409, "already_voted")
        refused = vote(client, answer_id=SECRET, helpful=True)
        assert_error(refused, 404, "unknown_answer")
        assert SECRET not in refused.text


def test_an_answer_too_old_to_vote_on_is_refused(make_client: Callable[..., Any], database_url: str) -> None:
    with make_client(feedback_window_hours=1) as client:
        answer_id = ask(client, ANSWERED, "answered")
        flush(client)
        with session(database_url) as db, db.begin():
            db.execute(text("UPDATE answers SET hour = :h"), {"h": this_hour() - timedelta(hours=3)})
        assert_error(vote(client, answer_id=answer_id, helpful=True), 404, "unknown_answer")


BAD_VOTES = [
    ({"helpful": True}, "answer_id"),
    ({"answer_id": "x"}, "helpful"),
    ({"answer_id": "x", "helpful": "yes " + SECRET}, "helpful"),
    ({"answer_id": "x", "helpful": False, "reason": SECRET}, "reason"),
    ({"answer_id": "x", "helpful": False, "comment": SECRET * 30}, "comment"),
    ({"answer_id": SECRET * 5, "helpful": False}, "answer_id"),
    ({"answer_id": "x", "helpful": False, SECRET: 1}, SECRET),
]


@SQLITE_ONLY
@pytest.mark.parametrize(("body", "field"), BAD_VOTES)
def test_a_malformed_vote_gets_a_clear_422_that_never_echoes_it(
    make_client: Callable[..., Any], body: dict[str, Any], field: str
) -> None:
    with make_client() as client:
        response = vote(client, **body)
    assert_error(response, 422, "invalid_request")
    assert SECRET not in response.text
    fields = response.json()["error"]["fields"]
    assert field in fields or field == SECRET, fields


def session_of_questions(client: TestClient) -> None:
    """Every outcome, and votes both ways."""
    down = ask(client, ANSWERED, "answered")
    up = ask(client, ANSWERED_TOO, "answered")
    ask(client, NO_ANSWER, "no_answer")
    ask(client, DECLINED, "declined")
    crisis = ask(client, CRISIS, "crisis")
    assert vote(client, answer_id=down, helpful=False, reason="did_not_answer").status_code == 202
    assert vote(client, answer_id=up, helpful=True, reason="other").status_code == 202  # the reason is ignored
    assert vote(client, answer_id=crisis, helpful=False).status_code == 202
    flush(client)


def test_no_question_text_is_stored_by_default(make_client: Callable[..., Any], database_url: str) -> None:
    with make_client() as client:
        session_of_questions(client)
    everything = dump(database_url)
    assert "INSERT INTO" in everything or "COPY " in everything  # the dump holds the rows
    assert "did_not_answer" in everything
    for question in (ANSWERED, ANSWERED_TOO, NO_ANSWER, DECLINED, CRISIS):
        assert question not in everything
    for fragment in ("capital of France", "555-867-5309", "opioid?", "kill myself", "should I take"):
        assert fragment not in everything


def test_opted_in_questions_are_kept_scrubbed_for_no_answer_and_thumbs_down_only(
    make_client: Callable[..., Any], database_url: str
) -> None:
    with make_client(store_questions=True) as client:
        session_of_questions(client)
    everything = dump(database_url)
    assert ANSWERED in everything  # thumbs-down
    assert "What is the capital of France? Call me at [phone]" in everything  # no_answer, scrubbed
    assert "555-867-5309" not in everything
    for question in (ANSWERED_TOO, DECLINED, CRISIS):  # thumbs-up, no vote, and a crisis is never kept
        assert question not in everything
    with session(database_url) as db:
        kept = {row.why: row.text for row in db.scalars(select(QuestionRow))}
    assert kept == {"thumbs_down": ANSWERED, "no_answer": "What is the capital of France? Call me at [phone]"}
    with session(database_url) as db:
        votes = {(row.helpful, row.reason) for row in db.scalars(select(FeedbackRow))}
    assert votes == {(False, "did_not_answer"), (True, None), (False, None)}  # a thumbs-up carries no reason


def test_questions_and_comments_are_deleted_after_the_retention(
    make_settings: Callable[..., Settings], database_url: str
) -> None:
    from kbot.store import Store

    store = Store(make_settings(database_url=database_url, store_questions=True))
    assert store.open()  # migrated; closed again so that its own hourly purge cannot race the one measured here
    store.close()
    old = this_hour() - timedelta(days=31)
    with session(database_url) as db, db.begin():
        for answer_id, hour in (("old", old), ("new", this_hour())):
            db.add(AnswerRow(id=answer_id, hour=hour, kb="default", status="no_answer", evidence={}))
            db.flush()
            db.add(QuestionRow(answer_id=answer_id, hour=hour, why="no_answer", text=f"{answer_id} question"))
            db.add(FeedbackRow(answer_id=answer_id, hour=hour, helpful=False, reason="other", comment="a comment"))
    with session(database_url) as db, db.begin():
        assert purge(db, retention=timedelta(days=30)) == 1
    with session(database_url) as db:
        assert db.scalars(select(QuestionRow.text)).all() == ["new question"]
        comments = {
            answer_id: comment for answer_id, comment in db.execute(select(FeedbackRow.answer_id, FeedbackRow.comment))
        }
    assert comments == {"old": None, "new": "a comment"}  # the vote stays, its words go


def test_queued_answers_share_a_transaction_and_a_bad_one_loses_only_itself(
    make_settings: Callable[..., Settings], fake_service: KbotService, database_url: str
) -> None:
    import dataclasses
    import threading

    from sqlalchemy import event

    from kbot.store import Store
    from kbot.store.records import Vote

    store = Store(make_settings(database_url=database_url))
    assert store.open()
    assert store.engine is not None
    commits: list[int] = []
    event.listen(store.engine, "commit", lambda _connection: commits.append(1))
    try:
        answered = fake_service.ask(ANSWERED)
        answers = [dataclasses.replace(answered, answer_id=f"a{i:03d}") for i in range(60)]

        def busy(started: threading.Event, release: threading.Event) -> None:
            started.set()
            release.wait(10)

        def queued(write: Callable[[], Any]) -> None:
            # The writer is inside a job (so past its first purge and past taking what was queued before): all
            # that follows queues behind it and is taken in one go once it is released.
            started, release = threading.Event(), threading.Event()
            store.submit(lambda _session: busy(started, release))
            assert started.wait(10)
            write()
            commits.clear()
            release.set()
            store.flush()

        queued(lambda: [store.record(answer, "default") for answer in answers[:30]])
        assert len(commits) == 1  # the 30 records in one transaction (the jobs around them use no connection)
        voted: list[Any] = []
        queued(
            lambda: [
                *(store.record(answer, "default") for answer in answers[30:45]),
                store.record(answers[7], "default"),  # the same id again: it cannot be written
                voted.append(store.vote(Vote("a040", helpful=True))),  # queued after its answer, written after it
                *(store.record(answer, "default") for answer in answers[45:]),
            ]
        )
        voted[0].result(timeout=10)
        assert store.failures == 1  # the duplicate, and nothing else: its group was written again one by one
    finally:
        store.close()
    with session(database_url) as db:
        assert sorted(db.scalars(select(AnswerRow.id))) == [a.answer_id for a in answers]
        assert db.scalar(select(text("count(*)")).select_from(QuoteRow)) == 60 * len(answered.quotes)
        assert [row.answer_id for row in db.scalars(select(FeedbackRow))] == ["a040"]


@SQLITE_ONLY
def test_a_database_that_cannot_be_used_never_fails_an_answer(make_client: Callable[..., Any], tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    with make_client(database_url=f"sqlite:///{blocked}/kbot.db") as client:
        answer_id = ask(client, ANSWERED, "answered")
        assert_error(vote(client, answer_id=answer_id, helpful=True), 503, "store_unavailable")
        store = client.get("/readyz").json()["store"]
    assert store["status"] == "unavailable" and store["dropped"] >= 2


@SQLITE_ONLY
def test_a_database_that_comes_up_later_is_used_once_it_is(
    make_client: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from kbot.api import app as api

    monkeypatch.setattr(api, "STORE_RETRY_S", 0.05)
    folder = tmp_path / "later"
    folder.write_text("")  # not a folder yet: the database cannot be opened
    with make_client(database_url=f"sqlite:///{folder}/kbot.db") as client:
        assert client.get("/readyz").json()["store"]["status"] == "unavailable"
        folder.unlink()
        folder.mkdir()
        deadline = time.monotonic() + 10
        while client.get("/readyz").json()["store"]["status"] != "ok":
            assert time.monotonic() < deadline, "the store was not opened again"
            time.sleep(0.05)
        answer_id = ask(client, ANSWERED, "answered")
        assert vote(client, answer_id=answer_id, helpful=True).status_code == 202


@SQLITE_ONLY
def test_a_failed_write_is_logged_and_counted_not_raised(make_client: Callable[..., Any], database_url: str) -> None:
    with make_client() as client:
        flush(client)
        with session(database_url) as db, db.begin():
            db.execute(text("DROP TABLE quotes"))
        ask(client, ANSWERED, "answered")  # its quotes cannot be written
        flush(client)
        assert client.get("/readyz").json()["store"]["write_failures"] == 1


def test_the_default_database_is_sqlite_under_var(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    assert resolved_url(settings) == f"sqlite:///{settings.var_dir / 'kbot.db'}"
    assert resolved_url(make_settings(database_url="postgresql://u@h/db")) == "postgresql+psycopg://u@h/db"


def test_migrations_bring_an_empty_database_to_head_and_run_again_as_a_no_op(
    make_settings: Callable[..., Settings], database_url: str
) -> None:
    from sqlalchemy import inspect

    from kbot.store.database import prepare

    settings = make_settings(database_url=database_url)
    prepare(settings)
    prepare(settings)  # kbot serve, then each worker: already at head
    engine = create_engine(resolved_url(settings))
    assert {"answers", "quotes", "feedback", "questions", "alembic_version"} <= set(inspect(engine).get_table_names())
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0001"
    engine.dispose()
