"""Composing the answer object for each of the four outcomes, and its plain-text rendering (notice always last)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kbot.domain import Answer, ClinicContact, Document, Quote, Resource, SourceRef, Status
from kbot.logistics import contact_message
from kbot.quotes import Selection, quote_text
from kbot.retrieval import Retrieval
from kbot.text_fragment import article_link

NO_ANSWER_MESSAGE = "I could not find an answer to that in the articles I quote from, so I would rather not guess."
DECLINED_MESSAGE = (
    "I can't advise on your own treatment, such as doses, starting, stopping or combining medicines, or what is safe "
    "for you. Your clinician can, because they know your health and history. "
    "I can share what the articles say about general questions."
)
SUGGESTIONS_LEAD = "Questions these articles answer:"  # said once, before the suggestions (the chat page says it too)
CRISIS_MESSAGE = (
    "It sounds like you or someone with you may be in danger. Please get help right now. "
    "You don't have to go through this alone."
)
HELP_HEADING = "If someone is in danger now:"


@dataclass(frozen=True)
class Abstention:
    """When to answer, with thresholds from `kbot calibrate`: when the best sentence is close in meaning to the
    question, or when the sentence kbot would quote first holds most of the question's distinctive (IDF-weighted)
    words and is not far off in meaning. The second way answers short questions about a term the sources define
    ("whats mtor"), which embed far from any long sentence; its floor keeps out a quote that merely shares a name with
    the question ("where is palo alto")."""

    min_dense: float
    min_coverage: float
    min_dense_with_coverage: float

    def admits(self, dense: Any, coverage: Any) -> Any:
        """The rule, on numbers or on numpy arrays of them (as `kbot calibrate` scores many questions at once)."""
        return (dense >= self.min_dense) | ((coverage >= self.min_coverage) & (dense >= self.min_dense_with_coverage))

    def should_answer(self, retrieval: Retrieval) -> bool:
        return bool(retrieval.candidates) and bool(self.admits(retrieval.top_dense, retrieval.coverage))


def evidence(retrieval: Retrieval) -> dict[str, float]:
    return {
        "top_dense": round(retrieval.top_dense, 4),
        "top_passage": round(retrieval.top_passage, 4),
        "coverage": round(retrieval.coverage, 4),
        "top_score": round(retrieval.candidates[0].score, 4) if retrieval.candidates else 0.0,
    }


def _render(lines: Sequence[str], notice: str) -> str:
    return "\n\n".join([*lines, notice])


def _with_suggestions(message: str, suggestions: Sequence[str]) -> str:
    return message + (f"\n{SUGGESTIONS_LEAD}" + "".join(f"\n- {s}" for s in suggestions) if suggestions else "")


def _help_block(resources: Sequence[Resource]) -> list[str]:
    """The help lines of an answer about an emergency (none otherwise): one paragraph, first, as search engines
    put a help line above results about suicide or overdose: the reader may be facing one now."""
    return [HELP_HEADING + "".join(f"\n- {r.action}" for r in resources)] if resources else []


def _source_line(ref: SourceRef) -> str:
    m = ref.meta
    parts = [m.publisher, f"“{m.title}”"]
    if m.updated:
        parts.append(f"updated {m.updated}")
    if m.url:
        parts.append(m.url)
    return f"[{ref.citation}] " + ", ".join(parts)


def answered(
    question: str,
    selections: Sequence[Selection],
    documents: Mapping[str, Document],
    notice: str,
    signals: dict[str, float] | None = None,
    resources: Sequence[Resource] = (),
) -> Answer:
    """The help lines when ``resources`` are given; quotes with [n] markers; the sources; the notice."""
    citations: dict[str, int] = {}
    quotes: list[Quote] = []
    for sel in selections:
        source_id = sel.sentences[0].source_id
        citation = citations.setdefault(source_id, len(citations) + 1)
        doc = documents[source_id]
        text = quote_text(sel, documents)
        link = article_link(doc.meta.url, text) if doc.meta.url else ""
        quotes.append(
            Quote(text, source_id, doc.meta.file, sel.start, sel.end, sel.candidate.score, citation, sel.also_in, link)
        )
    for sel in selections:  # a source that only says the same thing as a quote is listed too, after the quoted ones
        for source_id in sel.also_in:
            citations.setdefault(source_id, len(citations) + 1)
    refs = tuple(SourceRef(n, documents[sid].meta) for sid, n in citations.items())
    lines = _help_block(resources) + [
        f"“{q.text}” [{q.citation}]"
        + (
            f" (also said by {', '.join(f'{documents[s].meta.publisher} [{citations[s]}]' for s in q.also_in)})"
            if q.also_in
            else ""
        )
        for q in quotes
    ]
    lines.append("Sources:\n" + "\n".join(_source_line(r) for r in refs))
    return Answer(
        Status.ANSWERED,
        question,
        tuple(quotes),
        refs,
        notice,
        _render(lines, notice),
        resources=tuple(resources),
        evidence=signals or {},
    )


def no_answer(
    question: str,
    suggestions: Sequence[str],
    notice: str,
    signals: dict[str, float] | None = None,
    resources: Sequence[Resource] = (),
) -> Answer:
    lines = [*_help_block(resources), _with_suggestions(NO_ANSWER_MESSAGE, suggestions)]
    return Answer(
        Status.NO_ANSWER,
        question,
        (),
        (),
        notice,
        _render(lines, notice),
        NO_ANSWER_MESSAGE,
        tuple(suggestions),
        tuple(resources),
        evidence=signals or {},
    )


def declined(question: str, suggestions: Sequence[str], notice: str, rule: str = "") -> Answer:
    lines = [_with_suggestions(DECLINED_MESSAGE, suggestions)]
    return Answer(
        Status.DECLINED,
        question,
        (),
        (),
        notice,
        _render(lines, notice),
        DECLINED_MESSAGE,
        tuple(suggestions),
        evidence={"rule": 1.0} if rule else {},
    )


def crisis(question: str, resources: Sequence[Resource], notice: str) -> Answer:
    lines = [r.action for r in resources] + [CRISIS_MESSAGE]
    return Answer(
        Status.CRISIS, question, (), (), notice, _render(lines, notice), CRISIS_MESSAGE, resources=tuple(resources)
    )


def clinic_contact(question: str, contact: ClinicContact, notice: str) -> Answer:
    """A question about the clinic itself (hours, appointments, prices): its contact, not pharmacology suggestions."""
    message = contact_message(contact)
    return Answer(
        Status.NO_ANSWER,
        question,
        (),
        (),
        notice,
        _render([message], notice),
        message,
        contact=contact if contact.url or contact.phone or contact.text else None,
        evidence={"logistics": 1.0},
    )
