"""What the curator's report says, gathered from the store and the knowledge base's folder: outcome rates per day,
the quotes voted least helpful (their exact text, read from the article), the articles never quoted, and the stored
unanswered questions grouped by similarity."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt
from sqlalchemy.orm import Session

from kbot.catalog import load_catalog
from kbot.config import Settings
from kbot.domain import SourceMeta, Status
from kbot.errors import KbotError
from kbot.knowledge_base import folder_of
from kbot.report.grouping import group
from kbot.store import REASON_LABELS
from kbot.store import reading as r
from kbot.store.records import this_hour

Embed = Callable[[Sequence[str]], npt.NDArray[np.floating]]
STATUSES = tuple(s.value for s in Status)
MAX_QUOTES = 10
MAX_COMMENTS = 5  # per quote
_SINCE = re.compile(r"^\s*(\d{1,4})\s*([hdw])\s*$")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


class InvalidPeriod(KbotError):
    """A --since that is not a number of hours, days or weeks."""


def parse_since(value: str) -> timedelta:
    """``"30d"``, ``"12h"`` or ``"2w"`` as a timedelta."""
    found = _SINCE.match(value)
    if not found or int(found.group(1)) == 0:
        raise InvalidPeriod("The period must be a number of hours, days or weeks, such as 12h, 30d or 2w.")
    return timedelta(**{_UNITS[found.group(2)]: int(found.group(1))})


@dataclass(frozen=True)
class QuoteLine:
    text: str
    title: str
    source_id: str
    down: int
    up: int
    reasons: list[tuple[str, int]]
    comments: list[str]


@dataclass(frozen=True)
class Report:
    kb: str
    since: datetime
    generated: datetime
    days: dict[date, Counter[str]]
    totals: Counter[str]
    up: int
    down: int
    least_helpful: list[QuoteLine]
    never_quoted: list[SourceMeta]
    questions_stored: bool
    groups: list[list[str]]  # unanswered (no_answer or thumbs-down) questions, the largest group first

    @property
    def answers(self) -> int:
        return sum(self.totals.values())

    def rate(self, status: str) -> float:
        return self.totals[status] / self.answers if self.answers else 0.0


def gather(settings: Settings, session: Session, kb: str, period: timedelta, embed: Embed | None) -> Report:
    """The report on ``kb`` over the last ``period``; ``embed`` (loaded only when needed) groups stored questions."""
    folder = folder_of(settings, kb)
    catalog = {m.id: m for m in load_catalog(folder)}
    window = r.Window(this_hour() - period, kb)
    days = r.outcomes_per_day(session, window)
    up, down = r.votes(session, window)
    quoted = r.quoted_sources(session, window)
    questions = [text for text, _why in r.stored_questions(session, window)]
    return Report(
        kb=kb,
        since=window.since,
        generated=datetime.now().astimezone(),
        days=days,
        totals=sum(days.values(), Counter()),
        up=up,
        down=down,
        least_helpful=_least_helpful(r.quote_votes(session, window), catalog, folder),
        never_quoted=[m for m in catalog.values() if m.id not in quoted],
        questions_stored=settings.store_questions,
        groups=group(questions, embed(questions)) if questions and embed is not None else [[q] for q in questions],
    )


def _least_helpful(votes: list[r.QuoteVotes], catalog: dict[str, SourceMeta], folder: Path) -> list[QuoteLine]:
    lines = []
    for v in votes:
        meta = catalog.get(v.source_id)
        if v.down == 0 or meta is None:  # an article since removed from the knowledge base has no text to show
            continue
        with (folder / meta.file).open(encoding="utf-8", newline="") as f:
            text = f.read()[v.start : v.end]  # the quote exactly as it was given
        reasons = [(REASON_LABELS.get(reason, reason), n) for reason, n in v.reasons.most_common()]
        lines.append(QuoteLine(text, meta.title, meta.id, v.down, v.up, reasons, v.comments[:MAX_COMMENTS]))
    return lines[:MAX_QUOTES]
