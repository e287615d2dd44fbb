"""Terms a knowledge base defines: found at load time in its own sentences ("X is a ...", "X, a ...", "X refers to
..."), by their shape alone, so that an answer can offer a term's definition beside a quote that uses it.

A definition is a whole sentence of an article, so it is an exact span of its source like any quote. A term that
nearly every sentence names (the knowledge base's own subject) is left out: a popover on every other word helps no one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

from kbot.chunking import SentenceRow
from kbot.domain import GlossaryEntry, Quote

_TERM = r"(?P<term>[A-Za-z][\w-]*(?: [A-Za-z][\w-]*){0,3}?)"
_ABBR = r"(?: \((?P<abbr>[A-Za-z][\w-]{1,12})\))?"
_DEFINES = [  # matched at the sentence's start
    re.compile(rf"^(?:The |An? )?{_TERM}{_ABBR} (?:is|are|refers to|means) (?:a|an|the|any|one of|what)\b"),
    re.compile(rf"^(?:The |An? )?{_TERM}{_ABBR}, (?:a|an) [a-z]"),
]
_DEFINES_INSIDE = [  # searched anywhere: "..., insulin receptors, which are part of ...", "a process called X."
    re.compile(r"\b(?P<term>[A-Z][A-Za-z0-9-]*(?: [a-z][a-z-]+)?), which (?:is|are) (?:a|an|part of|the)\b"),
    re.compile(r"\b(?:a|an) \w+ (?:called|known as) (?P<term>[a-z][\w-]+(?: [a-z][\w-]+)?)[.,;]"),
]
# Words a term never holds: a verb or a function word means the pattern caught a clause, not a name.
_NOT_IN_TERMS = {
    "that",
    "has",
    "have",
    "had",
    "nor",
    "not",
    "was",
    "were",
    "is",
    "are",
    "and",
    "or",
    "of",
    "to",
    "in",
    "on",
    "with",
    "for",
    "by",
    "which",
    "who",
    "may",
    "can",
    "will",
    "also",
    "been",
    "be",
    "from",
    "as",
    "at",
}
# Words that open a sentence without naming a term: "It is a...", "This is the...", "What is a...".
_NOT_TERMS = {
    "it",
    "this",
    "that",
    "these",
    "those",
    "there",
    "here",
    "what",
    "which",
    "who",
    "one",
    "he",
    "she",
    "they",
    "we",
    "you",
    "i",
    "its",
    "their",
    "his",
    "her",
    "our",
    "your",
    "each",
    "such",
    "another",
    "other",
    "treatment",
    "study",
    "result",
    "reason",
    "goal",
    "aim",
    "key",
    "answer",
    "risk",
    "difference",
    "problem",
    "truth",
    "idea",
    "however",
    "but",
    "also",
    "neither",
    "both",
    "either",
    "thus",
    "therefore",
    "instead",
    "yes",
    "no",
    "while",
    "misconception",
    "use",
    "first",
    "most",
    "many",
    "some",
    "all",
    "none",
    "process",
    "way",
    "part",
}
_TOKEN = re.compile(r"\w+")
MAX_SHARE = 0.1  # a term in more than this share of the sentences is the subject itself, not jargon
MIN_CHARS = 4
MAX_ENTRIES = 3


@dataclass(frozen=True)
class Definition:
    term: str
    row: SentenceRow
    pattern: re.Pattern[str]

    @cached_property
    def words(self) -> list[str]:
        """The words (\\w+, lower case) its pattern looks for, the last one singular."""
        return _TOKEN.findall(_stem(self.term).lower())


def _is_term(term: str) -> bool:
    words = term.lower().split()
    return len(term) >= MIN_CHARS and words[0] not in _NOT_TERMS and not _NOT_IN_TERMS.intersection(words)


def _terms(row: SentenceRow) -> list[str]:
    found: list[str] = []
    for pattern in _DEFINES:
        match = pattern.match(row.text)
        if match:
            found += [match.group("term"), match.group("abbr") or ""]
    for pattern in _DEFINES_INSIDE:
        found += [m.group("term") for m in pattern.finditer(row.text)]
    return [t for t in found if t and _is_term(t)]


def _rows_by_word(rows: Sequence[SentenceRow]) -> dict[str, set[int]]:
    """Each word (\\w+, lower case) of the rows: the rows it is in."""
    found: dict[str, set[int]] = {}
    for i, row in enumerate(rows):
        for word in set(_TOKEN.findall(row.text.lower())):
            found.setdefault(word, set()).add(i)
    return found


def _naming(d: Definition, rows: Sequence[SentenceRow], rows_with: dict[str, set[int]], enough: int) -> int:
    """How many rows name the term (its pattern), counted up to ``enough``. Only the rows that hold each of its words
    are searched (the last one singular or plural): one search per term and sentence made a library of 279,070
    sentences take hours to load."""
    words = d.words
    if not words:
        candidates: Iterable[int] = range(len(rows))
    else:
        *first, last = words
        plural = rows_with.get(last, set()) | rows_with.get(last + "s", set())
        sets = [rows_with.get(w, set()) for w in first] + [plural]
        candidates = sorted(set.intersection(*sets))
    count = 0
    for i in candidates:
        if d.pattern.search(rows[i].text):
            count += 1
            if count >= enough:
                break
    return count


def _stem(term: str) -> str:
    return term[:-1] if term.endswith("s") and len(term) > MIN_CHARS + 1 else term


def _word(term: str) -> re.Pattern[str]:
    """The term as a whole word, singular or plural ("beta receptors" finds "beta receptor" too)."""
    stem = _stem(term)
    return re.compile(rf"(?<![\w-]){re.escape(stem)}s?(?![\w-])", re.IGNORECASE)


@dataclass(frozen=True)
class Glossary:
    definitions: tuple[Definition, ...]

    @classmethod
    def of(cls, rows: Sequence[SentenceRow]) -> Glossary:
        """Every term defined in ``rows`` (the first definition of each), less those most sentences name."""
        found: dict[str, Definition] = {}
        for row in rows:
            if not row.quotable:
                continue
            for term in _terms(row):
                found.setdefault(term.lower(), Definition(term, row, _word(term)))
        limit = max(3, int(MAX_SHARE * len(rows)))
        rows_with = _rows_by_word(rows)
        kept = [d for d in found.values() if _naming(d, rows, rows_with, limit + 1) <= limit]
        return cls(tuple(kept))

    def to_json(self) -> list[list[str | int]]:
        """Each definition as [term, row id]: what a build keeps, so that no worker searches the library again (5.6 s
        at each start for the full NIH library)."""
        return [[d.term, d.row.id] for d in self.definitions]

    @classmethod
    def from_json(cls, entries: Sequence[Sequence[str | int]], rows: Sequence[SentenceRow]) -> Glossary:
        """A glossary as ``to_json`` wrote it, over the same ``rows``."""
        return cls(tuple(Definition(str(term), rows[int(row)], _word(str(term))) for term, row in entries))

    @cached_property
    def _by_first_word(self) -> dict[str, list[int]]:
        """Each definition's position, under the first word of its term: a quote can use only the terms whose first
        word it holds (or, for a term of one word, its plural)."""
        found: dict[str, list[int]] = {}
        for i, d in enumerate(self.definitions):
            found.setdefault((d.words or [""])[0], []).append(i)
        return found

    def for_quotes(self, quotes: Iterable[Quote]) -> tuple[GlossaryEntry, ...]:
        """The terms the quotes use whose definition is not already among them, in the order the quotes use them."""
        quotes = list(quotes)
        words = {"", *(w for q in quotes for w in _TOKEN.findall(q.text.lower()))}
        words |= {w[:-1] for w in words if w.endswith("s")}  # a one-word term in the plural
        near = sorted({i for w in words for i in self._by_first_word.get(w, ())})  # searching all: 38 ms on NIH
        hits: list[tuple[int, int, Definition]] = []
        for d in (self.definitions[i] for i in near):
            if not words.issuperset(d.words):
                continue  # a word of the term is in no quote (a full NIH answer: 41 definitions to search, 5 so)
            if any(q.source_id == d.row.source_id and q.start < d.row.end and d.row.start < q.end for q in quotes):
                continue  # the reader is already reading its definition
            for n, q in enumerate(quotes):
                match = d.pattern.search(q.text)
                if match:
                    hits.append((n, match.start(), d))
                    break
        hits.sort(key=lambda h: (h[0], h[1]))
        return tuple(
            GlossaryEntry(d.term, d.row.text, d.row.source_id, d.row.start, d.row.end) for _, _, d in hits[:MAX_ENTRIES]
        )
