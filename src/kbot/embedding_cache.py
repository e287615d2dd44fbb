"""Embedding through a cache, so that a re-ingest encodes only new text: a text's vectors are found by (model, kind,
text) in the build being replaced, or else in what this build (or one that crashed) encoded so far.

The knowledge base's previous build holds every vector it was built from (``Earlier``, index.PreviousBuild): a
rebuild reads the unchanged texts' vectors from it. What is encoded anew goes first to one SQLite file per knowledge
base, ``<index dir>/cache/embeddings.sqlite`` (beside ``builds/``), so that a build that crashes or is stopped loses
none of its model calls; once a build has succeeded, it holds them all and the file is emptied (``clear``). Keeping
every vector a second time there took 1.9 GB for the full NIH library.

The file has two tables: ``vectors`` (what ``Embedder.embed`` gives a text) and ``encoded`` (what ``Embedder.encode``
gives: its vector, its word pieces and their vectors as an index keeps them, in the embedder's ``piece_basis`` (128 of
384 dimensions for the packaged model), as int8 with a scale per piece: on 77,639 pieces of NIH articles, a cosine of
at least 0.99988 with the float16 ones). The kind, not the view, is in the key: the same text gives the same vector in
every view; the piece basis is in the key of ``encoded`` entries.

A build always reads its vectors (and its pieces, as stored) back through the cache, and stores its views as float16
either way, so a build after an edit is identical to one from scratch. Texts still to encode go to the model longest
first in batches (``CHUNK`` at a time, so memory stays bounded), with a progress bar and its ETA on stderr when that
is a terminal.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from kbot.embedding import Embedder, Encoded, Vectors, unit_rows

T = TypeVar("T")
CACHE_FILE = Path("cache") / "embeddings.sqlite"
CHUNK = 1024  # texts per model call and per read: bounds memory whatever the corpus size
KINDS = ("vectors", "encoded")
PIECES_FORMAT = "int8"  # in the key of "encoded" entries, with the basis: another format or basis is a miss
_SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS encoded (key BLOB PRIMARY KEY, vector BLOB NOT NULL, pieces TEXT NOT NULL,
                                    piece_vectors BLOB NOT NULL);
"""
Int8Pieces = tuple[npt.NDArray[np.int8], Vectors]  # a text's pieces as int8 rows in the piece basis, and their scales


class Earlier(Protocol):
    """A build's vectors, by text: those of the ``model`` whose pieces are in ``piece_basis``."""

    model: str
    piece_basis: Vectors

    def row(self, kind: str, text: str) -> int | None:
        """Where the build holds ``text``'s vectors of ``kind`` (one of KINDS), or None."""
        ...

    def vector(self, kind: str, row: int) -> Vectors: ...

    def piece_names(self, row: int) -> tuple[str, ...]: ...

    def int8_pieces(self, row: int) -> Int8Pieces: ...


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class EmbeddingCache:
    """One build's view of a knowledge base's cache: ``fill`` encodes what is missing, then ``vectors``,
    ``piece_names`` and ``int8_pieces`` read every text's back, in order. ``earlier``: the build being replaced, used
    where it was built with the same model and piece basis. Use it as a context manager; ``clear`` once the build
    has succeeded."""

    def __init__(self, index_dir: Path, embedder: Embedder, earlier: Earlier | None = None) -> None:
        self._db = open_cache(index_dir / CACHE_FILE, _SCHEMA)
        self._embedder = embedder
        self.piece_basis = np.ascontiguousarray(embedder.piece_basis, dtype=np.float32)
        self._pieces_format = f"{PIECES_FORMAT}/{hashlib.sha256(self.piece_basis.tobytes()).hexdigest()[:16]}"
        if earlier and (earlier.model != embedder.name or not np.array_equal(earlier.piece_basis, self.piece_basis)):
            earlier = None  # another model's vectors, or pieces in other directions
        self._earlier = earlier

    def __enter__(self) -> EmbeddingCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self._db.close()

    def _keys(self, kind: str, texts: Sequence[str]) -> list[bytes]:
        kind_format = f"{kind}/{self._pieces_format}" if kind == "encoded" else kind
        prefix = f"{self._embedder.name}\0{kind_format}\0".encode()
        return [hashlib.sha256(prefix + t.encode()).digest() for t in texts]

    def _missing(self, kind: str, texts: Sequence[str]) -> list[str]:
        """The distinct texts of ``texts`` not in the cache yet, longest first (batches of alike lengths pad less)."""
        if self._earlier is not None:
            texts = [t for t in texts if self._earlier.row(kind, t) is None]
        wanted = dict(zip(self._keys(kind, texts), texts, strict=True))
        for keys in chunks(list(wanted), 500):
            marks = ",".join("?" * len(keys))
            for (key,) in self._db.execute(f"SELECT key FROM {kind} WHERE key IN ({marks})", keys):
                del wanted[key]
        return sorted(wanted.values(), key=len, reverse=True)

    def fill(self, jobs: Sequence[tuple[str, Sequence[str]]]) -> int:
        """Encode every (kind, texts) job's texts that the cache lacks, with one progress bar; how many there were."""
        todo = [(kind, self._missing(kind, texts)) for kind, texts in jobs]
        total = sum(len(texts) for _, texts in todo)
        with tqdm(total=total, desc="Embedding", unit="text", disable=None, smoothing=0.1) as bar:
            for kind, texts in todo:
                for chunk in chunks(texts):
                    self._store(kind, chunk)
                    bar.update(len(chunk))
        return total

    def _store(self, kind: str, texts: Sequence[str]) -> None:
        keys = self._keys(kind, texts)
        if kind == "vectors":
            rows = [(k, v.tobytes()) for k, v in zip(keys, self._embedder.embed(texts), strict=True)]
            self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", rows)
        else:
            encoded = self._embedder.encode(texts)
            self._db.executemany(
                "INSERT OR REPLACE INTO encoded VALUES (?, ?, ?, ?)",
                [(k, *_encoded_row(e, self.piece_basis)) for k, e in zip(keys, encoded, strict=True)],
            )
        self._db.commit()

    def _read(
        self,
        kind: str,
        column: str,
        texts: Sequence[str],
        decode: Callable[[Any], T],
        earlier: Callable[[Earlier, int], T],
    ) -> Iterator[T]:
        """Each text's ``column`` of ``kind``, in order, CHUNK at a time: from the earlier build where it holds the
        text (``earlier``, given its row), else from the file (``decode``, given the stored value)."""
        source = self._earlier
        for chunk in chunks(texts):
            rows = [source.row(kind, t) if source else None for t in chunk]
            keys = self._keys(kind, [t for t, row in zip(chunk, rows, strict=True) if row is None])
            marks = ",".join("?" * len(set(keys)))
            query = f"SELECT key, {column} FROM {kind} WHERE key IN ({marks})"
            found = {key: value for key, value in self._db.execute(query, list(set(keys)))} if keys else {}
            stored = iter(keys)
            for row in rows:
                yield earlier(source, row) if source and row is not None else decode(found[next(stored)])

    def vectors(self, texts: Sequence[str], kind: str = "vectors") -> Iterator[Vectors]:
        """Each text's vector as ``embed`` gave it (or, with kind "encoded", as ``encode`` did), in order, after
        ``fill``."""

        def decode(blob: bytes) -> Vectors:
            return np.frombuffer(blob, dtype=np.float32)

        return self._read(kind, "vector", texts, decode, lambda e, row: e.vector(kind, row))

    def int8_pieces(self, texts: Sequence[str]) -> Iterator[Int8Pieces]:
        """Each text's piece vectors as the cache keeps them, in order, after ``fill``: int8 rows in ``piece_basis``
        and each row's scale (``_to_int8``)."""
        dim = self.piece_basis.shape[1]

        def decode(blob: bytes) -> Int8Pieces:
            return _int8_from_blob(blob, len(blob) // (4 + dim), dim)  # a scale and dim bytes a piece

        return self._read("encoded", "piece_vectors", texts, decode, lambda e, row: e.int8_pieces(row))

    def piece_names(self, texts: Sequence[str]) -> Iterator[tuple[str, ...]]:
        """Each text's word pieces, in order, after ``fill`` (without reading their vectors)."""

        def decode(pieces: str) -> tuple[str, ...]:
            return tuple(json.loads(pieces))

        return self._read("encoded", "pieces", texts, decode, lambda e, row: e.piece_names(row))

    def clear(self) -> None:
        """Empty the file, once a build has succeeded: the build holds every vector it used, and the next one reads
        them from it."""
        for kind in KINDS:
            self._db.execute(f"DELETE FROM {kind}")
        self._db.commit()
        self._db.execute("VACUUM")


def open_cache(path: Path, schema: str) -> sqlite3.Connection:
    """A cache's SQLite file with its tables; a damaged one is only lost time: it is started again."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return _open(path, schema)
    except sqlite3.DatabaseError:
        path.unlink()
        return _open(path, schema)


def _open(path: Path, schema: str) -> sqlite3.Connection:
    db = sqlite3.connect(path)
    try:
        db.executescript(schema)
    except sqlite3.DatabaseError:
        db.close()
        raise
    return db


def _encoded_row(e: Encoded, basis: Vectors) -> tuple[bytes, str, bytes]:
    pieces = json.dumps(list(e.pieces), ensure_ascii=False)
    return np.asarray(e.vector, np.float32).tobytes(), pieces, _pieces_to_int8(unit_rows(e.piece_vectors @ basis))


def _to_int8(vectors: Vectors) -> tuple[npt.NDArray[np.int8], Vectors]:
    """Each row scaled so that its largest component is 127 and rounded: the int8 rows, and each row's scale."""
    scales: Vectors = np.maximum(np.abs(vectors).max(axis=1, initial=0.0), 1e-12).astype(np.float32) / 127
    return np.round(vectors / scales[:, None]).astype(np.int8), scales


def _pieces_to_int8(vectors: Vectors) -> bytes:
    """``_to_int8``'s scales (float32), then its rows."""
    values, scales = _to_int8(vectors)
    return bytes(scales.tobytes()) + bytes(values.tobytes())


def _int8_from_blob(blob: bytes, n: int, dim: int) -> tuple[npt.NDArray[np.int8], Vectors]:
    scales = np.frombuffer(blob, dtype=np.float32, count=n)
    return np.frombuffer(blob, dtype=np.int8, offset=4 * n).reshape(n, dim), scales
