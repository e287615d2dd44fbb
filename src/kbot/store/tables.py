"""The database's tables (SQLAlchemy 2 declarative models). Their history is in ``migrations/`` (Alembic): a change
here needs a new migration there (``alembic revision --autogenerate``, see the README's Privacy section).

Times are naive UTC, truncated to the hour: when an answer was given is kept no more precisely than that.
No table has a column for the question, except ``questions``, which only an opted-in clinic fills (scrubbed).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class AnswerRow(Base):
    """One answer given: its knowledge base, status and the scores that decided it."""

    __tablename__ = "answers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    hour: Mapped[datetime] = mapped_column(DateTime(), index=True)
    kb: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16))
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)


class QuoteRow(Base):
    """One quote of an answer: which article, where in it, its ranking score."""

    __tablename__ = "quotes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    answer_id: Mapped[str] = mapped_column(ForeignKey("answers.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    source_id: Mapped[str] = mapped_column(String(200), index=True)
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)


class FeedbackRow(Base):
    """A patient's vote on an answer: one per answer. ``comment`` is scrubbed, and deleted after the retention."""

    __tablename__ = "feedback"

    answer_id: Mapped[str] = mapped_column(ForeignKey("answers.id", ondelete="CASCADE"), primary_key=True)
    hour: Mapped[datetime] = mapped_column(DateTime(), index=True)
    helpful: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(String(32))
    comment: Mapped[str | None] = mapped_column(Text)


class QuestionRow(Base):
    """The scrubbed text of a question that was not answered or got a thumbs-down: only with KBOT_STORE_QUESTIONS,
    deleted after KBOT_QUESTION_RETENTION_DAYS."""

    __tablename__ = "questions"

    answer_id: Mapped[str] = mapped_column(ForeignKey("answers.id", ondelete="CASCADE"), primary_key=True)
    hour: Mapped[datetime] = mapped_column(DateTime(), index=True)
    why: Mapped[str] = mapped_column(String(16))  # "no_answer" or "thumbs_down"
    text: Mapped[str] = mapped_column(Text)
