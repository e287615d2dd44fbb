"""An answer's text laid out as Markdown paragraphs and list items, the way its page had them.

MedQuAD flattened the pages' layout into runs of spaces and stand-alone hyphens. The layout only chooses where lines
break, and may add a "- " marker to a row of a table flattened into the text (GARD's "Signs and Symptoms" table):
with whitespace and stand-alone hyphens ignored (``answer_words``), the Markdown is the answer, word for word.

Where the flattened text shows its layout:
- a line break in the answer ends a paragraph;
- a hyphen standing alone starts a list item when it starts the line, follows two spaces or a sentence's end
  (". - "), or precedes a capital ("... inheritance - Cryptophthalmos - ..."); otherwise it is a dash in prose
  ("warm - not hot - water");
- two or more spaces after a sentence's end, or three or more before a capital, end a paragraph (the site's
  paragraphs were joined with a run of spaces);
- a short question followed by more text is its own line (GARD's "What causes achalasia? The ..."): kbot reads it
  as a heading, never quotes it, and quotes the text below under it;
- a sentence that one of kbot's cleaning rules would drop ("Click here to view a diagram of the eye.") is its own
  line (a paragraph), so that cleaning drops that sentence rather than the paragraph or list item around it;
- GARD's table of signs and symptoms gives one list item per row ("Abnormal hair quantity 90%");
- the last item of a list of short phrases that holds several sentences is the paragraph that followed the list.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from kbot.clean import line_rule
from kbot.corpus import split_sentences
from kbot.domain import Block, BlockKind

_HYPHEN = re.compile(r"(?<!\S)-(?!\S)")  # a hyphen standing alone
_SENTENCE_END = re.compile(r"[.!?:;,][\"'”’)\]]*$")
_BREAK = re.compile(r"(?<=[.!?:][\"'”’)\]])\s{2,}(?=[A-Z0-9\"“(])|(?<=[.!?:])\s{2,}(?=[A-Z0-9\"“(])|\s{3,}(?=[A-Z\"“])")
_INNER_QUESTION = re.compile(r"\?\s+[A-Z0-9\"“(]")  # a question with more text after it
_TABLE_HEAD = re.compile(r"(?:Signs and Symptoms\s+)?Approximate number of patients \(when available\)")
_TABLE_ROW_END = re.compile(r"(?<=\d%)\s+(?=\S)")
QUESTION_WORDS = 20  # a question this short, ran into a paragraph, is a heading
SHORT_ITEM_WORDS = 10
PROSE_ITEM_WORDS = 25


@dataclass(frozen=True)
class Piece:
    """A paragraph, or a list item (``item``), of an answer."""

    text: str
    item: bool = False


def answer_words(text: str) -> list[str]:
    """The words of a text as the invariant compares them: whitespace and stand-alone hyphens ignored."""
    return [w for w in text.split() if w != "-"]


def pieces(answer: str) -> list[Piece]:
    """An answer's paragraphs and list items, in order, each on one line."""
    out: list[Piece] = []
    for line in answer.splitlines():
        if line.strip():
            out.extend(_line_pieces(line.strip()))
    return out


def _line_pieces(line: str) -> list[Piece]:
    lead, *items = _split_items(line)
    out = _lead_pieces(lead)
    for item in items:
        first, *rest = _BREAK.split(item)
        own, *after = _paragraphs(first, BlockKind.LIST_ITEM) or [first]
        out.append(Piece(own, item=True))
        out.extend(Piece(p) for p in after + rest)
    if items and out[-1].item and _is_prose_after_list([p for p in out if p.item]):
        out[-1] = Piece(out[-1].text)
    return [p for p in out if p.text]


def _split_items(line: str) -> list[str]:
    """The text before the first list marker, then each item's text (empty items left out)."""
    cuts = [m for m in _HYPHEN.finditer(line) if _is_marker(line, m.start())]
    bounds = [0, *(x for m in cuts for x in (m.start(), m.end())), len(line)]
    parts = [line[bounds[i] : bounds[i + 1]].strip() for i in range(0, len(bounds), 2)]
    return [parts[0], *(p for p in parts[1:] if answer_words(p))]


def _is_marker(line: str, at: int) -> bool:
    before, after = line[:at], line[at + 1 :].lstrip()
    return (
        not before.strip()
        or not after  # a marker with no item after it
        or bool(re.search(r"\s\s$", before))
        or bool(_SENTENCE_END.search(before.rstrip()))
        or after[:1].isupper()
    )


def _lead_pieces(text: str) -> list[Piece]:
    out: list[Piece] = []
    for paragraph in _BREAK.split(text):
        table = _TABLE_HEAD.search(paragraph)
        if table:
            out.extend(Piece(p) for p in _paragraphs(paragraph[: table.start()].strip()))
            out.append(Piece(table[0]))
            rows = _TABLE_ROW_END.split(paragraph[table.end() :].strip())
            out.extend(Piece(row, item=True) for row in rows if row)
        else:
            out.extend(Piece(p) for p in _paragraphs(paragraph))
    return out


def _paragraphs(text: str, kind: BlockKind = BlockKind.PARAGRAPH) -> list[str]:
    """A paragraph (or a list item), cut around the sentences kbot should read apart from it: a sentence that one of
    kbot's cleaning rules drops ("Click here to view a diagram of the eye."), so that the rule drops that sentence and
    not the whole paragraph around it; and, in a paragraph, a short question (a heading the site ran into the text:
    "Is genetic testing available for X? Genetic testing ..."), which kbot then reads as the heading of what follows.
    """
    questions = kind is BlockKind.PARAGRAPH and bool(_INNER_QUESTION.search(text))
    if not text or not (questions or line_rule(_block(text, kind))):
        return [text] if text else []
    cuts = {0, len(text)}
    for s in split_sentences(text, [_block(text, kind)]):
        question = questions and s.text.endswith("?") and len(s.text.split()) <= QUESTION_WORDS
        if question or line_rule(_block(s.text, kind)):
            cuts |= {s.start, s.end}
    # only between words: pysbd may end a sentence inside one ("keyboard.)", "query.fcgi?db=PubMed")
    bounds = sorted(c for c in cuts if c in (0, len(text)) or text[c - 1].isspace() or text[c].isspace())
    return [p for a, b in pairwise(bounds) if (p := text[a:b].strip())]


def _block(text: str, kind: BlockKind) -> Block:
    return Block(0, kind, 0, len(text), text)


def _is_prose_after_list(items: Sequence[Piece]) -> bool:
    """Whether the last of these items is the paragraph after a list of short phrases ("... - Ventral hernia - The
    Human Phenotype Ontology (HPO) has collected information on ...")."""
    *short, last = items
    sentences = len(re.findall(r"[.!?](?:\s|$)", last.text))
    return (
        len(short) >= 2
        and len(last.text.split()) >= PROSE_ITEM_WORDS
        and sentences >= 2
        and all(len(p.text.split()) <= SHORT_ITEM_WORDS and not p.text.endswith(".") for p in short)
    )


def render(answer_pieces: Sequence[Piece]) -> str:
    """Paragraphs a blank line apart, a list's items on consecutive lines. A paragraph that Markdown would read as
    markup at the start of a line ("#", ">", a rule) runs on from the line before instead."""
    lines: list[tuple[str, bool]] = []
    for piece in answer_pieces:
        text = " ".join(piece.text.split())
        if lines and not piece.item and _markup_start(text):
            lines[-1] = (f"{lines[-1][0]} {text}", lines[-1][1])
        else:
            lines.append((f"- {text}" if piece.item else text, piece.item))
    out = lines[0][0] if lines else ""
    for (_, before), (line, item) in pairwise(lines):
        out += ("\n" if before and item else "\n\n") + line
    return out


def _markup_start(text: str) -> bool:
    return text.startswith(("#", ">")) or bool(re.fullmatch(r"(?:[-=*_]\s*){3,}", text))
