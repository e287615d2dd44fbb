"""FAISS indexes that propose candidates: exact below IVF_FROM rows, an inverted file from there on, memory-mapped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faiss
import numpy as np
import pytest

from kbot import ann
from kbot.embedding import unit_rows


def _clustered(n: int, dim: int = 32, seed: int = 1) -> np.ndarray:
    """Unit vectors around 50 directions, as sentence embeddings cluster by topic."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(50, dim))
    return unit_rows((centres[rng.integers(0, 50, n)] + 0.4 * rng.normal(size=(n, dim))).astype(np.float32))


def test_a_small_index_is_exact_and_returns_row_ids(tmp_path: Path) -> None:
    vectors = _clustered(500)
    ids = np.arange(1, 500, 2, dtype=np.int64)  # only some rows (the quotable ones) are indexed
    ann.write(ann.build(vectors, ids), tmp_path / "v.faiss")
    index = ann.read(tmp_path / "v.faiss")
    query = vectors[7]
    expected = ids[np.argsort(-(vectors[ids] @ query))[:10]]
    assert list(ann.nearest(index, query, 10)) == list(expected)


def test_a_large_index_is_an_inverted_file_that_finds_the_nearest_rows(tmp_path: Path) -> None:
    n = ann.IVF_FROM + 1_000
    vectors = _clustered(n)
    ids = np.arange(n, dtype=np.int64)
    built = ann.build(vectors, ids)
    assert built.nlist < n / 50 and built.nprobe == ann.NPROBE
    ann.write(built, tmp_path / "v.faiss")
    index = ann.read(tmp_path / "v.faiss")
    recalls = []
    for q in range(0, n, n // 20):
        exact = set(np.argsort(-(vectors @ vectors[q]))[:20])
        recalls.append(len(exact & set(ann.nearest(index, vectors[q], 100))) / 20)
    assert np.mean(recalls) >= 0.95


def test_a_build_is_searched_with_todays_nprobe_whatever_it_stored(tmp_path: Path) -> None:
    built = ann.build(_clustered(ann.IVF_FROM + 1_000), np.arange(ann.IVF_FROM + 1_000, dtype=np.int64))
    built.nprobe = 2 * ann.NPROBE  # as an earlier kbot wrote its indexes
    ann.write(built, tmp_path / "v.faiss")
    assert ann.read(tmp_path / "v.faiss").nprobe == ann.NPROBE


@pytest.mark.parametrize("n", [500, ann.IVF_FROM + 1_000])
def test_one_search_for_several_vectors_finds_what_each_finds_alone(tmp_path: Path, n: int) -> None:
    vectors = _clustered(n)
    ann.write(ann.build(vectors, np.arange(n, dtype=np.int64)), tmp_path / "v.faiss")
    index = ann.read(tmp_path / "v.faiss")
    queries = _clustered(12, seed=2)
    together = ann.nearest_each(index, queries, 50)
    assert len(together) == len(queries)
    for query, found in zip(queries, together, strict=True):
        assert list(found) == list(ann.nearest(index, query, 50)) and len(found) == 50


def test_a_search_runs_on_one_thread_and_leaves_the_threads_of_the_thread_that_searched() -> None:
    """A served search is a few vectors, which FAISS's OpenMP threads make slower and which spin on cores the models
    need; the builds' own searches keep their threads."""
    import threading

    n = ann.IVF_FROM + 1_000
    vectors = _clustered(n)
    index = ann.build(vectors, np.arange(n, dtype=np.int64))
    queries = _clustered(4, seed=3)
    seen: list[int] = []
    searching = index.search

    def search(x: np.ndarray, k: int) -> Any:
        seen.append(faiss.omp_get_max_threads())
        return searching(x, k)

    index.search = search
    expected = searching(queries, 20)
    before = faiss.omp_get_max_threads()
    scores, ids = ann.search(index, queries, 20)
    assert seen == [1] and faiss.omp_get_max_threads() == before
    assert np.array_equal(ids, expected[1]) and np.allclose(scores, expected[0])
    worker = threading.Thread(target=ann.search, args=(index, queries, 5))  # each thread has its own setting
    worker.start()
    worker.join()
    assert seen == [1, 1]


@pytest.mark.parametrize("n", [0, 3])
def test_tiny_and_empty_indexes_answer_what_they_hold(tmp_path: Path, n: int) -> None:
    vectors = _clustered(max(n, 1))[:n]
    index = ann.build(vectors, np.arange(n, dtype=np.int64))
    assert sorted(ann.nearest(index, _clustered(1)[0], 10)) == list(range(n))


def test_a_rebuild_reuses_the_clusters_of_the_index_it_replaces_while_the_rows_are_about_the_same(
    tmp_path: Path,
) -> None:
    n = ann.IVF_FROM + 1_000
    vectors = _clustered(n)
    ann.write(ann.build(vectors, np.arange(n, dtype=np.int64)), tmp_path / "v.faiss")
    centroids = _centroids(ann.read_whole(tmp_path / "v.faiss"))
    edited = np.arange(n - 500, dtype=np.int64)  # a few rows fewer: the same clusters, its own rows
    rebuilt = ann.build(vectors, edited, ann.read_whole(tmp_path / "v.faiss"))
    assert rebuilt.ntotal == len(edited) and rebuilt.nprobe == ann.NPROBE
    np.testing.assert_array_equal(_centroids(rebuilt), centroids)
    assert set(ann.nearest(rebuilt, vectors[3], 20)) <= set(edited.tolist())
    assert 3 in ann.nearest(rebuilt, vectors[3], 20)
    grown = np.arange(2 * n, dtype=np.int64)  # twice the rows: clusters trained for these
    retrained = ann.build(_clustered(2 * n), grown, ann.read_whole(tmp_path / "v.faiss"))
    assert retrained.nlist == int(2 * np.sqrt(2 * n)) and retrained.ntotal == 2 * n


def _centroids(index: Any) -> np.ndarray:
    return np.asarray(faiss.downcast_index(index.quantizer).reconstruct_n(0, index.nlist))
