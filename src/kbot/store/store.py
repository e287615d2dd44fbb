"""The store the API writes to: every write runs in one background thread, off the request path, so that a slow or
broken database never slows or fails a patient's answer. Failures are logged and counted (``/readyz`` shows them).

An opted-in clinic (KBOT_STORE_QUESTIONS) keeps the scrubbed text of a question that gets a thumbs-down: the text waits
in this process's memory, for the feedback window at most, until a vote comes or it expires. Only a vote that reaches
the process that gave the answer can keep it (with several workers or replicas, some cannot; the vote itself counts).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from kbot.config import Settings
from kbot.domain import Answer, Status
from kbot.errors import FeedbackRefused
from kbot.store import records
from kbot.store.database import make_engine, migrate
from kbot.store.scrub import scrub

log = logging.getLogger("kbot.store")
T = TypeVar("T")
QUEUE_SIZE = 10_000  # writes waiting; beyond it they are dropped (and counted), never waited for
# Answer records written in one transaction, one INSERT per table (SQLite, groups of four: 0.19 ms of CPU a record,
# 0.56 with an INSERT per row; groups of forty: 0.07 against 0.47)
GROUP_MAX = 256
PURGE_EVERY_S = 3600.0
PENDING_MAX = 10_000
UNAVAILABLE = "Feedback cannot be saved right now; please try again later"


class Store:
    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        self.settings = settings
        self.engine = engine
        self.window = timedelta(hours=settings.feedback_window_hours)
        self.retention = timedelta(days=settings.question_retention_days)
        self.failures = 0  # writes that failed (logged)
        self.dropped = 0  # writes not even attempted: the queue was full or the database never opened
        self.ready = False
        self._sessions: sessionmaker[Session] | None = None
        self._jobs: queue.Queue[_Job | None] = queue.Queue(QUEUE_SIZE)
        self._pending: OrderedDict[str, tuple[str, float]] = OrderedDict()  # answer id -> scrubbed question, expiry
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._next_purge = 0.0

    # --- lifecycle ------------------------------------------------------------------------------------------------

    def open(self) -> bool:
        """Connect, migrate (``alembic upgrade head``) and start the writer; False (logged) if the database cannot
        be used: kbot then answers as usual and counts what it could not store."""
        try:
            self.engine = self.engine or make_engine(self.settings)
            migrate(self.engine)
        except Exception as exc:
            log.error("the database cannot be used, nothing is stored until it can: %s", type(exc).__name__)
            log.debug("database error", exc_info=True)
            return False
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._thread = threading.Thread(target=self._run, name="kbot-store", daemon=True)
        self._thread.start()
        self.ready = True
        return True

    def close(self) -> None:
        """Write what is queued, then stop the writer."""
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join(timeout=30)
            self._thread = None
        self.ready = False
        if self.engine is not None:
            self.engine.dispose()

    def flush(self) -> None:
        """Wait until every queued write is done (tests, the report, shutdown)."""
        self.submit(lambda _session: None).result(timeout=30)

    # --- what the API calls ---------------------------------------------------------------------------------------

    def record(self, answer: Answer, kb: str) -> None:
        """Queue the record of ``answer`` (never blocks, never raises)."""
        keep = self.settings.store_questions
        try:
            record = records.AnswerRecord.of(answer, kb, keep_question=keep)
            if keep and answer.status in (Status.ANSWERED, Status.DECLINED):
                self._remember(answer.answer_id, scrub(answer.question))
            self._put(_Job(None, Future(), record))
        except Exception:
            log.exception("recording an answer failed")
            self.failures += 1

    def vote(self, vote: records.Vote) -> Future[None]:
        """Queue ``vote``; its future raises FeedbackRefused when kbot cannot take it."""
        question = self._recall(vote.answer_id)  # forgotten either way: only a thumbs-down keeps it
        if vote.helpful:
            question = None
        now = datetime.now(UTC)
        return self.submit(
            lambda session: records.write_vote(session, vote, window=self.window, question=question, now=now)
        )

    def submit(self, job: Callable[[Session], T]) -> Future[T]:
        """Queue ``job``, to run in a transaction of its own."""
        return self._put(_Job(job, Future()))

    def _put(self, item: _Job) -> Future[Any]:
        if not self.ready:
            self.dropped += 1
            item.future.set_exception(FeedbackRefused("store_unavailable", UNAVAILABLE))
            return item.future
        try:
            self._jobs.put_nowait(item)
        except queue.Full:
            self.dropped += 1
            item.future.set_exception(FeedbackRefused("store_unavailable", UNAVAILABLE))
        return item.future

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.ready else "unavailable",
            "write_failures": self.failures,
            "dropped": self.dropped,
        }

    # --- the writer thread ----------------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            self._purge_when_due()
            try:
                items = [self._jobs.get(timeout=PURGE_EVERY_S)]
            except queue.Empty:
                continue
            while len(items) < GROUP_MAX:  # what else is queued, written in order
                try:
                    items.append(self._jobs.get_nowait())
                except queue.Empty:
                    break
            group: list[tuple[records.AnswerRecord, Future[Any]]] = []
            for item in items:
                if item is not None and item.record is not None:
                    group.append((item.record, item.future))
                    continue
                self._write_group(group)
                group = []
                if item is None:
                    return
                assert item.job is not None
                self._execute(item.job, item.future)
            self._write_group(group)

    def _write_group(self, group: list[tuple[records.AnswerRecord, Future[Any]]]) -> None:
        """Answer records in one transaction, one INSERT per table; if it fails, each alone, so that one bad record
        loses only itself."""
        assert self._sessions is not None
        if len(group) > 1:
            try:
                with self._sessions.begin() as session:
                    records.write_answers(session, [record for record, _ in group])
            except Exception:
                log.debug("a group of %d records failed, writing them one by one", len(group), exc_info=True)
            else:
                for _, future in group:
                    future.set_result(None)
                return
        for record, future in group:
            self._execute(partial(records.write_answers, written=[record]), future)

    def _execute(self, job: Callable[[Session], Any], future: Future[Any]) -> None:
        assert self._sessions is not None
        try:
            with self._sessions.begin() as session:
                result = job(session)
        except FeedbackRefused as exc:
            future.set_exception(exc)
        except Exception as exc:
            self.failures += 1
            log.error("a database write failed: %s", type(exc).__name__)
            log.debug("database write error", exc_info=True)
            future.set_exception(FeedbackRefused("store_unavailable", UNAVAILABLE))
        else:
            future.set_result(result)

    def _purge_when_due(self) -> None:
        if time.monotonic() < self._next_purge:
            return
        self._next_purge = time.monotonic() + PURGE_EVERY_S
        self._execute(lambda session: records.purge(session, retention=self.retention), Future())

    # --- questions waiting for a thumbs-down ----------------------------------------------------------------------

    def _remember(self, answer_id: str, text: str) -> None:
        with self._lock:
            self._pending[answer_id] = (text, time.monotonic() + self.window.total_seconds())
            while len(self._pending) > PENDING_MAX:
                self._pending.popitem(last=False)

    def _recall(self, answer_id: str) -> str | None:
        with self._lock:
            text, expiry = self._pending.pop(answer_id, ("", 0.0))
        return text if text and expiry > time.monotonic() else None


class _Job(NamedTuple):
    """A write: ``job`` in a transaction of its own, or an answer's ``record``, written with those queued beside it."""

    job: Callable[[Session], Any] | None
    future: Future[Any]
    record: records.AnswerRecord | None = None
