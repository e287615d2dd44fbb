"""Composing the answer object for each of the four outcomes, and its plain-text rendering (notice always last)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kbot.domain import Answer, Document, Quote, Resource, SourceRef, Status
from kbot.quotes import Selection, quote_text
from kbot.retrieval import Retrieval

NO_ANSWER_MESSAGE = (
    "I could not find an answer to that in the articles I quote from, so I would rather not guess. "
    "Here are some questions these articles do answer:"
)
DECLINED_MESSAGE = (
    "I can't advise on your own treatment, such as doses, starting, stopping or combining medicines, or what is safe "
    "for you. Your clinician can, because they know your health and history. "
    "I can share what the articles say about general questions, such as:"
)
CRISIS_MESSAGE = (
    "It sounds like you or someone with you may be in danger. Please get help right now. "
    "You don't have to go through this alone."
)


@dataclass(frozen=True)
class Abstention:
    """Answer only when the evidence is strong enough; thresholds come from `kbot calibrate`."""

    min_dense: float
    min_overlap: float

    def should_answer(self, retrieval: Retrieval) -> bool:
        return (
            bool(retrieval.candidates)
            and retrieval.top_dense >= self.min_dense
            and retrieval.overlap >= self.min_overlap
        )


def evidence(retrieval: Retrieval) -> dict[str, float]:
    return {
        "top_dense": round(retrieval.top_dense, 4),
        "top_passage": round(retrieval.top_passage, 4),
        "overlap": round(retrieval.overlap, 4),
        "top_score": round(retrieval.candidates[0].score, 4) if retrieval.candidates else 0.0,
    }


def _render(lines: Sequence[str], notice: str) -> str:
    return "\n\n".join([*lines, notice])


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
) -> Answer:
    citations: dict[str, int] = {}
    quotes: list[Quote] = []
    for sel in selections:
        source_id = sel.sentences[0].source_id
        citation = citations.setdefault(source_id, len(citations) + 1)
        doc = documents[source_id]
        quotes.append(
            Quote(
                quote_text(sel, documents),
                source_id,
                doc.meta.file,
                sel.start,
                sel.end,
                sel.candidate.score,
                citation,
                sel.also_in,
            )
        )
    refs = tuple(SourceRef(n, documents[sid].meta) for sid, n in citations.items())
    lines = [
        f"“{q.text}” [{q.citation}]"
        + (f" (also said by {', '.join(documents[s].meta.publisher for s in q.also_in)})" if q.also_in else "")
        for q in quotes
    ]
    lines.append("Sources:\n" + "\n".join(_source_line(r) for r in refs))
    return Answer(
        Status.ANSWERED, question, tuple(quotes), refs, notice, _render(lines, notice), evidence=signals or {}
    )


def no_answer(
    question: str, suggestions: Sequence[str], notice: str, signals: dict[str, float] | None = None
) -> Answer:
    lines = [NO_ANSWER_MESSAGE + "".join(f"\n- {s}" for s in suggestions)]
    return Answer(
        Status.NO_ANSWER,
        question,
        (),
        (),
        notice,
        _render(lines, notice),
        NO_ANSWER_MESSAGE,
        tuple(suggestions),
        evidence=signals or {},
    )


def declined(question: str, suggestions: Sequence[str], notice: str, rule: str = "") -> Answer:
    lines = [DECLINED_MESSAGE + "".join(f"\n- {s}" for s in suggestions)]
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
