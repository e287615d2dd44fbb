"""A MedQuAD document as a Markdown article, the way its site publishes it: the focus as its title, each section under
a heading like the site's ("Symptoms", "Causes", "Diagnosis"...) rather than MedQuAD's templated question, and the
answer's text split into the paragraphs and list items it had on the page.

The words are never edited. The one invariant, tested: with whitespace ignored and every hyphen that stands alone as
a list marker ("-") ignored, the text under a heading is exactly its sections' answers, one after the other
(``answer_words``). So the converter only chooses where lines break, and may add a "- " marker to a row of a table
flattened into the text (GARD's "Signs and Symptoms" table).

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
from kbot.medquad.documents import MedquadDocument, Section

INFORMATION = "information"
OVERVIEW = "Overview"
TITLE_WORDS = frozenset({"what", "how", "why", "when", "where", "who", "which", "i", "my", "your"})  # a title's start
# The heading of each kind of section. "Frequency" and "Risk factors" rather than "How common is it?" and "Who is at
# risk?": kbot offers an article's question headings as suggestions, and a question that does not name its topic
# would be offered alone. The information section is "What is <focus>?": it reads as the sites' own first heading
# (NHLBI's "What Is Anemia?"), it tells kbot which topic the sentences under it describe, and it is a suggestion that
# makes sense alone. When the focus is a booklet's title rather than a topic ("What I need to know about Gas",
# "Kidney Failure: What to Expect"), it is "Overview".
HEADINGS: dict[str, str] = {
    "symptoms": "Symptoms",
    "causes": "Causes",
    "treatment": "Treatment",
    "exams and tests": "Diagnosis",
    "outlook": "Outlook",
    "prevention": "Prevention",
    "inheritance": "Inheritance",
    "frequency": "Frequency",
    "genetic changes": "Genetic changes",
    "susceptibility": "Risk factors",
    "research": "Research",
    "considerations": "Considerations",
    "stages": "Stages",
    "complications": "Complications",
    "support groups": "Support groups",
}
# MedQuAD's templated questions ("{}" is the focus). A question that is none of these is the site's own heading.
TEMPLATES = (
    "What is (are) {} ?",
    "Do you have information about {}",
    "What are the symptoms of {} ?",
    "What causes {} ?",
    "What are the treatments for {} ?",
    "How to diagnose {} ?",
    "What is the outlook for {} ?",
    "How to prevent {} ?",
    "Is {} inherited ?",
    "How many people are affected by {} ?",
    "What are the genetic changes related to {} ?",
    "Who is at risk for {}? ?",
    "what research (or clinical trials) is being done for {} ?",
    "What to do for {} ?",
    "What are the stages of {} ?",
    "What are the complications of {} ?",
    "Where to find support for people with {} ?",
)
# GHR's "treatment" section is a list of links to other sites ("These resources address the diagnosis or management of
# X:  - Genetic Testing Registry: X  - ..."): the article keeps it as the site has it, and kbot never quotes it.
RESOURCE_LIST = "These resources address the diagnosis or management of"
_HYPHEN = re.compile(r"(?<!\S)-(?!\S)")  # a hyphen standing alone
_SENTENCE_END = re.compile(r"[.!?:;,][\"'”’)\]]*$")
_BREAK = re.compile(r"(?<=[.!?:][\"'”’)\]])\s{2,}(?=[A-Z0-9\"“(])|(?<=[.!?:])\s{2,}(?=[A-Z0-9\"“(])|\s{3,}(?=[A-Z\"“])")
_INNER_QUESTION = re.compile(r"\?\s+[A-Z0-9\"“(]")  # a question with more text after it
_TABLE_HEAD = re.compile(r"(?:Signs and Symptoms\s+)?Approximate number of patients \(when available\)")
_TABLE_ROW_END = re.compile(r"(?<=\d%)\s+(?=\S)")
QUESTION_WORDS = 20
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


def title(focus: str) -> str:
    """The focus as a title: its first letter capitalised, unless its first word is written with care ("mTOR")."""
    focus = " ".join(focus.split())
    first = focus.split(" ", 1)[0]
    if first[:1].isalpha() and first == first.lower() and not any(c.isdigit() for c in first):
        return focus[:1].upper() + focus[1:]
    return focus


def is_topic(focus: str) -> bool:
    """Whether a focus names a topic ("Hepatitis B"), not a booklet ("What I need to know about Hepatitis B")."""
    words = focus.casefold().split()
    return bool(words) and words[0] not in TITLE_WORDS and ": " not in focus


def heading(section: Section, focus: str) -> str:
    """A section's heading: by its kind when its question is MedQuAD's template, else the site's own question."""
    focus = " ".join(focus.split())
    question = " ".join(section.question.split())
    templated = {t.format(focus).casefold() for t in TEMPLATES}
    if question.casefold() in templated:
        if section.qtype == INFORMATION:
            return f"What is {focus}?" if is_topic(focus) else OVERVIEW
        return HEADINGS.get(section.qtype) or section.qtype.capitalize()
    # MedQuAD appended " for <focus> ?" to some of the sites' own questions: "how can hps be prevented for Hantavirus ?"
    suffix = re.fullmatch(rf"(.+?)\s+for\s+{re.escape(focus)}\s*\?", question, re.IGNORECASE) if focus else None
    own = f"{suffix[1]}?" if suffix else question
    return own[:1].upper() + own[1:]


def article(doc: MedquadDocument) -> str:
    """The article's Markdown: ``# Title``, then each heading with its answers under it (see ``grouped_answers``)."""
    parts = [f"# {title(doc.focus)}"]
    for name, answers in grouped_answers(doc).items():
        parts.append(f"## {name}")
        parts.extend(render(pieces(answer)) for answer in answers)
    return "\n\n".join(parts) + "\n"


def grouped_answers(doc: MedquadDocument) -> dict[str, list[str]]:
    """Each heading of the article with the answers under it. A heading comes once, where a section first uses it
    (NIHSeniorHealth gives one topic a dozen "information" sections), and an answer repeated word for word under the
    same heading is written once."""
    names: dict[str, str] = {}  # the heading as first written, by its casefold
    groups: dict[str, list[str]] = {}
    for section in doc.sections:
        name = heading(section, doc.focus)
        answers = groups.setdefault(names.setdefault(name.casefold(), name), [])
        words = answer_words(section.answer)
        if words and all(answer_words(a) != words for a in answers):
            answers.append(section.answer)
    return {name: answers for name, answers in groups.items() if answers}


def withheld(doc: MedquadDocument) -> list[str]:
    """The answers that kbot should never quote (links to other sites), as the article writes them: fragments for
    sources.toml's ``do_not_quote``."""
    answers = (a for group in grouped_answers(doc).values() for a in group)
    return [render(pieces(a)) for a in answers if a.strip().startswith(RESOURCE_LIST)]


# ------------------------------------------------------------------------------------------------------------ layout


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
