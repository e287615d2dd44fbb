"""Gold questions from MedQuAD: for each section of one split's documents, its templated question and the questions a
patient would type about it, with the section's own sentences, as its article writes them, as evidence.

A section is asked about when its text answers its question: an answer of at least ``MIN_ANSWER_WORDS`` words that
kbot may quote (not GHR's list of links), with at least one sentence that no page about another topic says word for
word, its topic's name aside ("This condition is inherited in an autosomal recessive pattern..." is in hundreds of GHR
articles, and a quote of it from another article would look like support). Those sentences are the evidence: each is
verbatim in the converted article file (``tests/test_nih_gold.py`` checks it), and the item names its article's file
stem, so that an evaluation over a smaller library skips the items whose article it does not hold.

The patient's phrasings are made by rule from the section's kind and the document's focus ("x symptoms", "what causes
x", "is x inherited", "x in kids" when the section speaks of children), lower case and without punctuation, some with
a typo; the randomness is seeded by the section's id, so the same MedQuAD gives the same questions.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace

from kbot.corpus import split_sentences
from kbot.domain import Block, BlockKind
from kbot.medquad.article import RESOURCE_LIST, TEMPLATES, is_topic
from kbot.medquad.documents import Entry, MedquadDocument, Section
from kbot.medquad.layout import answer_words, pieces

MIN_ANSWER_WORDS = 15  # a shorter answer ("See the related topic.") answers nothing
MIN_EVIDENCE_WORDS = 6  # a shorter sentence ("Seizures") would be "supported" by any quote that names it
MAX_EVIDENCE = 8  # the first sentences of a long section (GARD's tables) are enough to recognise it
REWRITES = 2  # patient phrasings per section, besides its templated question
TYPO_RATE = 0.2
CHILDREN = re.compile(r"\b(?:child|children|childhood|kids?|infants?|infancy|babies|toddlers?)\b", re.IGNORECASE)
SIGNS = ("fever", "pain", "headache", "seizures", "rash", "fatigue", "vomiting", "cough", "itching", "swelling")
PATIENT: dict[str, tuple[str, ...]] = {  # "{}" is the focus as a patient types it
    "information": ("what is {}", "{} meaning", "tell me about {}", "{} explained", "what does {} mean"),
    "symptoms": ("{} symptoms", "signs of {}", "how do i know if i have {}", "symptoms of {}", "{} signs"),
    "causes": ("what causes {}", "{} causes", "why do people get {}", "cause of {}", "how do you get {}"),
    "treatment": ("how is {} treated", "{} treatment", "treatment for {}", "{} medicine", "how to treat {}"),
    "exams and tests": ("how is {} diagnosed", "test for {}", "{} diagnosis", "how do doctors check for {}"),
    "outlook": ("{} prognosis", "{} life expectancy", "what happens with {}", "{} outlook"),
    "prevention": ("how to prevent {}", "can {} be prevented", "{} prevention", "how do i avoid {}"),
    "inheritance": ("is {} inherited", "is {} genetic", "{} inheritance", "can i pass {} to my kids"),
    "frequency": ("how common is {}", "how many people have {}", "is {} rare"),
    "genetic changes": ("what gene causes {}", "{} gene", "{} mutation", "genes involved in {}"),
    "susceptibility": ("who gets {}", "{} risk factors", "who is at risk for {}", "am i at risk of {}"),
    "research": ("{} research", "{} clinical trials", "new treatments for {} being studied"),
    "stages": ("{} stages", "stages of {}", "what stage is {}"),
    "complications": ("{} complications", "complications of {}", "what problems can {} cause"),
    "considerations": ("living with {}", "{} what to know"),
}
KIDS: dict[str, str] = {"symptoms": "{} in kids", "treatment": "{} treatment for children", "information": "{} in kids"}


@dataclass(frozen=True)
class GoldQuestion:
    """One item of the NIH gold set, as ``eval/nih/*.jsonl`` holds it."""

    id: str
    question: str
    evidence: tuple[str, ...]
    article: str  # the article's file stem: <article>.md in the knowledge base
    notes: str

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "question": self.question,
            "kind": "answerable",
            "evidence": list(self.evidence),
            "article": self.article,
            "notes": self.notes,
        }


def gold_questions(entries: Sequence[Entry], library: Iterable[MedquadDocument], seed: int = 13) -> list[GoldQuestion]:
    """The gold items of these documents (one split's), with evidence no other document of ``library`` repeats. A
    question asked of two articles (two documents with one focus) is left out, as either would answer it."""
    shared = _shared_sentences(library)
    merged: dict[str, GoldQuestion] = {}  # by the question's words: one article's sections that share a question
    owners: dict[str, set[str]] = {}
    for stem, doc in entries:
        for q in _document_questions(stem, doc, shared, seed):
            key = _key(q.question)
            owners.setdefault(key, set()).add(q.article)
            first = merged.setdefault(key, q)
            extra = tuple(e for e in q.evidence if e not in first.evidence)
            merged[key] = replace(first, evidence=first.evidence + extra)
    return [q for key, q in merged.items() if len(owners[key]) == 1]


def _document_questions(stem: str, doc: MedquadDocument, shared: set[str], seed: int) -> Iterator[GoldQuestion]:
    for section in doc.sections:
        evidence = section_evidence(section, doc.focus, shared)
        if not evidence:
            continue
        rng = random.Random(f"{seed}:{doc.id}:{section.qid}")
        note = f"{doc.source} {section.qtype}"
        asked = " ".join(section.question.split())
        templated = asked.casefold() in {t.format(" ".join(doc.focus.split())).casefold() for t in TEMPLATES}
        questions = [asked, *(patient_questions(section, doc.focus, rng) if templated else [])]
        for n, question in enumerate(dict.fromkeys(questions)):
            yield GoldQuestion(f"nih-{stem}-{section.qid}-{n}", question, evidence, stem, note)


def section_evidence(section: Section, focus: str, shared: set[str]) -> tuple[str, ...]:
    """The section's sentences that make evidence, verbatim as its article writes them; none when it cannot be asked
    about (too short, links only, or said by other documents too)."""
    text = section.answer.strip()
    if len(answer_words(text)) < MIN_ANSWER_WORDS or text.startswith(RESOURCE_LIST):
        return ()
    found: list[str] = []
    for sentence in _sentences(section.answer):
        if _evidence_shaped(sentence) and _generic(sentence, focus) not in shared and sentence not in found:
            found.append(sentence)
    return tuple(found[:MAX_EVIDENCE])


def _sentences(answer: str) -> Iterator[str]:
    """The sentences of an answer's paragraphs and list items, each as ``layout.render`` writes it."""
    for piece in pieces(answer):
        text = " ".join(piece.text.split())
        kind = BlockKind.LIST_ITEM if piece.item else BlockKind.PARAGRAPH
        for s in split_sentences(text, [Block(0, kind, 0, len(text), text)]):
            yield s.text


def _evidence_shaped(sentence: str) -> bool:
    return len(sentence.split()) >= MIN_EVIDENCE_WORDS and not sentence.endswith(("?", ":"))


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _generic(sentence: str, focus: str) -> str:
    """A sentence as the documents' shared furniture would read: its own topic's name replaced by "{}"."""
    topic = " ".join(focus.split())
    return _norm(re.sub(re.escape(topic), "{}", sentence, flags=re.IGNORECASE) if topic else sentence)


def _key(question: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", question.casefold()).split())


def _shared_sentences(library: Iterable[MedquadDocument]) -> set[str]:
    """The sentences that pages about two or more topics say word for word, but for their topic's name ("The Human
    Phenotype Ontology provides the following list of signs and symptoms for {}."): furniture, not an answer. Two
    pages about one topic (GARD's and GHR's) may say the same sentence: either answers a question about it."""
    topics_saying: dict[str, set[str]] = {}
    for doc in library:
        topic = _norm(doc.focus)
        for section in doc.sections:
            for sentence in _sentences(section.answer):
                topics_saying.setdefault(_generic(sentence, doc.focus), set()).add(topic)
    return {s for s, topics in topics_saying.items() if len(topics) > 1}


# ------------------------------------------------------------------------------------------------------ the patient


def patient_focus(focus: str) -> str:
    """The focus as a patient types it: lower case, no parenthesis ("(HBV)"), the topic after a site's prefix
    ("Parasites - Ascariasis"), no punctuation."""
    text = re.sub(r"\([^)]*\)", " ", focus)
    text = text.rsplit(" - ", 1)[-1]
    return " ".join(re.sub(r"[^\w\s'-]", " ", text.casefold()).split())


def patient_questions(section: Section, focus: str, rng: random.Random) -> list[str]:
    """Up to ``REWRITES`` phrasings of the section's question by a patient (none for a booklet's title or a kind of
    section with no rule), with "x in kids" when the section speaks of children and "does x cause fever" when it
    names the sign."""
    if not is_topic(focus) or section.qtype not in PATIENT:
        return []
    topic = patient_focus(focus)
    if not topic:
        return []
    forms = list(PATIENT[section.qtype])
    if section.qtype in KIDS and CHILDREN.search(section.answer):
        forms.append(KIDS[section.qtype])
    if section.qtype == "symptoms":
        forms += [f"does {{}} cause {sign}" for sign in SIGNS if re.search(rf"\b{sign}\b", section.answer, re.I)][:1]
    chosen = rng.sample(forms, min(REWRITES, len(forms)))
    return [typo(f.format(topic), rng) if rng.random() < TYPO_RATE else f.format(topic) for f in chosen]


def typo(text: str, rng: random.Random) -> str:
    """One slip of the fingers in a word of five letters or more: two letters swapped, or one left out."""
    words = text.split(" ")
    long = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
    if not long:
        return text
    i = rng.choice(long)
    word = words[i]
    at = rng.randrange(1, len(word) - 1)
    words[i] = (
        word[:at] + word[at + 1] + word[at] + word[at + 2 :] if rng.random() < 0.5 else word[:at] + word[at + 1 :]
    )
    return " ".join(words)
