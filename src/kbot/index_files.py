"""Writing a build's vector files without holding the corpus in memory: rows streamed into memory-mapped .npy files,
and the word pieces' files (tokens.json, token_basis.npy, tokens.npy) in two passes over the embedding cache."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from kbot.embedding import Encoded, Vectors, unit_rows
from kbot.embedding_cache import EmbeddingCache, chunks


def save_rows(path: Path, rows: Iterable[Vectors], n: int, dim: int, dtype: type[np.floating]) -> None:
    """Write n rows of dim values to a .npy file one by one, never holding them all in memory."""
    if not n:
        np.save(path, np.zeros((0, dim), dtype=dtype))
        return
    out = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=(n, dim))
    for i, row in enumerate(rows):
        out[i] = row
    out.flush()


def _piece_chunks(cache: EmbeddingCache, texts: Sequence[str]) -> Iterator[tuple[list[Encoded], Vectors]]:
    """The texts' encodings CHUNK at a time, with their piece vectors gathered as one float32 array."""
    for chunk in chunks(texts):
        encoded = list(cache.encoded(chunk))
        pieces = [e.piece_vectors for e in encoded]
        yield encoded, np.concatenate(pieces) if pieces else np.zeros((0, cache.dim), dtype=np.float32)


def write_pieces(folder: Path, cache: EmbeddingCache, texts: Sequence[str], dims: int) -> int:
    """tokens.json, token_basis.npy and tokens.npy (float16), in two passes over the cache; the number of pieces.

    The basis comes from the pieces' Gram matrix (dim x dim), gathered chunk by chunk: the same directions as an SVD
    of all the pieces at once, without holding them all."""
    gram, count = np.zeros((cache.dim, cache.dim), dtype=np.float64), 0
    with (folder / "tokens.json").open("w", encoding="utf-8") as out:
        out.write("[")
        for i, (encoded, pieces) in enumerate(_piece_chunks(cache, texts)):  # each chunk holds at least one text
            out.write(("," if i else "") + ",".join(json.dumps(list(e.pieces), ensure_ascii=False) for e in encoded))
            gram += pieces.T @ pieces
            count += len(pieces)
        out.write("]")
    basis = basis_from_gram(gram, min(dims, count))
    np.save(folder / "token_basis.npy", basis)
    projected = (unit_rows(p @ basis).astype(np.float16) for _, pieces in _piece_chunks(cache, texts) for p in [pieces])
    _save_block_rows(folder / "tokens.npy", projected, count, basis.shape[1])
    return count


def _save_block_rows(path: Path, blocks: Iterable[npt.NDArray[np.float16]], n: int, dim: int) -> None:
    if not n:
        np.save(path, np.zeros((0, dim), dtype=np.float16))
        return
    out, start = np.lib.format.open_memmap(path, mode="w+", dtype=np.float16, shape=(n, dim)), 0
    for block in blocks:
        out[start : start + len(block)] = block
        start += len(block)
    out.flush()


def basis_from_gram(gram: npt.NDArray[np.float64], dims: int) -> Vectors:
    """The ``dims`` directions that keep most of the vectors whose Gram matrix (X.T @ X) this is, as columns: its top
    eigenvectors, each signed so that its largest entry is positive (the same build gives the same basis)."""
    values, vectors = np.linalg.eigh(gram)
    top = vectors[:, np.argsort(values)[::-1][:dims]]
    signs = np.sign(top[np.abs(top).argmax(axis=0), np.arange(top.shape[1])])
    return np.ascontiguousarray(top * np.where(signs == 0, 1.0, signs), dtype=np.float32)


def piece_basis(vectors: Vectors, dims: int) -> Vectors:
    """The ``dims`` directions that keep most of ``vectors`` (top right-singular vectors), as columns."""
    return basis_from_gram(vectors.T.astype(np.float64) @ vectors, min(dims, len(vectors)))
