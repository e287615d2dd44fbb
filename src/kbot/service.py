"""The one façade that the CLI, the HTTP API, the web page and the evaluation call.

question ──safety──> retrieval (dense + lexical) ──> abstention ──> quote selection ──> Answer
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from kbot import answer as compose
from kbot.answer import Abstention, evidence
from kbot.catalog import CALIBRATION_FILE
from kbot.config import Settings
from kbot.domain import Answer, Document, Resource, SourceMeta
from kbot.embedding import Embedder, Encoded, load_embedder
from kbot.errors import IndexMissing, InvalidQuestion
from kbot.index import Index, build_index, load_index
from kbot.quotes import QuoteSelector
from kbot.retrieval import Retriever
from kbot.safety import SafetyGate

# Used only when seeds/abstention.toml is missing: what `kbot calibrate` chose for the first knowledge base before
# word pieces joined retrieval (its file now says min_coverage 0.58). A starting point, not a calibration.
DEFAULT_ABSTENTION = Abstention(min_dense=0.68, min_coverage=0.53, min_dense_with_coverage=0.25)


def load_abstention(settings: Settings) -> Abstention:
    """Thresholds from settings if set, else from seeds/abstention.toml (written by `kbot calibrate`), else defaults."""
    path = settings.seeds_dir / CALIBRATION_FILE
    found = tomllib.loads(path.read_text(encoding="utf-8")).get("thresholds", {}) if path.is_file() else {}

    def pick(setting: float | None, name: str) -> float:
        return setting if setting is not None else float(found.get(name, getattr(DEFAULT_ABSTENTION, name)))

    return Abstention(
        min_dense=pick(settings.min_dense_score, "min_dense"),
        min_coverage=pick(settings.min_coverage, "min_coverage"),
        min_dense_with_coverage=pick(settings.min_coverage_dense, "min_dense_with_coverage"),
    )


def validate_question(question: str, max_chars: int) -> str:
    text = question.strip()
    if not text:
        raise InvalidQuestion("The question is empty. Send a question of a few words, e.g. “Is ketamine an opioid?”.")
    if len(text) > max_chars:
        raise InvalidQuestion(f"The question is {len(text)} characters long; the limit is {max_chars}. Ask it shorter.")
    return text


@dataclass
class KbotService:
    settings: Settings
    index: Index
    embedder: Embedder
    retriever: Retriever
    selector: QuoteSelector
    safety: SafetyGate
    abstention: Abstention

    @classmethod
    def load(cls, settings: Settings, embedder: Embedder | None = None) -> KbotService:
        # numpy's BLAS on one thread, for the whole process: a question's matrix products are small, and BLAS threads
        # left spinning beside torch's slow every model call (ask(): p50 8 / p95 10 ms with this, 17 / 76 without).
        threadpool_limits(1, user_api="blas")
        # The index first: a missing or stale one is reported at once, not after the model's seconds of loading.
        index = load_index(settings.index_dir, settings.seeds_dir, embedder.name if embedder else settings.model_name)
        embedder = embedder or load_embedder(settings.model_name)
        return cls(
            settings=settings,
            index=index,
            embedder=embedder,
            retriever=Retriever(index, settings.top_passages),
            selector=QuoteSelector(max_quotes=settings.max_quotes),
            safety=SafetyGate.from_file(),
            abstention=load_abstention(settings),
        )

    @property
    def resources(self) -> tuple[Resource, ...]:
        return tuple(Resource(h.name, h.action, h.phone, h.sms) for h in self.settings.help_lines)

    def sources(self) -> list[SourceMeta]:
        return [d.meta for d in self.index.documents.values()]

    def document(self, source_id: str) -> Document | None:
        return self.index.documents.get(source_id)

    def ask(self, question: str) -> Answer:
        return self.ask_batch([question])[0]

    def crisis_answer(self, question: str) -> Answer | None:
        """The crisis reply if the safety gate calls the question a crisis, else None; no model call. For a caller
        the API would otherwise refuse (over the rate limit): a crisis still gets the help lines."""
        text = validate_question(question, self.settings.max_question_chars)
        if self.safety.classify(text).kind != "crisis":
            return None
        return compose.crisis(text, self.resources, self.settings.notice)

    def ask_batch(self, questions: Sequence[str]) -> list[Answer]:
        """Answer several questions with one model call for all that reach retrieval."""
        texts = [validate_question(q, self.settings.max_question_chars) for q in questions]
        verdicts = [self.safety.classify(t) for t in texts]
        queries, encoded = self.encode_questions(texts)
        answers: list[Answer] = []
        for text, verdict, query, enc in zip(texts, verdicts, queries, encoded, strict=True):
            notice = self.settings.notice
            if verdict.kind == "crisis":
                answers.append(compose.crisis(text, self.resources, notice))
            elif verdict.kind == "advice":
                answers.append(compose.declined(text, self.suggestions(enc.vector), notice, verdict.rule))
            else:  # an answer about an emergency carries the help lines too: its reader may be facing one
                help_lines = self.resources if verdict.emergency_topic else ()
                answers.append(self._retrieve_and_quote(text, query, enc, help_lines))
        return answers

    def encode_questions(self, texts: Sequence[str]) -> tuple[list[str], list[Encoded]]:
        """Each question normalised for retrieval, and all of them encoded in one model call (a question with nothing
        left after normalising is encoded as written)."""
        queries = [self.retriever.normalizer.normalize(t) for t in texts]
        return queries, self.embedder.encode([q or t for q, t in zip(queries, texts, strict=True)])

    def _retrieve_and_quote(
        self, text: str, query: str, encoded: Encoded, help_lines: tuple[Resource, ...] = ()
    ) -> Answer:
        found = self.retriever.retrieve(query, encoded)
        signals = evidence(found)
        if not self.abstention.should_answer(found):
            return compose.no_answer(text, self.suggestions(encoded.vector), self.settings.notice, signals, help_lines)
        selections = self.selector.select(found.candidates, self.index.sentences, self.index.sentence_vectors)
        return compose.answered(text, selections, self.index.documents, self.settings.notice, signals, help_lines)

    def suggestions(self, vector: np.ndarray, count: int = 3) -> list[str]:
        """Questions the sources answer (their FAQ questions and question headings), closest to the asked one first."""
        rows = [r for r in self.index.sentences if r.is_question]
        if not rows:
            return []
        vectors = np.asarray(self.index.sentence_vectors)[[r.id for r in rows]]
        order = np.argsort(-(vectors @ np.asarray(vector, dtype=np.float32)))
        picked: list[str] = []
        seen: set[str] = set()
        for i in order:
            key = " ".join(rows[i].text.lower().split()).rstrip("?")
            if key not in seen:
                seen.add(key)
                picked.append(rows[i].text.strip())
            if len(picked) == count:
                break
        return picked


def ensure_index(settings: Settings, embedder: Embedder | None = None) -> bool:
    """Build the index if there is none yet. Returns True when it built one."""
    if (Path(settings.index_dir) / "current" / "manifest.json").exists():
        return False
    embedder = embedder or load_embedder(settings.model_name)
    build_index(settings.seeds_dir, settings.index_dir, embedder, settings.passage_sentences)
    return True


__all__ = ["IndexMissing", "KbotService", "ensure_index", "validate_question"]
