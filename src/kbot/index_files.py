"""Writing a build's vector files without holding the corpus in memory: rows streamed into memory-mapped .npy files,
and the word pieces' files (tokens.json, token_ids.npy, token_counts.npy, token_basis.npy, tokens.npy,
token_scales.npy) in two passes over the embedding cache."""

from __future__ import annotations

import json
from array import array
from collections.abc import Iterable, Sequence
from itertools import islice
from pathlib import Path

import numpy as np

from kbot.embedding import Vectors
from kbot.embedding_cache import EmbeddingCache

BLOCK = 4096


def save_rows(path: Path, rows: Iterable[Vectors], n: int, dim: int, dtype: type[np.floating]) -> None:
    """Write n rows of dim values to a .npy file, ``BLOCK`` at a time, never holding them all in memory."""
    if not n:
        np.save(path, np.zeros((0, dim), dtype=dtype))
        return
    out = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=(n, dim))
    start, rows = 0, iter(rows)
    while block := list(islice(rows, BLOCK)):  # a row at a time into the memory map: 7 s of a full NIH build
        out[start : start + len(block)] = np.stack(block)
        start += len(block)
    out.flush()


def write_pieces(folder: Path, cache: EmbeddingCache, texts: Sequence[str]) -> int:
    """The word pieces' files, from the cache: tokens.json (the distinct pieces, and how many texts hold each),
    token_ids.npy (each piece's position in that list, text after text), token_counts.npy (how many pieces each text
    has), token_basis.npy (the cache's piece basis), tokens.npy (the pieces' vectors, int8) and token_scales.npy (each
    piece's scale). Returns the number of pieces.

    Pieces are kept as ids, not names: the full NIH library's 6.6 million names, loaded as Python strings, took
    480 MB of every worker's memory and 1.5 s of its start."""
    vocabulary: dict[str, int] = {}
    holding: list[int] = []  # per vocabulary entry, the texts that hold it
    ids, counts = array("i"), array("i")
    for names in cache.piece_names(texts):
        for name in names:
            if name not in vocabulary:
                vocabulary[name] = len(vocabulary)
                holding.append(0)
        line = [vocabulary[n] for n in names]
        for i in set(line):
            holding[i] += 1
        ids.extend(line)
        counts.append(len(line))
    table = {"pieces": list(vocabulary), "texts": holding}
    (folder / "tokens.json").write_text(json.dumps(table, ensure_ascii=False), encoding="utf-8")
    np.save(folder / "token_ids.npy", np.frombuffer(ids, dtype=np.int32) if ids else np.zeros(0, np.int32))
    np.save(folder / "token_counts.npy", np.frombuffer(counts, dtype=np.int32) if counts else np.zeros(0, np.int32))
    count = len(ids)
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
