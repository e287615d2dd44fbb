"""The small, frozen values that flow through kbot: sources, their blocks and sentences, passages, quotes, answers.

Offsets are always character offsets into the source file's text as read (UTF-8, no newline translation), so that
``source.text[start:end]`` gives back exactly what was quoted.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any, Literal, get_args


def plain(value: Any) -> dict[str, Any]:
    """A dataclass value's fields as a dict, one level deep: what JSON needs of these flat values. (``asdict`` copies
    every field recursively: 8 s of each build of the full NIH library.)"""
    return {f.name: getattr(value, f.name) for f in fields(value)}


class BlockKind(StrEnum):
    TITLE = "title"
    HEADING = "heading"
    PARAGRAPH = "paragraph"
    LIST_ITEM = "list_item"
    FAQ_QUESTION = "faq_question"
    FAQ_ANSWER = "faq_answer"


class Status(StrEnum):
    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    CRISIS = "crisis"
    DECLINED = "declined"


Emergency = Literal[
    "suicide", "self_harm", "lethality", "overdose", "poisoning", "breathing", "unresponsive", "medical"
]
"""Which emergency a crisis is: each [crisis.*] bank of the safety rules names one, and a help line lists the ones it
is for (``HelpLine.topics``), so that a crisis reply shows the lines for its emergency first."""
EMERGENCIES: tuple[Emergency, ...] = get_args(Emergency)


@dataclass(frozen=True)
class SourceMeta:
    """What seeds/sources.toml says about one article. ``do_not_quote`` holds fragments of its text: a sentence that
    overlaps one is never quoted (accurate in the article, misleading alone)."""

    id: str
    file: str
    title: str
    publisher: str
    url: str = ""
    updated: str = ""
    kind: str = "editorial"
    do_not_quote: tuple[str, ...] = ()


@dataclass(frozen=True)
class Span:
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Block:
    """One line-level unit of an article: its title, a heading, a paragraph, a list item, a FAQ question or answer.

    ``start``/``end`` cover the block's visible text (no surrounding whitespace or bullet marker).
    ``section`` is the text of the heading the block sits under ("" before the first heading).
    ``dropped`` names the cleaning rule that removed it from what can be quoted, or is "" when it is kept.
    """

    index: int
    kind: BlockKind
    start: int
    end: int
    text: str
    section: str = ""
    dropped: str = ""

    @property
    def kept(self) -> bool:
        return not self.dropped

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> Block:
        """A block as ``dataclasses.asdict`` gave it, read back from JSON."""
        return cls(**{**values, "kind": BlockKind(values["kind"])})


@dataclass(frozen=True, slots=True)
class Sentence:
    """A sentence of a kept block. ``index`` is its position in the document's sentence list."""

    index: int
    block: int
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Document:
    """A source read and cleaned: its metadata, full text, every block (kept or dropped) and the kept sentences."""

    meta: SourceMeta
    text: str
    blocks: tuple[Block, ...]
    sentences: tuple[Sentence, ...]

    @property
    def kept_blocks(self) -> tuple[Block, ...]:
        return tuple(b for b in self.blocks if b.kept)


@dataclass(frozen=True, slots=True)
class Passage:
    """A few consecutive sentences of one section of one source: the unit that is embedded and retrieved."""

    id: int
    source_id: str
    section: str
    sentence_ids: tuple[int, ...]  # indices into the index's global sentence table
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Quote:
    text: str
    source_id: str
    source_file: str
    start: int
    end: int
    score: float
    citation: int
    also_in: tuple[str, ...] = ()  # ids of other sources that say nearly the same thing
    link: str = ""  # the source's URL with a text fragment that points at the quote; "" when it has no URL

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "source_id": self.source_id,
            "source_file": self.source_file,
            "start": self.start,
            "end": self.end,
            "score": round(self.score, 4),
            "citation": self.citation,
            "also_in": list(self.also_in),
            "link": self.link,
        }


@dataclass(frozen=True)
class SourceRef:
    citation: int
    meta: SourceMeta

    def to_dict(self) -> dict[str, Any]:
        m = self.meta
        return {
            "citation": self.citation,
            "id": m.id,
            "title": m.title,
            "publisher": m.publisher,
            "url": m.url,
            "updated": m.updated,
        }


@dataclass(frozen=True)
class Resource:
    """A help line: first in a crisis reply, and beside an answer about an emergency."""

    name: str
    action: str  # what to do, e.g. "Call or text 988"
    phone: str = ""  # for tel: links, digits only or with dashes
    sms: str = ""  # for sms: links

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "action": self.action, "phone": self.phone, "sms": self.sms}


def new_answer_id() -> str:
    """A random id for one answer given (never derived from the question): what a patient's feedback refers to."""
    return secrets.token_urlsafe(16)


@dataclass(frozen=True)
class ClinicContact:
    """Where a patient reaches the clinic itself (a knowledge base's [contact]): for appointments, hours, prices."""

    url: str = ""
    phone: str = ""
    text: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"url": self.url, "phone": self.phone, "text": self.text}


@dataclass(frozen=True)
class GlossaryEntry:
    """A term a quote uses that its knowledge base defines elsewhere, with the defining sentence: an exact span of
    its source (``source.text[start:end] == text``)."""

    term: str
    text: str
    source_id: str
    start: int
    end: int

    def to_dict(self) -> dict[str, Any]:
        return {"term": self.term, "text": self.text, "source_id": self.source_id, "start": self.start, "end": self.end}


@dataclass(frozen=True)
class Answer:
    status: Status
    question: str
    quotes: tuple[Quote, ...]
    sources: tuple[SourceRef, ...]
    notice: str
    text: str
    message: str = ""  # the reply's own words for no_answer / declined / crisis ("" when answered)
    suggestions: tuple[str, ...] = ()
    resources: tuple[Resource, ...] = ()
    evidence: dict[str, float] = field(default_factory=dict)  # the signals behind the status, for eval and debugging
    follow_ups: tuple[str, ...] = ()  # after an answer: questions the articles answer, near its topic
    glossary: tuple[GlossaryEntry, ...] = ()  # terms the quotes use that the knowledge base defines elsewhere
    contact: ClinicContact | None = None  # a question about the clinic itself: its contact
    # Random, not compared: the API gives every answer it sends a fresh one (a cached answer included).
    answer_id: str = field(default_factory=new_answer_id, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "answer_id": self.answer_id,
            "status": self.status.value,
            "question": self.question,
            "message": self.message,
            "quotes": [q.to_dict() for q in self.quotes],
            "sources": [s.to_dict() for s in self.sources],
            "suggestions": list(self.suggestions),
            "resources": [r.to_dict() for r in self.resources],
            "follow_ups": list(self.follow_ups),
            "glossary": [g.to_dict() for g in self.glossary],
            "contact": self.contact.to_dict() if self.contact else None,
            "notice": self.notice,
            "text": self.text,
        }
