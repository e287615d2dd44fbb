"""A MedQuAD document as a Markdown article, the way its site publishes it: the focus as its title, each section under
a heading like the site's ("Symptoms", "Causes", "Diagnosis"...) rather than MedQuAD's templated question, and the
answer's text laid out in the paragraphs and list items it had on the page (``kbot.medquad.layout``).

The words are never edited. The one invariant (tested, and checked once over all 5,483 titled documents of MedQuAD):
with whitespace and every hyphen that stands alone as a list marker ("-") ignored, the text under a heading is exactly
its sections' answers, one after the other (``answer_words``).
"""

from __future__ import annotations

import re

from kbot.medquad.documents import MedquadDocument, Section
from kbot.medquad.layout import answer_words, pieces, render

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
