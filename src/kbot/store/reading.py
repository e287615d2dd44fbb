"""What the curator's report reads from the store: outcomes per day, votes per quote, quoted articles and the stored
questions, for one knowledge base (or all) since a given hour. Plain values out; no rendering here."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from kbot.store.tables import AnswerRow, FeedbackRow, QuestionRow, QuoteRow

S = TypeVar("S")  # a Select of any columns (its generic parameters differ between SQLAlchemy 2.0 and 2.1)


@dataclass(frozen=True)
class Window:
    since: datetime  # naive UTC, like the stored hours
    kb: str | None = None  # None: every knowledge base

    def answers(self, statement: S) -> S:
        """``statement`` limited to the answers of this window."""
        query: Select[Any] = cast(Any, statement).where(AnswerRow.hour >= self.since)
        return cast(S, query.where(AnswerRow.kb == self.kb) if self.kb else query)


@dataclass
class QuoteVotes:
    """The votes on answers that quoted one span of one article."""

    source_id: str
    start: int
    end: int
    down: int = 0
    up: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    comments: list[str] = field(default_factory=list)  # scrubbed when stored


def outcomes_per_day(session: Session, window: Window) -> dict[date, Counter[str]]:
    """How many answers of each status, day by day."""
    rows = session.execute(window.answers(select(AnswerRow.hour, AnswerRow.status)))
    days: dict[date, Counter[str]] = defaultdict(Counter)
    for hour, status in rows:
        days[hour.date()][status] += 1
    return dict(sorted(days.items()))


def votes(session: Session, window: Window) -> tuple[int, int]:
    """Thumbs up and thumbs down on the window's answers."""
    statement = window.answers(select(FeedbackRow.helpful, func.count()).join(AnswerRow).group_by(FeedbackRow.helpful))
    counts = {bool(helpful): int(n) for helpful, n in session.execute(statement)}
    return counts.get(True, 0), counts.get(False, 0)


def quote_votes(session: Session, window: Window) -> list[QuoteVotes]:
    """Every quoted span that was voted on, the most voted down first."""
    statement = window.answers(
        select(
            QuoteRow.source_id,
            QuoteRow.start,
            QuoteRow.end,
            FeedbackRow.helpful,
            FeedbackRow.reason,
            FeedbackRow.comment,
        )
        .join(AnswerRow, QuoteRow.answer_id == AnswerRow.id)
        .join(FeedbackRow, FeedbackRow.answer_id == AnswerRow.id)
    )
    spans: dict[tuple[str, int, int], QuoteVotes] = {}
    for source_id, start, end, helpful, reason, comment in session.execute(statement):
        entry = spans.setdefault((source_id, start, end), QuoteVotes(source_id, start, end))
        if helpful:
            entry.up += 1
        else:
            entry.down += 1
            entry.reasons[reason or "no reason given"] += 1
            if comment:
                entry.comments.append(comment)
    return sorted(spans.values(), key=lambda v: (-v.down, v.up, v.source_id, v.start))


def quoted_sources(session: Session, window: Window) -> set[str]:
    statement = window.answers(select(QuoteRow.source_id).join(AnswerRow).distinct())
    return set(session.scalars(statement))


def stored_questions(session: Session, window: Window) -> list[tuple[str, str]]:
    """The stored (scrubbed) questions and why each was kept: ``no_answer`` or ``thumbs_down``."""
    statement = window.answers(select(QuestionRow.text, QuestionRow.why).join(AnswerRow))
    return [(str(text), str(why)) for text, why in session.execute(statement)]
