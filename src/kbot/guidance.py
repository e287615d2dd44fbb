"""What kbot offers around its quotes, from the knowledge base itself: questions its articles answer (after a
no-answer, and as follow-ups after an answer), definitions of the terms a quote uses, and the clinic's contact for
questions about the clinic rather than the articles."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import lru_cache

import numpy as np

from kbot.chunking import SentenceRow
from kbot.domain import Answer, ClinicContact
from kbot.glossary import Glossary
from kbot.index import Index
from kbot.knowledge_base import KnowledgeBase
from kbot.logistics import LogisticsRules
from kbot.phrasing import lower_words, sentence_case

FOLLOW_UPS = 3
SAME_QUESTION = 0.9  # a heading this close to the question asks it again: not a follow-up
DISTINCT = 0.8  # two follow-ups this close ask the same thing twice ("Is it a steroid?", "Is it a corticosteroid?")


def _key(text: str) -> str:
    return " ".join(text.lower().split()).rstrip("?")


class _Derived:
    """What is worked out once per loaded index: the words its articles write in lower case, and its questions."""

    def __init__(self, index: Index) -> None:
        self.index = index  # held, so that id(index) is not reused while this lives
        self.lower = lower_words(r.text for r in index.sentences)
        # Its questions and their vectors, gathered once: reading every sentence per question took 200 ms a question
        # on the full NIH library (279,070 sentences).
        self.questions = [r for r in index.sentences if r.is_question]
        rows = [r.id for r in self.questions]
        self.question_vectors = np.asarray(np.asarray(index.sentence_vectors)[rows], dtype=np.float32)


_derived: dict[int, _Derived] = {}


def _of(base: KnowledgeBase) -> _Derived:
    found = _derived.get(id(base.index))
    if found is None or found.index is not base.index:
        if len(_derived) > 16:  # indexes replaced by rebuilds: forget the oldest
            _derived.pop(next(iter(_derived)))
        found = _derived[id(base.index)] = _Derived(base.index)
    return found


def glossary_of(base: KnowledgeBase) -> Glossary:
    return base.index.glossary


def _ranked_questions(derived: _Derived, closeness: np.ndarray, first: int = 64) -> Iterator[SentenceRow]:
    """The knowledge base's questions, closest first (``closeness``: each one's cosine with the question). Only the
    ``first`` closest are sorted unless a caller reads past them: a full sort of the NIH library's 17,000 questions
    took 3 ms of every answer."""
    scores = -closeness
    if len(scores) > first:
        head = np.argpartition(scores, first)[:first]
        head = head[np.argsort(scores[head], kind="stable")]
        yield from (derived.questions[i] for i in head)
        rest = np.ones(len(scores), dtype=bool)
        rest[head] = False
        order = np.flatnonzero(rest)[np.argsort(scores[rest], kind="stable")]
    else:
        order = np.argsort(scores, kind="stable")
    yield from (derived.questions[i] for i in order)


def closeness_to_questions(base: KnowledgeBase, vectors: np.ndarray) -> np.ndarray:
    """The cosine of each question vector (a row of ``vectors``) with each of the knowledge base's questions, in one
    product: the full NIH library's 17,000 questions are 26 MB to read, 1.8 ms a question one by one on a core and
    0.6 in eights."""
    return np.asarray(vectors, dtype=np.float32) @ _of(base).question_vectors.T


def suggestions(
    base: KnowledgeBase,
    vector: np.ndarray,
    count: int = 3,
    skip: Iterable[str] = (),
    distinct: float = 1.01,
    same: float | None = None,
    near: np.ndarray | None = None,
) -> list[str]:
    """Questions the knowledge base answers (its FAQ questions and question headings), closest to the question first,
    in sentence case, each once; none whose key is in ``skip`` or is that of a question at least ``same`` close to
    this one (it asks it again), none as close as ``distinct`` to one already picked. ``near``: the question's row of
    ``closeness_to_questions``, if worked out already."""
    derived = _of(base)
    closeness = derived.question_vectors @ np.asarray(vector, dtype=np.float32).reshape(-1) if near is None else near
    vectors = np.asarray(base.index.sentence_vectors)
    picked: list[SentenceRow] = []
    seen = {_key(s) for s in skip}
    if same is not None:
        seen.update(_key(derived.questions[int(i)].text) for i in np.flatnonzero(closeness >= same))
    for row in _ranked_questions(derived, closeness):
        key = _key(row.text)
        if key in seen or any(float(vectors[row.id] @ vectors[p.id]) >= distinct for p in picked):
            continue
        seen.add(key)
        picked.append(row)
        if len(picked) == count:
            break
    return [sentence_case(r.text.strip(), derived.lower) for r in picked]


def follow_ups(
    base: KnowledgeBase, vector: np.ndarray, answer: Answer, near: np.ndarray | None = None
) -> tuple[str, ...]:
    """After an answer: questions the articles answer, closest to the question first, but not the question itself
    again (nor one as close to it as SAME_QUESTION), and no two as close as DISTINCT to each other."""
    return tuple(
        suggestions(base, vector, FOLLOW_UPS, skip=[answer.question], distinct=DISTINCT, same=SAME_QUESTION, near=near)
    )


@lru_cache(maxsize=1)
def _logistics() -> LogisticsRules:
    return LogisticsRules.packaged()


def on_logistics(question: str) -> bool:
    """A question about the clinic itself (hours, appointments, prices, insurance, parking, how to reach it)."""
    return _logistics().matches(question)


def contact_of(base: KnowledgeBase) -> ClinicContact:
    c = base.profile.contact
    return ClinicContact(c.url, c.phone, c.text)
