"""Words as kbot's lexical signals count them, and what a build keeps of its sentences' words: a BM25 index (bm25s,
saved by `kbot ingest`, memory-mapped by every worker that serves the build) and the words they use.

Computed at load, the full NIH library's BM25 index and word lists took 9 s and 200 MB of each worker's start
(279,070 sentences); read from the build they take a fraction of a second, and the workers share their pages.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN_PLUS

from kbot.chunking import SentenceRow

WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")
# English stop words and their chat spellings; a knowledge base adds its own in its kb.toml ([lexicon] stopwords).
STOPWORDS = frozenset(STOPWORDS_EN_PLUS) | {"im", "ive", "dont", "doesnt", "isnt", "whats", "u", "ur"}
BM25_DIR = "bm25"  # the build's BM25 index, as bm25s saves it
BM25_FILES = tuple(
    f"{BM25_DIR}/{name}"
    for name in (
        "params.index.json",
        "vocab.index.json",
        "data.csc.index.npy",
        "indices.csc.index.npy",
        "indptr.csc.index.npy",
    )
)
WORDS_FILE = "words.json"  # every word (lower case, unstemmed) the sentences use: what a typo is corrected to


def plain_words(text: str) -> list[str]:
    """The words of ``text``, lower case, as written (not stemmed, stop words kept)."""
    return WORD.findall(text.lower().replace("’", "'"))


class Words:
    """Lower case, stemmed, stop words left out: the one tokenisation of BM25, coverage and the questions, so that
    their words agree. ``stopwords``: the knowledge base's own, added to STOPWORDS."""

    def __init__(self, stopwords: Iterable[str] = ()) -> None:
        self.stopwords = STOPWORDS | frozenset(w.lower() for w in stopwords)
        self._stemmer = Stemmer.Stemmer("english")

    def __call__(self, texts: Sequence[str]) -> list[list[str]]:
        return [self._stemmer.stemWords([w for w in plain_words(t) if w not in self.stopwords]) for t in texts]


def lexical_texts(rows: Sequence[SentenceRow], where: Sequence[str]) -> list[str]:
    """What the lexical signals read of each sentence: a quotable one with its heading (``where``, as ``situated``
    gives it), any other alone."""
    return [f"{w} {r.text}" if r.quotable else r.text for r, w in zip(rows, where, strict=True)]


@dataclass(frozen=True)
class Lexical:
    """A build's lexical tables: its BM25 index (``bm25.scores`` in CSC form: for word id ``t``, the sentences
    ``indices[indptr[t]:indptr[t + 1]]`` hold it) and every word its sentences use."""

    bm25: bm25s.BM25
    words: frozenset[str]

    @property
    def sentences(self) -> int:
        return int(self.bm25.scores["num_docs"])

    def holding(self, word: str) -> np.ndarray:
        """The sentences that hold ``word`` (stemmed, as Words gives it), as row ids; none for an unknown word."""
        at = self.bm25.vocab_dict.get(word)
        indptr = self.bm25.scores["indptr"]
        if at is None or at + 1 >= len(indptr):  # bm25s gives "" an id without a column
            return np.zeros(0, dtype=np.int64)
        return np.asarray(self.bm25.scores["indices"][indptr[at] : indptr[at + 1]], dtype=np.int64)

    def document_frequencies(self) -> dict[str, int]:
        """Each word (stemmed) of the sentences, with how many sentences hold it."""
        counts = np.diff(np.asarray(self.bm25.scores["indptr"]))
        return {w: int(counts[i]) for w, i in self.bm25.vocab_dict.items() if i < len(counts)}


def write_lexical(folder: Path, rows: Sequence[SentenceRow], where: Sequence[str], stopwords: Iterable[str]) -> None:
    """The build's BM25 index of ``rows`` (bm25/) and its words (words.json)."""
    bm25 = bm25s.BM25()
    bm25.index(Words(stopwords)(lexical_texts(rows, where)), show_progress=False)
    bm25.save(folder / BM25_DIR, show_progress=False)
    words = sorted({w for r in rows for w in plain_words(r.text)})
    (folder / WORDS_FILE).write_text(json.dumps(words, ensure_ascii=False), encoding="utf-8")


def read_lexical(folder: Path) -> Lexical:
    """A build's lexical tables, the BM25 arrays memory-mapped."""
    bm25 = bm25s.BM25.load(folder / BM25_DIR, mmap=True, show_progress=False)
    words = json.loads((folder / WORDS_FILE).read_text(encoding="utf-8"))
    if not isinstance(words, list):
        raise ValueError(f"{WORDS_FILE} is not a list of words")
    return Lexical(bm25, frozenset(words))
