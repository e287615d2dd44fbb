"""Proposing candidate sentences without scoring every one: a FAISS index per view over the quotable sentences.

Below ``IVF_FROM`` quotable sentences the index is exact (a flat inner-product index). From there on it is an inverted
file (IVF) of 8-bit scalar-quantised vectors: the question is compared with ``NPROBE`` cluster centroids' members only,
a few per cent of the sentences, and the candidates it proposes are re-scored exactly from the view's float vectors.
Either way the index is memory-mapped when loaded, so workers share it. A rebuild reuses the clusters of the index it
replaces while the number of rows has changed by under ``REUSE_WITHIN``: training them took 7 of the 86 s a re-ingest
of the full NIH library took after one edit. So a large library's rebuild after an edit can propose slightly other
candidates than a build from scratch would (whose clusters are trained afresh); a small one's exact index cannot.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

from kbot.embedding import Vectors

IVF_FROM = 20_000
# Clusters searched, of about 2 * sqrt(n): at the full NIH library's 279,070 sentences 16 of 1,056, 1.5% of the vectors.
# Chosen there on NIH dev's questions (602, every fifth; the reader on): support@1 / @3 0.713 / 0.827 at 32, 0.713 /
# 0.824 at 16, 0.718 / 0.826 at 8 (the lexical signals propose candidates too), and 16 saves 8 ms a question over 32.
NPROBE = 16
_TRAIN_PER_CLUSTER = 40  # k-means needs about this many points per centroid; more only costs time
_ADD_CHUNK = 50_000  # rows read from the memory-mapped view at a time
REUSE_WITHIN = 0.1  # a share of the rows the replaced index held


def build(vectors: Vectors, ids: npt.NDArray[np.int64], before: Any | None = None) -> Any:
    """A FAISS index of the rows ``ids`` of ``vectors`` (unit length), searched by inner product, returning row ids.
    ``before``: the index this one replaces (``read_whole``), whose trained clusters it reuses if they fit."""
    dim = vectors.shape[1]
    index: Any
    if len(ids) < IVF_FROM:
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    elif _reusable(before, dim, len(ids)):
        index = before
        index.reset()  # its clusters and quantiser, without its rows
        index.nprobe = NPROBE
    else:
        clusters = int(2 * math.sqrt(len(ids)))
        index = faiss.IndexIVFScalarQuantizer(
            faiss.IndexFlatIP(dim), dim, clusters, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
        )
        sample = np.sort(np.random.default_rng(0).choice(ids, min(len(ids), clusters * _TRAIN_PER_CLUSTER), False))
        index.train(np.ascontiguousarray(vectors[sample], dtype=np.float32))
        index.nprobe = NPROBE
    for start in range(0, len(ids), _ADD_CHUNK):
        chunk = ids[start : start + _ADD_CHUNK]
        index.add_with_ids(np.ascontiguousarray(vectors[chunk], dtype=np.float32), chunk)
    return index


def write(index: Any, path: Path) -> None:
    faiss.write_index(index, str(path))


def read(path: Path) -> Any:
    """A built index, memory-mapped, searching ``NPROBE`` clusters whatever the build stored."""
    index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP)
    if isinstance(index, faiss.IndexIVF):
        index.nprobe = NPROBE
    return index


def read_whole(path: Path) -> Any:
    """An index read into memory, not mapped: one that ``build`` may empty and fill again."""
    return faiss.read_index(str(path))


def _reusable(before: Any | None, dim: int, rows: int) -> bool:
    """Whether ``before`` is an IVF index of this kind, in ``dim`` dimensions, that held about ``rows`` rows."""
    if not isinstance(before, faiss.IndexIVFScalarQuantizer) or before.d != dim or not before.is_trained:
        return False
    return abs(rows - before.ntotal) <= REUSE_WITHIN * before.ntotal


def search(index: Any, vectors: Vectors, k: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """FAISS's ``index.search`` (scores and ids, -1 where fewer were found) on one OpenMP thread. FAISS has its own
    OpenMP runtime, which gives every thread that searches as many threads as there are cores, whatever torch was
    told: for a served batch's few vectors a second one made the search slower (a batch of four: 4.5 against 2.4 ms a
    question on the full NIH library), and it spins after each search on the cores the other lane's models use."""
    threads = faiss.omp_get_max_threads()  # the calling thread's own setting, put back after
    faiss.omp_set_num_threads(1)
    try:
        scores, ids = index.search(np.ascontiguousarray(vectors, dtype=np.float32), k)
    finally:
        faiss.omp_set_num_threads(threads)
    return scores, ids


def nearest(index: Any, vector: Vectors, k: int) -> npt.NDArray[np.int64]:
    """The row ids of the (about) ``k`` rows closest to ``vector``, best first."""
    return nearest_each(index, np.asarray(vector).reshape(1, -1), k)[0]


def nearest_each(index: Any, vectors: Vectors, k: int) -> list[npt.NDArray[np.int64]]:
    """``nearest`` for each row of ``vectors``, in one search: on the full NIH library's IVF index a search of eight
    questions costs about a fifth per question of eight searches of one, for the same ids (tests/test_ann.py)."""
    if not index.ntotal:
        return [np.zeros(0, dtype=np.int64) for _ in range(len(vectors))]
    _, found = search(index, vectors, min(k, index.ntotal))
    return [ids[ids >= 0] for ids in found]
