"""Writing a build's vector files without holding the corpus in memory: rows streamed into memory-mapped .npy files,
and the word pieces' files (tokens.json, token_basis.npy, tokens.npy) in two passes over the embedding cache."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from kbot.embedding import Vectors
from kbot.embedding_cache import EmbeddingCache


def save_rows(path: Path, rows: Iterable[Vectors], n: int, dim: int, dtype: type[np.floating]) -> None:
    """Write n rows of dim values to a .npy file one by one, never holding them all in memory."""
    if not n:
        np.save(path, np.zeros((0, dim), dtype=dtype))
        return
    out = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=(n, dim))
    for i, row in enumerate(rows):
        out[i] = row
    out.flush()


def write_pieces(folder: Path, cache: EmbeddingCache, texts: Sequence[str]) -> int:
    """tokens.json, token_basis.npy (the cache's piece basis), tokens.npy (int8) and token_scales.npy (each piece's
    scale): the pieces' names first, then their vectors, as the cache keeps them; the number of pieces."""
    count = 0
    with (folder / "tokens.json").open("w", encoding="utf-8") as out:
        out.write("[")
        for i, names in enumerate(cache.piece_names(texts)):
            out.write(("," if i else "") + json.dumps(list(names), ensure_ascii=False))
            count += len(names)
        out.write("]")
    dims = cache.piece_basis.shape[1]
    np.save(folder / "token_basis.npy", cache.piece_basis)
    if not count:
        np.save(folder / "tokens.npy", np.zeros((0, dims), dtype=np.int8))
        np.save(folder / "token_scales.npy", np.zeros(0, dtype=np.float32))
        return 0
    values = np.lib.format.open_memmap(folder / "tokens.npy", mode="w+", dtype=np.int8, shape=(count, dims))
    scales = np.lib.format.open_memmap(folder / "token_scales.npy", mode="w+", dtype=np.float32, shape=(count,))
    start = 0
    for rows, row_scales in cache.int8_pieces(texts):  # copied as the cache keeps them
        end = start + len(rows)
        values[start:end], scales[start:end] = rows, row_scales
        start = end
    values.flush()
    scales.flush()
    return count
