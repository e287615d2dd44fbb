"""Reading an article: its text exactly as stored, its blocks with offsets, cleaning, and the kept blocks' sentences.

Offsets are character offsets into the file read as UTF-8 with no newline translation, so for every block and every
sentence ``text[start:end] == text`` holds, whatever the line endings.

Formats. In a .txt file every non-blank line is one block: some articles separate blocks with blank lines, some (001)
do not, and none wraps a paragraph over several lines. In a .md file, ``#`` headings, list items, and paragraphs whose
lines run on until a blank line (Markdown's soft line breaks), so a block's text can hold a newline there.

Kinds. The title is the line that matches the catalog's title, looked for only before the article's first prose (so
an article whose page lost its title line has none, and its first question stays a heading of its own section).
A heading is a short line with no sentence punctuation, or a single question followed by content. A question under a
FAQ heading, or labelled "Q1:", is a FAQ question, and the paragraphs under it are its answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from difflib import SequenceMatcher
from functools import lru_cache
from pathlib import Path
from typing import Any

from kbot.clean import mark_furniture
from kbot.domain import Block, BlockKind, Document, Sentence, SourceMeta
from kbot.folder import read_source_text

_NEWLINE = re.compile(r"\r\n|\r|\n")
_BULLET = re.compile(r"(?:[-*+•·▪◦‣]\s+)+|\d{1,3}[.)]\s+")  # "- ", "  • ", "* ", "1. ", "• • "
_TRAILING_DECORATION = re.compile(r"(?:\s+[•·▪◦‣])+$")  # "Get in touch • •"
_Q_LABEL = re.compile(r"Q\d{0,3}\s*:\s*")  # "Q1: Is asthma contagious?"
_A_LABEL = re.compile(r"A\d{0,3}\s*:\s*")
_MD_HEADING = re.compile(r"#{1,6}\s+")
_MD_CLOSING_HASHES = re.compile(r"\s+#+$")
_MD_RULE = re.compile(r"(?:[-=*_]\s*){3,}")  # a setext underline or a horizontal rule
_MD_EMPHASIS = ("**", "__")
_SENTENCE_END = re.compile(r"[.!?:;,…]['\"”’)\]]*$")
_QUESTION_END = re.compile(r"\?['\"”’)]*$")
_INNER_BREAK = re.compile(r"(\w+)[.!?]['\"”’]*\s+[A-Z]")  # "possible. Begin"
_ABBREVIATIONS = frozenset({"dr", "mr", "mrs", "ms", "prof", "st", "vs", "no", "jr", "sr", "inc", "co", "etc"})
_FAQ_HEADING = re.compile(
    r"\b(faqs?|frequently asked questions|common(ly asked)? questions|questions (and|&) answers)\b", re.I
)
_INVISIBLE = "\ufeff\u200b"
HEADING_WORDS = 12  # a heading is at most this long
QUESTION_WORDS = 20  # a question heading is at most this long
TITLE_MATCH = 0.8  # lowest similarity of a line to the catalog's title


def read_document(seeds_dir: Path, meta: SourceMeta) -> Document:
    """One article read, parsed into blocks, cleaned, and split into sentences."""
    return parse_document(meta, read_source_text(seeds_dir / meta.file))


def parse_document(meta: SourceMeta, text: str) -> Document:
    """An article's text (as ``read_source_text`` gives it) parsed into blocks, cleaned, and split into sentences."""
    blocks = parse_blocks(text, meta, markdown=meta.file.lower().endswith(".md"))
    blocks = assign_sections(mark_furniture(blocks, meta))
    return Document(meta, text, tuple(blocks), split_sentences(text, blocks))


# ------------------------------------------------------------------------------------------------------------ units


@dataclass(frozen=True)
class _Unit:
    """A block before it has a kind: its visible span and what its markup said."""

    start: int
    end: int
    bullet: bool = False
    md_heading: bool = False
    q_label: bool = False
    a_label: bool = False


def _lines(text: str) -> Iterator[tuple[int, int]]:
    pos = 0
    for m in _NEWLINE.finditer(text):
        yield pos, m.start()
        pos = m.end()
    if pos < len(text):
        yield pos, len(text)


def _strip(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and (text[a].isspace() or text[a] in _INVISIBLE):
        a += 1
    while b > a and (text[b - 1].isspace() or text[b - 1] in _INVISIBLE):
        b -= 1
    return a, b


def _visible(text: str, a: int, b: int, markdown: bool) -> _Unit | None:
    """A line's visible text: no surrounding space, bullet, "Q1:" label or Markdown markup. None if blank."""
    a, b = _strip(text, a, b)
    if a == b:
        return None
    flags: dict[str, bool] = {}
    if markdown and (m := _MD_HEADING.match(text, a, b)):
        a, flags["md_heading"] = m.end(), True
        if (m := _MD_CLOSING_HASHES.search(text, a, b)) and m.start() > a:
            b = m.start()
    elif markdown and text.startswith(">", a):
        a, b = _strip(text, a + 1, b)
    if (m := _BULLET.match(text, a, b)) and m.end() < b:
        a, flags["bullet"] = m.end(), True
    if (m := _TRAILING_DECORATION.search(text, a, b)) and m.start() > a:
        b = m.start()
    if (m := _Q_LABEL.match(text, a, b)) and m.end() < b and _QUESTION_END.search(text, a, b):
        a, flags["q_label"] = m.end(), True
    elif (m := _A_LABEL.match(text, a, b)) and m.end() < b:
        a, flags["a_label"] = m.end(), True
    if markdown and any(text.startswith(e, a) and text.endswith(e, a, b) and b - a > 2 * len(e) for e in _MD_EMPHASIS):
        a, b = a + 2, b - 2
    a, b = _strip(text, a, b)
    return _Unit(a, b, **flags)


def _units(text: str, markdown: bool) -> list[_Unit]:
    units: list[_Unit] = []
    joinable = False  # whether a Markdown line may run on from the one before
    for a, b in _lines(text):
        if markdown and _MD_RULE.fullmatch(text[a:b].strip()):
            if joinable and text[a:b].strip()[0] in "=-" and not units[-1].bullet:
                units[-1] = replace(units[-1], md_heading=True)  # setext heading: the line above is underlined
            joinable = False
            continue
        unit = _visible(text, a, b, markdown)
        if unit is None:
            joinable = False
            continue
        if joinable and not (unit.bullet or unit.md_heading or unit.q_label or unit.a_label):
            units[-1] = replace(units[-1], end=unit.end)
        else:
            units.append(unit)
        last = units[-1]
        joinable = markdown and not (
            last.md_heading or last.q_label or _QUESTION_END.search(text, last.start, last.end)
        )
    return units


# ------------------------------------------------------------------------------------------------------------ kinds


def _words(text: str) -> int:
    return len(text.split())


def _inner_break(text: str) -> bool:
    """Whether a line holds more than one sentence ("Recovery is possible. Begin your journey today")."""
    words = (m.group(1) for m in _INNER_BREAK.finditer(text))
    return any(len(w) > 1 and w.lower() not in _ABBREVIATIONS and not w.isupper() for w in words)  # not "L.", "U.S."


def _heading_shaped(text: str) -> bool:
    """A short line with no sentence punctuation: "The Airways and Inflammation", "Key takeaways"."""
    return (
        (text[:1].isupper() or text[:1].isdigit())
        and any(c.isalpha() for c in text)
        and _words(text) <= HEADING_WORDS
        and "\n" not in text
        and not _SENTENCE_END.search(text)
        and not _inner_break(text)
    )


def _question_shaped(text: str) -> bool:
    """One short question: "How do inhalers work in the lungs?"."""
    return (
        bool(_QUESTION_END.search(text))
        and _words(text) <= QUESTION_WORDS
        and "\n" not in text
        and not _inner_break(text)
    )


def _content_follows(text: str, units: list[_Unit], i: int) -> bool:
    if i + 1 >= len(units):
        return False
    nxt = units[i + 1]
    t = text[nxt.start : nxt.end]
    return nxt.bullet or not (nxt.md_heading or nxt.q_label or _heading_shaped(t) or _question_shaped(t))


def _norm(text: str) -> str:
    text = text.casefold().translate(str.maketrans("‘’“”–—", "''\"\"--"))
    return " ".join(text.split()).rstrip(".?!:")


def _title_index(text: str, units: list[_Unit], meta: SourceMeta) -> int | None:
    """The line that gives the article's title, looked for before its first prose; None if no line matches."""
    want = _norm(meta.title)
    best, best_score = None, TITLE_MATCH
    for i, u in enumerate(units):
        line = text[u.start : u.end]
        if u.bullet or (_SENTENCE_END.search(line) and _words(line) >= 8):
            break
        got = _norm(line)
        if got == want:
            return i
        score = 0.95 if got.startswith(want) else SequenceMatcher(None, got, want).ratio()
        if score > best_score or (best is None and score >= best_score):
            best, best_score = i, score
    return best


def _kinds(text: str, units: list[_Unit], meta: SourceMeta) -> list[BlockKind]:
    title = _title_index(text, units, meta)
    kinds: list[BlockKind] = []
    faq = False  # under a FAQ heading
    answering = False  # paragraphs now answer a FAQ question
    for i, u in enumerate(units):
        line = text[u.start : u.end]
        question = _question_shaped(line)
        if i == title:
            kind, faq, answering = BlockKind.TITLE, False, False
        elif u.bullet:
            kind = BlockKind.LIST_ITEM
        elif u.q_label and question:
            kind, answering = BlockKind.FAQ_QUESTION, True
        elif u.a_label or (kinds and kinds[-1] is BlockKind.FAQ_QUESTION and not (u.md_heading or question)):
            kind = BlockKind.FAQ_ANSWER
        elif u.md_heading or _heading_shaped(line) or (question and _content_follows(text, units, i)):
            if question and faq:
                kind, answering = BlockKind.FAQ_QUESTION, True
            else:
                kind, answering = BlockKind.HEADING, False
                faq = bool(_FAQ_HEADING.search(line)) or (faq and question)
        else:
            kind = BlockKind.FAQ_ANSWER if answering else BlockKind.PARAGRAPH
        kinds.append(kind)
    return kinds


def parse_blocks(text: str, meta: SourceMeta, markdown: bool = False) -> list[Block]:
    """Every non-blank unit of an article as a Block with its kind and section (nothing dropped yet)."""
    units = _units(text, markdown)
    kinds = _kinds(text, units, meta)
    blocks = [
        Block(i, k, u.start, u.end, text[u.start : u.end]) for i, (u, k) in enumerate(zip(units, kinds, strict=True))
    ]
    return assign_sections(blocks)


def assign_sections(blocks: list[Block]) -> list[Block]:
    """Each block's section: the text of the nearest kept heading or FAQ question above it (its own, for those)."""
    section = ""
    out: list[Block] = []
    for b in blocks:
        if b.kind in (BlockKind.HEADING, BlockKind.FAQ_QUESTION):
            section = b.text if b.kept else section
            own = b.text
        elif b.kind is BlockKind.TITLE:
            section = own = ""
        else:
            own = section
        out.append(b if b.section == own else replace(b, section=own))
    return out


# ------------------------------------------------------------------------------------------------------------ sentences


@lru_cache(maxsize=1)
def _segmenter() -> Any:
    import pysbd

    return pysbd.Segmenter(language="en", clean=False, char_span=True)


def split_sentences(text: str, blocks: list[Block]) -> tuple[Sentence, ...]:
    """The sentences of the kept blocks, numbered through the document, trimmed, with offsets into ``text``."""
    sentences: list[Sentence] = []
    for b in blocks:
        if not b.kept:
            continue
        for start, end in _sentence_spans(b.text):
            a, z = _strip(b.text, start, end)
            if a < z:
                sentences.append(Sentence(len(sentences), b.index, b.start + a, b.start + z, b.text[a:z]))
    return tuple(sentences)


def _sentence_spans(text: str) -> Iterator[tuple[int, int]]:
    """pysbd's sentence spans of one block. A soft line break is a space to pysbd (it would split there)."""
    flat = text.replace("\r", " ").replace("\n", " ")
    cursor = 0
    for span in _segmenter().segment(flat):
        sent: str = span.sent
        start = span.start if flat[span.start : span.end] == sent else flat.find(sent.strip(), cursor)
        if start < cursor:  # pysbd lost its place: keep the rest of the block whole rather than guess
            yield cursor, len(text)
            return
        end = start + len(sent) if flat[span.start : span.end] == sent else start + len(sent.strip())
        yield start, end
        cursor = end
    if flat[cursor:].strip():
        yield cursor, len(text)
