"""The one façade that the CLI, the HTTP API, the web page and the evaluation call.

question ──safety──> retrieval (dense + lexical) ──> abstention ──> quote selection ──> Answer
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar

import numpy as np
from threadpoolctl import threadpool_limits

from kbot import answer as compose
from kbot.answer import evidence
from kbot.config import Settings
from kbot.domain import Answer, Resource
from kbot.embedding import Embedder, Encoded, load_embedder
from kbot.errors import IndexMissing, InvalidQuestion, InvalidSettings
from kbot.guidance import closeness_to_questions, contact_of, follow_ups, glossary_of, on_logistics, suggestions
from kbot.index import build_index, current_build, kb_index_dir
from kbot.knowledge_base import DEFAULT_KB, KnowledgeBase, as_resources, configured
from kbot.quotes import QuoteSelector
from kbot.reader import Reader, Reading, reader_id
from kbot.registry import Registry
from kbot.retrieval import Candidate, Proposals, Retrieval
from kbot.safety import SafetyGate, order_help_lines

T = TypeVar("T")


def validate_question(question: str, max_chars: int) -> str:
    text = question.strip()
    if not text:
        raise InvalidQuestion("The question is empty. Send a question of a few words, e.g. “How is it treated?”.")
    if len(text) > max_chars:
        raise InvalidQuestion(f"The question is {len(text)} characters long; the limit is {max_chars}. Ask it shorter.")
    return text


@dataclass
class KbotService:
    """One embedding model in memory for every knowledge base; each knowledge base brings its own index."""

    settings: Settings
    embedder: Embedder
    selector: QuoteSelector
    registry: Registry
    reader: Reader | None = None  # reorders retrieval's best candidates (None: retrieval's order)

    @classmethod
    def load(
        cls, settings: Settings, embedder: Embedder | None = None, *, only: Sequence[str] | None = None
    ) -> KbotService:
        """Load the model and every knowledge base (or those named in ``only``, each of which must load: the CLI
        asks one). A knowledge base that cannot be loaded answers its error; the others answer as usual."""
        # numpy's BLAS on one thread, for the whole process: a question's matrix products are small, and BLAS threads
        # left spinning beside torch's slow every model call (ask(): p50 8 / p95 10 ms with this, 17 / 76 without).
        threadpool_limits(1, user_api="blas")
        registry = Registry(settings, embedder.name if embedder else settings.model_name, only=only)
        # The indexes first: a missing or stale one is reported at once, not after the model's seconds of loading.
        registry.refresh()
        for name in only or ():
            registry.get(name)
        embedder = embedder or load_embedder(settings.model_name, settings.bf16)
        reader = Reader(settings.reader_dir, settings.bf16, settings.reader_int8) if settings.reader else None
        if reader is not None and reader.adapter is not None and reader.adapter.dim != embedder.dim:
            raise InvalidSettings(
                f"The reader's question adapter ({reader.folder}) moves {reader.adapter.dim}-dimensional vectors; "
                f"the embedding model {embedder.name} makes {embedder.dim}-dimensional ones.",
                "train an adapter for this model (python -m kbot.reader.adapting), or remove adapter.npz from "
                "the reader's folder",
            )
        selector = QuoteSelector(max_quotes=settings.max_quotes)
        return cls(settings, embedder, selector, registry, reader.load() if reader is not None else None)

    def kb(self, name: str = DEFAULT_KB) -> KnowledgeBase:
        """A served knowledge base; UnknownKnowledgeBase, or the error that keeps it from being served."""
        return self.registry.get(name)

    def with_knowledge_base(self, kb: KnowledgeBase) -> KbotService:
        """The same service, serving ``kb`` under its name instead of the loaded one (experiments and tests)."""
        return dataclasses.replace(self, registry=self.registry.replaced(kb))

    def refresh(self) -> list[str]:
        """Serve every knowledge base whose index was rebuilt since it was loaded (see Registry.refresh)."""
        return self.registry.refresh()

    def ask(self, question: str, kb: str = DEFAULT_KB) -> Answer:
        return self.ask_batch([question], [kb])[0]

    def crisis_answer(self, question: str, kb: str = DEFAULT_KB) -> Answer | None:
        """The crisis reply if ``kb``'s safety gate calls the question a crisis, else None; no model call. For a
        caller the API would otherwise refuse (over the rate limit): a crisis still gets the help lines."""
        base = self.kb(kb)
        text = validate_question(question, self.settings.max_question_chars)
        verdict = base.safety.classify(text)
        if verdict.kind != "crisis":
            return None
        return compose.crisis(text, base.help_lines(verdict), base.notice)  # as ask_batch answers it

    def ask_batch(self, questions: Sequence[str], kbs: Sequence[str] | None = None) -> list[Answer]:
        """Answer several questions, each from its knowledge base (``default`` when ``kbs`` is None), with one model
        call for all that reach retrieval."""
        bases = [self.kb(name) for name in (kbs or [DEFAULT_KB] * len(questions))]
        texts = [validate_question(q, self.settings.max_question_chars) for q in questions]
        verdicts = [base.safety.classify(t) for base, t in zip(bases, texts, strict=True)]
        queries, encoded = self.encode_questions(texts, bases)
        answers: list[Answer | None] = []
        asking: list[tuple[_Retrieved, str]] = []  # for retrieval, with its normalised question
        for base, text, verdict, query, enc in zip(bases, texts, verdicts, queries, encoded, strict=True):
            if verdict.kind == "crisis":
                answers.append(compose.crisis(text, base.help_lines(verdict), base.notice))
            elif on_logistics(text):  # the clinic's hours, appointments, prices: its contact, not articles
                answers.append(compose.clinic_contact(text, contact_of(base), base.notice))
            elif verdict.kind == "advice":
                answers.append(compose.declined(text, suggestions(base, enc.vector), base.notice, verdict.rule))
            else:  # an answer about an emergency carries the help lines too: its reader may be facing one
                help_lines = base.resources if verdict.emergency_topic else ()
                asking.append((_Retrieved(len(answers), base, text, enc, help_lines), query))
                answers.append(None)
        retrieved: list[_Retrieved] = []  # answerable on retrieval's evidence: quoted once the reader has read them all
        for (asked, query), proposed in zip(asking, self.propose([a for a, _ in asking]), strict=True):
            answers[asked.slot] = self._retrieve(asked, query, proposed)
            if answers[asked.slot] is None:
                retrieved.append(asked)
        near = self._closeness(retrieved)
        for asked, candidates, row in zip(retrieved, self._read(retrieved), near, strict=True):
            answers[asked.slot] = self._quote(asked, candidates, row)
        filled = [a for a in answers if a is not None]
        assert len(filled) == len(answers), "every question gets its answer, in its place"
        return filled

    def encode_questions(
        self, texts: Sequence[str], bases: Sequence[KnowledgeBase] | KnowledgeBase
    ) -> tuple[list[str], list[Encoded]]:
        """Each question normalised for retrieval by its knowledge base's lexicon, and all of them encoded in one model
        call (a question with nothing left after normalising is encoded as written); where its knowledge base uses the
        reader's question adapter, with the adapted vector its candidates are ranked by (``Encoded.ranking``)."""
        if isinstance(bases, KnowledgeBase):
            bases = [bases] * len(texts)
        queries = [base.retriever.normalizer.normalize(t) for base, t in zip(bases, texts, strict=True)]
        encoded = self.embedder.encode([q or t for q, t in zip(queries, texts, strict=True)])
        adapter = self.reader.adapter if self.reader is not None else None
        adapts = [i for i, base in enumerate(bases) if base.profile.reader.adapts()] if adapter else []
        if adapter and adapts:  # one product for the batch: what retrieval ranks by (kbot.reader.adapter)
            moved = adapter(np.stack([encoded[i].vector for i in adapts]))
            for i, vector in zip(adapts, moved, strict=True):
                encoded[i] = dataclasses.replace(encoded[i], ranking=vector)
        return queries, encoded

    def propose(self, asking: Sequence[_Retrieved]) -> list[Proposals]:
        """What the FAISS indexes propose for each question, searched together with the others of its knowledge base
        (``Retriever.propose``)."""
        return _per_knowledge_base(asking, lambda base, vectors: base.retriever.propose(list(vectors)))

    def _retrieve(self, asked: _Retrieved, query: str, proposed: Proposals | None = None) -> Answer | None:
        """The reply when retrieval's evidence does not let it answer; else None, and ``asked.found`` is set."""
        base, text, encoded = asked.base, asked.text, asked.encoded
        if not asks_something(text):
            return compose.no_answer(text, suggestions(base, encoded.vector), base.notice, {}, asked.help_lines)
        asked.found = base.retriever.retrieve(query, encoded, proposed=proposed)
        if not base.abstention.should_answer(asked.found):
            signals = evidence(asked.found)
            return compose.no_answer(text, suggestions(base, encoded.vector), base.notice, signals, asked.help_lines)
        return None

    def _read(self, retrieved: Sequence[_Retrieved]) -> list[tuple[Candidate, ...]]:
        """Each question's candidates, reordered by the reader (one model call for all of them) when there is one."""
        found = [asked.found.candidates for asked in retrieved if asked.found is not None]
        if self.reader is None or not found:
            return found
        readings = []
        for asked, candidates in zip(retrieved, found, strict=True):
            use, retriever = asked.base.profile.reader, asked.base.retriever
            readings.append(
                Reading(asked.text, candidates, retriever.passage, use.depth, use.weight, heading=retriever.heading)
            )
        return self.reader.rerank_batch(readings)

    def _closeness(self, retrieved: Sequence[_Retrieved]) -> list[np.ndarray]:
        """Each question's closeness to its knowledge base's questions (for its follow-ups), in one product for those
        of the same knowledge base (``guidance.closeness_to_questions``)."""
        return _per_knowledge_base(retrieved, closeness_to_questions)

    def _quote(self, asked: _Retrieved, candidates: Sequence[Candidate], near: np.ndarray) -> Answer:
        base, text, encoded, help_lines = asked.base, asked.text, asked.encoded, asked.help_lines
        assert asked.found is not None
        signals = evidence(asked.found)
        selections = self.selector.select(candidates, base.index.sentences, base.index.sentence_vectors)
        if not selections:  # every candidate leans on a sentence it cannot carry ("He ..."): nothing to quote first
            return compose.no_answer(text, suggestions(base, encoded.vector), base.notice, signals, help_lines)
        reply = compose.answered(text, selections, base.index.documents, base.notice, signals, help_lines)
        return dataclasses.replace(
            reply,
            follow_ups=follow_ups(base, encoded.vector, reply, near),
            glossary=glossary_of(base).for_quotes(reply.quotes),
        )


@dataclass
class _Retrieved:
    """A question on its way through retrieval, the reader and quote selection; ``slot`` is its place in the batch."""

    slot: int
    base: KnowledgeBase
    text: str
    encoded: Encoded
    help_lines: tuple[Resource, ...]
    found: Retrieval | None = None


def _per_knowledge_base(
    asking: Sequence[_Retrieved], work: Callable[[KnowledgeBase, np.ndarray], Iterable[T]]
) -> list[T]:
    """``work`` done once per knowledge base, on the stacked vectors of its questions among ``asking`` (one FAISS
    search, one product), each question's result in ``asking``'s order."""
    together: dict[str, list[_Retrieved]] = {}
    for asked in asking:
        together.setdefault(asked.base.name, []).append(asked)
    found: dict[int, T] = {}
    for group in together.values():
        results = work(group[0].base, np.stack([asked.encoded.vector for asked in group]))
        found.update((asked.slot, result) for asked, result in zip(group, results, strict=True))
    return [found[asked.slot] for asked in asking]


def asks_something(text: str) -> bool:
    """Whether a message holds a letter or digit: "," or "👍" asks nothing, and no sentence is close to it in meaning
    (a lone "," embedded at cosine 0.73 to a short list item of the NIH library)."""
    return any(ch.isalnum() for ch in text)


@lru_cache(maxsize=1)
def _packaged_gate() -> SafetyGate:
    return SafetyGate.from_file()


def fallback_crisis(question: str, settings: Settings) -> Answer | None:
    """The crisis reply by the packaged safety rules and the deployment's help lines, else None: for a message kbot
    cannot otherwise answer (still loading, or its knowledge base cannot answer), so that no error stands between a
    crisis and the help lines. Needs neither the model nor an index."""
    text = question.strip()
    verdict = _packaged_gate().classify(text) if text else None
    if verdict is None or verdict.kind != "crisis":
        return None
    lines = order_help_lines(settings.help_lines, verdict)
    return compose.crisis(text, as_resources(lines), settings.notice)


def ensure_indexes(settings: Settings, embedder: Embedder | None = None) -> list[str]:
    """Build the index of every knowledge base that has none yet. Returns the names it built."""
    built: list[str] = []
    for name, folder in configured(settings).items():
        index_dir = kb_index_dir(settings.index_dir, name)
        if current_build(index_dir) is None:
            embedder = embedder or load_embedder(settings.model_name, settings.bf16)
            build_index(folder, index_dir, embedder, settings.passage_sentences, reader_id(settings))
            built.append(name)
    return built


__all__ = ["IndexMissing", "KbotService", "ensure_indexes", "suggestions", "validate_question"]
