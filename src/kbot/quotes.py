"""Choosing what to quote: the best candidate sentences, each extended to a neighbour when alone it would be cryptic,
with near-identical sentences from other sources folded into one quote ("also said by").

Every quote is a span of its source file: ``document.text[start:end] == text``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from kbot.chunking import SentenceRow
from kbot.domain import BlockKind, Document
from kbot.embedding import Vectors
from kbot.readability import fk_grade
from kbot.retrieval import Candidate

# A sentence that leans on the one before it: "However, ...", "This ...", "It ...", "He ..." (whose referent, a
# person or a thing, is named in the sentence before). Such a sentence is quoted with the one before it when it can.
_LEANS_BACK = re.compile(
    r"^[\"“‘']?(however|but|this|these|that|those|it|its|they|their|them|he|she|his|her|him|instead|therefore|thus|"
    r"also|additionally|moreover|furthermore|in turn|in other words|here|there|such|meanwhile|conversely|yes|no|"
    r"besides|likewise|similarly|still|yet|otherwise|hence|consequently)\b",
    re.IGNORECASE,
)


# Of those, the openings that name nobody the reader has met: alone, such a sentence never opens a reply.
# (A connective alone, "However, X is not Y.", still says what it says; measured on eval/calibration.jsonl.)
_NO_REFERENT = re.compile(r"^[\"“‘']?(he|she|his|her|him|they|their|them)\b", re.IGNORECASE)


def refers_back(text: str) -> bool:
    """Whether a sentence opens with a pronoun or connective whose referent is in the sentence before it."""
    return bool(_LEANS_BACK.match(text.lstrip()))


def names_nobody(text: str) -> bool:
    """Whether a sentence opens with a pronoun for someone only the sentence before it names ("He is not ...")."""
    return bool(_NO_REFERENT.match(text.lstrip()))


def _leads_in(row: SentenceRow) -> bool:
    """A sentence that introduces what follows it ("...such as:"): alone, it answers nothing."""
    return row.text.rstrip().endswith(":")


@dataclass(frozen=True)
class Selection:
    sentences: tuple[SentenceRow, ...]  # one or two adjacent sentences of one block, or a list's lead-in and its items
    candidate: Candidate
    also_in: tuple[str, ...]

    @property
    def start(self) -> int:
        return self.sentences[0].start

    @property
    def end(self) -> int:
        return self.sentences[-1].end


@dataclass(frozen=True)
class QuoteSelector:
    max_quotes: int = 3
    relative_floor: float = 0.75  # later quotes must score at least this share of the first
    duplicate_cosine: float = 0.88  # sentences this close say the same thing
    short_chars: int = 60  # a sentence shorter than this is extended to a neighbour
    max_chars: int = 320  # never extend past this
    neighbour_ratio: float = 0.9  # a neighbour scoring this share of the sentence also answers: quote both
    list_max_chars: int = 400  # a list's lead-in ("...such as:") with all its items, if they fit, is one quote
    # Readability as a tie-breaker: each school grade above plain_grade costs this much score, so that of two
    # sentences that answer about equally well the plainer comes first (chosen on eval/calibration.jsonl).
    # 0.002: on eval/calibration.jsonl's 184 graded questions (abstentions counted as misses), support@1 0.647 ->
    # 0.652, support@3 0.761 -> 0.755, the first quote's mean grade 15.8 -> 15.5; 0.005 and more lose support@1.
    readability_weight: float = 0.002
    plain_grade: float = 8.0

    def _ranked(self, candidates: Sequence[Candidate]) -> list[Candidate]:
        if not self.readability_weight:
            return list(candidates)

        def eased(c: Candidate) -> float:
            return c.score - self.readability_weight * max(0.0, fk_grade(c.row.text) - self.plain_grade)

        return sorted(candidates, key=eased, reverse=True)

    def _leans_back(self, row: SentenceRow) -> bool:
        return refers_back(row.text) or len(row.text) < self.short_chars

    def _same_block(self, row: SentenceRow, other: SentenceRow | None) -> SentenceRow | None:
        ok = other is not None and other.block == row.block and other.source_id == row.source_id and other.quotable
        return other if ok else None

    def _extend(
        self, row: SentenceRow, rows: Sequence[SentenceRow], scores: Mapping[int, float]
    ) -> tuple[SentenceRow, ...]:
        """Add the sentence before (or, for a block's first sentence, after) when this one alone is cryptic,
        or a neighbour that answers the question nearly as well."""
        before = self._same_block(row, rows[row.id - 1] if row.id > 0 else None)
        after = self._same_block(row, rows[row.id + 1] if row.id + 1 < len(rows) else None)
        if not self._leans_back(row):
            score = scores.get(row.id, 0.0)
            opens_well = before if before and not names_nobody(before.text) else None  # not "He ..." first
            best = max(
                (n for n in (opens_well, after) if n and scores.get(n.id, -1.0) >= self.neighbour_ratio * score),
                key=lambda n: scores[n.id],
                default=None,
            )
            if best is not None and max(row.end, best.end) - min(row.start, best.start) <= self.max_chars:
                return (best, row) if best.id < row.id else (row, best)
            return (row,)
        if before and row.end - before.start <= self.max_chars:
            return (before, row)
        if len(row.text) < self.short_chars and after and after.end - row.start <= self.max_chars:
            return (row, after)
        return (row,)

    def _list_span(self, row: SentenceRow, rows: Sequence[SentenceRow]) -> tuple[SentenceRow, ...] | None:
        """For a list's lead-in ("The medicine can cause side effects such as:") or one of its items: the lead-in
        and every item, one contiguous span of the article, when it fits in ``list_max_chars``; else None."""

        def follows(a: SentenceRow, b: SentenceRow) -> bool:  # b is the block right after a's, same article
            return a.source_id == b.source_id and b.block == a.block + 1 and a.quotable and b.quotable

        def is_item(i: int) -> bool:
            return 0 <= i < len(rows) and rows[i].kind == BlockKind.LIST_ITEM

        first = row.id + 1 if _leads_in(row) else row.id
        if not is_item(first) or (first != row.id and not follows(row, rows[first])):
            return None
        while is_item(first - 1) and follows(rows[first - 1], rows[first]):
            first -= 1
        lead = rows[first - 1] if first > 0 else None
        if lead is None or not _leads_in(lead) or not follows(lead, rows[first]):
            return None
        last = first
        while is_item(last + 1) and follows(rows[last], rows[last + 1]):
            last += 1
        if rows[last].end - lead.start > self.list_max_chars:
            return None
        return (lead, *rows[first : last + 1])

    def select(self, candidates: Sequence[Candidate], rows: Sequence[SentenceRow], vectors: Vectors) -> list[Selection]:
        chosen: list[Selection] = []
        used: set[int] = set()
        also: dict[int, list[str]] = {}
        if not candidates:
            return chosen
        floor = candidates[0].score * self.relative_floor
        scores = {c.row.id: c.score for c in candidates}
        for cand in self._ranked(candidates):
            if len(chosen) >= self.max_quotes:
                break
            if cand.score < floor:
                continue  # (the readability tie-break may rank a weak candidate before a stronger one)
            if cand.row.id in used:
                continue
            listed = self._list_span(cand.row, rows)
            if listed is None and _leads_in(cand.row):
                continue
            twin = self._twin(cand.row, chosen, vectors)
            if twin is not None:
                if cand.row.source_id != chosen[twin].sentences[0].source_id:
                    also.setdefault(twin, []).append(cand.row.source_id)
                continue
            span = listed or self._extend(cand.row, rows, scores)
            if any(s.id in used for s in span) or (not chosen and names_nobody(span[0].text)):
                continue  # a quote that opens on "He ..." without its referent is never the first thing read
            used.update(s.id for s in span)
            chosen.append(Selection(span, cand, ()))
        return [
            Selection(s.sentences, s.candidate, tuple(dict.fromkeys(also.get(i, [])))) for i, s in enumerate(chosen)
        ]

    def _twin(self, row: SentenceRow, chosen: Sequence[Selection], vectors: Vectors) -> int | None:
        v = np.asarray(vectors[row.id])
        for i, sel in enumerate(chosen):
            if any(float(np.dot(v, np.asarray(vectors[s.id]))) >= self.duplicate_cosine for s in sel.sentences):
                return i
        return None


def quote_text(selection: Selection, documents: Mapping[str, Document]) -> str:
    """The exact source slice a selection covers."""
    doc = documents[selection.sentences[0].source_id]
    return doc.text[selection.start : selection.end]
