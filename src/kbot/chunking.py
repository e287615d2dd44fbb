"""From cleaned documents to the index's two tables: every sentence of the corpus, and passages of a few sentences.

Passages never cross a section, so each is embedded with its own heading and its article's title as context.
Only sentences of paragraphs, list items and FAQ answers can be quoted; headings and questions are kept as context
(and as suggestions of what kbot can answer). A sentence that overlaps a fragment of its article's ``do_not_quote``
(seeds/sources.toml), or that advertises (``clean.promotional_sentence``: a phone number, a promo code), is withheld:
it stays in the tables, but is never quoted, in a passage, or a suggestion.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby

from kbot.clean import promotional_sentence
from kbot.domain import BlockKind, Document, Passage

Span = tuple[int, int]

QUOTABLE_KINDS = frozenset({BlockKind.PARAGRAPH, BlockKind.LIST_ITEM, BlockKind.FAQ_ANSWER})
QUESTION_KINDS = frozenset({BlockKind.HEADING, BlockKind.FAQ_QUESTION, BlockKind.TITLE})


@dataclass(frozen=True, slots=True)  # slots: a large library holds hundreds of thousands
class SentenceRow:
    """One sentence of the corpus, as the index stores it."""

    id: int
    source_id: str
    block: int
    kind: BlockKind
    section: str
    start: int
    end: int
    text: str
    withheld: bool = False  # overlaps a do_not_quote fragment of its article

    @property
    def quotable(self) -> bool:
        return self.kind in QUOTABLE_KINDS and not self.text.rstrip().endswith("?") and not self.withheld

    @property
    def is_question(self) -> bool:
        return self.kind in QUESTION_KINDS and self.text.rstrip().endswith("?") and not self.withheld


def withheld_spans(doc: Document) -> list[Span]:
    """Every occurrence, overlapping ones included, of every do_not_quote fragment in the article's text."""
    spans: list[Span] = []
    for fragment in doc.meta.do_not_quote:
        at = doc.text.find(fragment)
        while fragment and at >= 0:
            spans.append((at, at + len(fragment)))
            at = doc.text.find(fragment, at + 1)
    return spans


def sentence_rows(documents: Iterable[Document]) -> list[SentenceRow]:
    rows: list[SentenceRow] = []
    for doc in documents:
        blocks = {b.index: b for b in doc.blocks}
        withheld = withheld_spans(doc)
        for s in doc.sentences:
            block = blocks[s.block]
            hidden = any(a < s.end and s.start < b for a, b in withheld) or bool(promotional_sentence(s.text))
            rows.append(
                SentenceRow(len(rows), doc.meta.id, s.block, block.kind, block.section, s.start, s.end, s.text, hidden)
            )
    return rows


def _windows(items: Sequence[SentenceRow], size: int) -> Iterator[Sequence[SentenceRow]]:
    """Windows of ``size`` sentences, overlapping by one so every adjacent pair shares a window."""
    stride = max(1, size - 1)
    start = 0
    while True:
        yield items[start : start + size]
        if start + size >= len(items):
            return
        start += stride


def make_passages(rows: Sequence[SentenceRow], size: int) -> list[Passage]:
    quotable = [r for r in rows if r.quotable]
    passages: list[Passage] = []
    for (source_id, section), group in groupby(quotable, key=lambda r: (r.source_id, r.section)):
        for window in _windows(list(group), size):
            passages.append(
                Passage(
                    id=len(passages),
                    source_id=source_id,
                    section=section,
                    sentence_ids=tuple(r.id for r in window),
                    start=window[0].start,
                    end=window[-1].end,
                    text=" ".join(r.text for r in window),
                )
            )
    return passages


GENERIC_HEADING_ARTICLES = 3  # a heading found in this many articles ("Symptoms", "Causes") names no subject


def situated(rows: Sequence[SentenceRow], titles: Mapping[str, str]) -> list[str]:
    """Each sentence's heading as the index reads it: led by its article's title ("Acromegaly: Symptoms") when the
    heading is one that several articles share, so that it says which article's symptoms these are. ``titles``: each
    article's title by source id. Headings of one article only ("How does X work?") stay as they are."""
    articles: dict[str, set[str]] = {}
    for r in rows:
        articles.setdefault(r.section.casefold(), set()).add(r.source_id)
    return [
        f"{titles[r.source_id]}: {r.section}"
        if r.section and len(articles[r.section.casefold()]) >= GENERIC_HEADING_ARTICLES
        else r.section
        for r in rows
    ]
