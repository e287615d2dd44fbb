"""What is written about an answer and a vote, and the writes themselves (each in one transaction).

An answer's record holds no question text; ``question`` is filled only when the clinic opted in
(KBOT_STORE_QUESTIONS) and the answer was ``no_answer``, and then it is scrubbed first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, get_args

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kbot.domain import Answer, Status
from kbot.errors import FeedbackRefused
from kbot.store.scrub import scrub
from kbot.store.tables import AnswerRow, FeedbackRow, QuestionRow, QuoteRow

Reason = Literal["did_not_answer", "wrong_or_misleading", "hard_to_understand", "out_of_date", "other"]
REASONS: tuple[Reason, ...] = get_args(Reason)
REASON_LABELS: dict[str, str] = {
    "did_not_answer": "It did not answer my question",
    "wrong_or_misleading": "It is wrong or misleading",
    "hard_to_understand": "It is hard to understand",
    "out_of_date": "It is out of date",
    "other": "Something else",
}
MAX_COMMENT_CHARS = 500
UNKNOWN = "This answer id is unknown or too old to vote on; vote on an answer within a day of asking"


def this_hour(now: datetime | None = None) -> datetime:
    """Now (or ``now``), in naive UTC, truncated to the hour: how precisely kbot keeps when anything happened."""
    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    return moment.replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class AnswerRecord:
    answer_id: str
    hour: datetime
    kb: str
    status: str
    evidence: dict[str, float]
    quotes: tuple[tuple[str, int, int, float], ...]  # source id, start, end, score
    question: str | None = None  # scrubbed; only for an opted-in clinic's no_answer

    @classmethod
    def of(cls, answer: Answer, kb: str, *, keep_question: bool, now: datetime | None = None) -> AnswerRecord:
        keep = keep_question and answer.status is Status.NO_ANSWER
        return cls(
            answer.answer_id,
            this_hour(now),
            kb,
            answer.status.value,
            dict(answer.evidence),
            tuple((q.source_id, q.start, q.end, q.score) for q in answer.quotes),
            scrub(answer.question) if keep else None,
        )


@dataclass(frozen=True)
class Vote:
    answer_id: str
    helpful: bool
    reason: Reason | None = None
    comment: str | None = None


def write_answers(session: Session, written: Sequence[AnswerRecord]) -> None:
    """The records' rows, one INSERT of many rows per table (the answers first: PostgreSQL checks the quotes' foreign
    key at once)."""
    session.execute(
        insert(AnswerRow),
        [{"id": r.answer_id, "hour": r.hour, "kb": r.kb, "status": r.status, "evidence": r.evidence} for r in written],
    )
    quotes = [
        {"answer_id": r.answer_id, "position": i, "source_id": source_id, "start": start, "end": end, "score": score}
        for r in written
        for i, (source_id, start, end, score) in enumerate(r.quotes)
    ]
    if quotes:
        session.execute(insert(QuoteRow), quotes)
    questions = [
        {"answer_id": r.answer_id, "hour": r.hour, "why": "no_answer", "text": r.question}
        for r in written
        if r.question is not None
    ]
    if questions:
        session.execute(insert(QuestionRow), questions)


def write_vote(session: Session, vote: Vote, *, window: timedelta, question: str | None, now: datetime) -> None:
    """Store ``vote``; FeedbackRefused if its answer is unknown or too old, or was voted on already. ``question``
    (scrubbed) is kept with a thumbs-down when the clinic opted in."""
    hour = this_hour(now)
    answer = session.get(AnswerRow, vote.answer_id)
    if answer is None or answer.hour < hour - window:
        raise FeedbackRefused("unknown_answer", UNKNOWN)
    comment = scrub(vote.comment.strip()) if vote.comment and vote.comment.strip() else None
    session.add(
        FeedbackRow(answer_id=vote.answer_id, hour=hour, helpful=vote.helpful, reason=vote.reason, comment=comment)
    )
    if question is not None and not vote.helpful and session.get(QuestionRow, vote.answer_id) is None:
        session.add(QuestionRow(answer_id=vote.answer_id, hour=hour, why="thumbs_down", text=question))
    try:
        session.flush()
    except IntegrityError:
        raise FeedbackRefused("already_voted", "This answer has been voted on already; one vote per answer") from None


def purge(session: Session, *, retention: timedelta, now: datetime | None = None) -> int:
    """Delete the questions and feedback comments older than ``retention``; the number of questions deleted."""
    cutoff = this_hour(now) - retention
    gone = session.execute(delete(QuestionRow).where(QuestionRow.hour < cutoff).returning(QuestionRow.answer_id))
    count = len(gone.all())
    session.execute(
        update(FeedbackRow).where(FeedbackRow.hour < cutoff, FeedbackRow.comment.is_not(None)).values(comment=None)
    )
    return count


def stored_questions(session: Session) -> list[str]:
    return list(session.scalars(select(QuestionRow.text)))
