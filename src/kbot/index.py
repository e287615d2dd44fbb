"""Building, storing and loading the index: FAISS over passages, sentence vectors, the corpus tables and a manifest.

Each knowledge base has its own index folder, ``<KBOT_INDEX_DIR>/<kb name>/`` (``kb_index_dir``). Its layout::

    .lock                           held while a build runs, so that two ingests of one knowledge base never race
    cache/embeddings.sqlite         every text's vectors by model (``embedding_cache.py``): a rebuild encodes only
                                      the text that changed
    cache/documents.sqlite          every article parsed, by its text (``document_cache.py``): a rebuild parses
                                      only the articles that changed
    current -> builds/<stamp>/      a symlink, swapped atomically when a rebuild finishes
    builds/<stamp>/manifest.json    model, vector size, a SHA-256 of every source file and of every index file, counts
    builds/<stamp>/corpus.jsonl     documents (metadata and blocks), sentences, passages: one JSON object a line
    builds/<stamp>/passages.faiss   an inner-product index of passage vectors (ann.py; memory-mapped when loaded)
    builds/<stamp>/sentences.npy    sentence vectors in float16, three views (memory-mapped when loaded): the sentence
    builds/<stamp>/context.npy        alone, "heading. sentence", and the sentence with its neighbours in its block
    builds/<stamp>/window.npy         (the normalised sum of their sentence vectors: no model call of its own)
    builds/<stamp>/<view>.faiss     per view, its quotable sentences' vectors, indexed to propose candidates (ann.py)
    builds/<stamp>/tokens.json      the word pieces of every sentence's "heading. sentence": the distinct pieces
    builds/<stamp>/token_ids.npy      and how many sentences hold each; every sentence's pieces as ids into that
    builds/<stamp>/token_counts.npy   list, one sentence after another, and how many each has; their vectors in the
    builds/<stamp>/tokens.npy         same order in the model's piece basis, as int8 with a scale per piece (both
    builds/<stamp>/token_scales.npy   memory-mapped), and that basis (model dim x 128, kbot/piece_basis.py)
    builds/<stamp>/token_basis.npy
    builds/<stamp>/bm25/            the sentences' BM25 index, as bm25s saves it, and every word they use
    builds/<stamp>/words.json         (lexical.py)
    builds/<stamp>/glossary.json    the terms the sentences define: [term, the defining sentence's row] (glossary.py)

A crash mid-build leaves ``current`` pointing at the old build. Loading checks the manifest against the sources and
the model, and says what to run when the index is missing, corrupt or stale.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from kbot import ann
from kbot.catalog import load_catalog
from kbot.chunking import SentenceRow, make_passages, sentence_rows, situated
from kbot.corpus import read_document
from kbot.document_cache import DocumentCache
from kbot.domain import Block, BlockKind, Document, Passage, Sentence, SourceMeta, plain
from kbot.embedding import Embedder, Vectors, unit_rows
from kbot.embedding_cache import EmbeddingCache, Int8Pieces
from kbot.errors import IndexCorrupt, IndexMissing, IndexStale, IngestRunning
from kbot.folder import read_source_text, sha256_all, source_hashes
from kbot.glossary import Glossary
from kbot.index_files import save_rows, write_pieces
from kbot.lexical import BM25_FILES, WORDS_FILE, Lexical, read_lexical, write_lexical
from kbot.profile import load_profile

FORMAT = 11  # 11: pieces as ids, BM25 saved (10: corpus.jsonl; 9: int8 pieces in a fixed basis; 8: window derived)
FIX = "kbot ingest"
VIEWS = ("sentences", "context", "window")
# The window view was the sentence with its neighbours, embedded: 60% of the tokens an ingest sent to the model. As
# the normalised sum of the three sentence vectors it costs no model call, at about the same quality (2026-12-06,
# eval/README.md: chosen on NIH dev, support@1 0.695 -> 0.734, and the calibration set, unchanged; reported after,
# gold 0.721 -> 0.706 and NIH test 0.623 -> 0.609).
EMBEDDED_VIEWS = ("sentences", "context")  # the views the model encodes; "window" is derived from "sentences"
# Views are stored as float16: a cosine moves by at most about 1e-4 (tests/test_index.py), and the full NIH library's
# three views take 0.64 GB on disk and in the page cache instead of 1.29 GB.
VIEW_DTYPE = np.float16
ROWS_AT_ONCE = 50_000  # rows of a view worked on at a time: bounds a build's memory whatever the library's size
PIECES_VIEW = "context"  # the view whose word pieces are kept for matching a question's pieces
# A passage's vector is the mean of its sentences' vectors in this view, not a model call of its own: passages held a
# third of the text an ingest embedded, for a signal the ranking weighs 0 (eval/README.md) and the answer's evidence
# shows ("top_passage").
PASSAGE_VIEW = "context"
_DATA_FILES = (
    "corpus.jsonl", "passages.faiss", *(f"{v}.npy" for v in VIEWS), *(f"{v}.faiss" for v in VIEWS),
    "tokens.json", "token_ids.npy", "token_counts.npy", "tokens.npy", "token_scales.npy", "token_basis.npy",
    WORDS_FILE, *BM25_FILES, "glossary.json",
)  # fmt: skip


@dataclass(frozen=True)
class Index:
    manifest: dict[str, Any]
    documents: dict[str, Document]
    sentences: list[SentenceRow]
    passages: list[Passage]
    passage_index: Any  # faiss.Index
    views: dict[str, Vectors]  # one row per sentence, for each of VIEWS
    view_indexes: dict[str, Any]  # for each of VIEWS, a faiss.Index of its quotable rows (ann.py)
    piece_names: tuple[str, ...]  # the distinct word pieces of the sentences' PIECES_VIEW texts
    piece_texts: npt.NDArray[np.int32]  # for each of piece_names, how many sentences hold it
    piece_ids: npt.NDArray[np.int32]  # every sentence's pieces, sentence after sentence, as positions in piece_names
    piece_counts: npt.NDArray[np.int32]  # how many pieces each sentence has
    piece_vectors: npt.NDArray[np.int8]  # the pieces' contextual vectors, in the same order, in the basis below,
    piece_scales: Vectors  # as int8: a piece's unit vector is its row times its scale
    piece_basis: Vectors  # (model dim, k): the embedder's piece_basis; project a question's piece vectors with it
    lexical: Lexical  # the sentences' BM25 index and words (lexical.py)
    glossary: Glossary  # the terms the sentences define (glossary.py)
    path: Path

    @property
    def sentence_vectors(self) -> Vectors:
        return self.views["sentences"]

    def pieces_of(self, row: int) -> tuple[str, ...]:
        """The word pieces of sentence ``row``'s PIECES_VIEW text, in order."""
        start = int(self.piece_counts[:row].sum())
        return tuple(self.piece_names[i] for i in self.piece_ids[start : start + int(self.piece_counts[row])])

    @property
    def build(self) -> str:
        """Which build this is: its folder's name under builds/ (the time it started, and a unique suffix)."""
        return self.path.name


def kb_index_dir(index_root: Path, kb_name: str) -> Path:
    """Where a knowledge base's index lives: one folder per knowledge base under KBOT_INDEX_DIR."""
    return index_root / kb_name


def current_build(index_dir: Path) -> Path | None:
    """The build ``current`` points at now, or None when there is none yet."""
    link = index_dir / "current"
    return link.resolve() if (link / "manifest.json").exists() else None


def read_corpus(seeds_dir: Path) -> list[Document]:
    """Every article of a knowledge base's folder, read, cleaned and split into sentences, in catalog order."""
    return [read_document(seeds_dir, meta) for meta in load_catalog(seeds_dir)]


# ---------------------------------------------------------------- building


def view_texts(rows: Sequence[SentenceRow], titles: Mapping[str, str]) -> dict[str, list[str]]:
    """What is embedded for each sentence, in each of EMBEDDED_VIEWS. ``titles``: each article's title, by source id."""
    context = [in_context(r, where) for r, where in zip(rows, situated(rows, titles), strict=True)]
    return {"sentences": [r.text for r in rows], "context": context}


def in_context(row: SentenceRow, where: str) -> str:
    """A sentence under its heading (``where``, as ``situated`` gives it): "heading. sentence", the context view."""
    return row.text if row.section in ("", row.text) else f"{where}. {row.text}"


def heading_of(row: SentenceRow, where: str) -> str:
    """The heading of ``in_context`` without its sentence: what a section's sentences share (the sentence itself where
    it has no heading of its own, or is its heading)."""
    return row.text if row.section in ("", row.text) else where


def window_rows(sentences: Vectors, rows: Sequence[SentenceRow]) -> Iterator[Vectors]:
    """Each sentence's window vector, in order: the normalised sum of its own sentence vector and its neighbours' in
    the same block. Worked out ``ROWS_AT_ONCE`` rows at a time (a row at a time, 4 s of a full NIH library build)."""
    block_of = _block_ids(rows)
    for start in range(0, len(rows), ROWS_AT_ONCE):
        end = min(start + ROWS_AT_ONCE, len(rows))
        lo, hi = max(start - 1, 0), min(end + 1, len(rows))  # with the neighbours on either side
        vectors, blocks = np.asarray(sentences[lo:hi], dtype=np.float32), block_of[lo:hi]
        total = vectors.copy()
        same = blocks[1:] == blocks[:-1]  # row i and row i + 1 share a block
        total[1:] += vectors[:-1] * same[:, None]
        total[:-1] += vectors[1:] * same[:, None]
        yield from unit_rows(total[start - lo : start - lo + end - start])


def _block_ids(rows: Sequence[SentenceRow]) -> npt.NDArray[np.int64]:
    """A number per row, the same for rows of one block of one article."""
    keys: dict[tuple[str, int], int] = {}
    return np.array([keys.setdefault((r.source_id, r.block), len(keys)) for r in rows], dtype=np.int64)


def passage_rows(vectors: Vectors, passages: Sequence[Passage]) -> Vectors:
    """Each passage's vector: the normalised sum of its sentences' rows of ``vectors``, ``ROWS_AT_ONCE`` sentences'
    worth of passages at a time."""
    out = np.zeros((len(passages), vectors.shape[1]), dtype=np.float32)
    per = max(1, ROWS_AT_ONCE // max(1, max((len(p.sentence_ids) for p in passages), default=1)))
    for start in range(0, len(passages), per):
        chosen = passages[start : start + per]
        ids = np.array([i for p in chosen for i in p.sentence_ids], dtype=np.int64)
        counts = np.array([len(p.sentence_ids) for p in chosen], dtype=np.int64)
        if len(ids):
            sums = np.add.reduceat(np.asarray(vectors[ids], dtype=np.float32), np.cumsum(counts) - counts, axis=0)
            out[start : start + len(chosen)][counts > 0] = sums[counts > 0]
    return unit_rows(out)


def cache_kind(view: str) -> str:
    """Which of the embedding cache's kinds a view's vectors are: the pieces' view is ``encoded`` (its vector and its
    word pieces from one model call), the others plain ``vectors``."""
    return "encoded" if view == PIECES_VIEW else "vectors"


class PreviousBuild:
    """The build ``current`` points at, as the embedding cache's earlier build (embedding_cache.Earlier): every
    vector it was built from, found by the text it is the vector of. A rebuild after an edit reads the unchanged texts'
    vectors from here: the build is its own cache."""

    def __init__(self, folder: Path, manifest: dict[str, Any]) -> None:
        self.folder = folder
        self.model: str = manifest["model"]
        self.piece_basis = np.load(folder / "token_basis.npy")
        titles, rows = _read_sentences(folder / "corpus.jsonl")
        texts = view_texts(rows, titles)
        # A kind's vector of a text is the same in every view of that kind: one view of each kind is enough.
        views = {cache_kind(v): v for v in reversed(EMBEDDED_VIEWS)}
        self._rows = {kind: {text: i for i, text in enumerate(texts[view])} for kind, view in views.items()}
        self._vectors = {kind: _mapped(folder / f"{view}.npy") for kind, view in views.items()}
        counts = np.load(folder / "token_counts.npy").astype(np.int64)
        self._piece_starts, self._piece_counts = np.cumsum(counts) - counts, counts
        self._piece_names = json.loads((folder / "tokens.json").read_text(encoding="utf-8"))["pieces"]
        self._piece_ids = _mapped(folder / "token_ids.npy")
        self._pieces = _mapped(folder / "tokens.npy")
        self._piece_scales = _mapped(folder / "token_scales.npy")
        if not all(len(v) == len(rows) for v in self._vectors.values()) or len(counts) != len(rows):
            raise ValueError("its tables differ in length")

    @classmethod
    def of(cls, index_dir: Path) -> PreviousBuild | None:
        """The current build, when it is whole and of a layout this reads (FORMAT 11 on); else None, and every text
        is looked up in the cache file alone. A damaged build is never read: its vectors would outlive it."""
        folder = current_build(index_dir)
        if folder is None:
            return None
        try:
            manifest = _read_manifest(folder)
            whole = _first_damaged(folder, manifest["files"]) is None
            return cls(folder, manifest) if whole and manifest["format"] >= 11 else None
        except (IndexCorrupt, OSError, ValueError, KeyError, TypeError):
            return None

    def row(self, kind: str, text: str) -> int | None:
        return self._rows[kind].get(text)

    def ann(self, name: str, model: str) -> Any | None:
        """Its FAISS index ``name`` ("passages" or a view), read whole so that a new build may reuse its clusters;
        None when it was built with another model than ``model``."""
        return ann.read_whole(self.folder / f"{name}.faiss") if model == self.model else None

    def vector(self, kind: str, row: int) -> Vectors:
        return np.asarray(self._vectors[kind][row], dtype=np.float32)

    def piece_names(self, row: int) -> tuple[str, ...]:
        start, end = self._piece_starts[row], self._piece_starts[row] + self._piece_counts[row]
        return tuple(self._piece_names[i] for i in self._piece_ids[start:end])

    def int8_pieces(self, row: int) -> Int8Pieces:
        start, end = self._piece_starts[row], self._piece_starts[row] + self._piece_counts[row]
        return np.asarray(self._pieces[start:end]), np.asarray(self._piece_scales[start:end])


def _first_damaged(folder: Path, digests: dict[str, str]) -> str | None:
    """The first file the manifest lists that is missing or has another SHA-256 than it recorded; None if none is."""
    missing = [name for name in digests if not (folder / name).is_file()]
    if missing:
        return missing[0]
    found = sha256_all(folder / name for name in digests)
    return next((name for (name, digest), now in zip(digests.items(), found, strict=True) if now != digest), None)


def _mapped(path: Path) -> npt.NDArray[Any]:
    """A .npy file memory-mapped, as a plain array: reading one row of a np.memmap costs twice as long."""
    return np.asarray(np.load(path, mmap_mode="r"))


def _write_build(
    folder: Path,
    seeds_dir: Path,
    documents: list[Document],
    embedder: Embedder,
    size: int,
    cache: EmbeddingCache,
    reader: str,
    previous: PreviousBuild | None,
) -> None:
    rows = sentence_rows(documents)
    passages = make_passages(rows, size)
    titles = {d.meta.id: d.meta.title for d in documents}
    texts = view_texts(rows, titles)
    stopwords = kb_stopwords(seeds_dir)
    write_lexical(folder, rows, situated(rows, titles), stopwords)
    cache.fill([(cache_kind(v), texts[v]) for v in (PIECES_VIEW, *(v for v in EMBEDDED_VIEWS if v != PIECES_VIEW))])
    for view in EMBEDDED_VIEWS:  # the pieces' view's vectors come from the same model call as its pieces
        vectors = cache.vectors(texts[view], cache_kind(view))
        save_rows(folder / f"{view}.npy", vectors, len(rows), embedder.dim, VIEW_DTYPE)
    window = window_rows(np.load(folder / "sentences.npy", mmap_mode="r"), rows)
    save_rows(folder / "window.npy", window, len(rows), embedder.dim, VIEW_DTYPE)
    quotable = np.array([r.id for r in rows if r.quotable], dtype=np.int64)

    def before(name: str) -> Any | None:
        return previous.ann(name, embedder.name) if previous else None

    for view in VIEWS:
        vectors = np.load(folder / f"{view}.npy", mmap_mode="r")
        ann.write(ann.build(vectors, quotable, before(view)), folder / f"{view}.faiss")
    piece_count = write_pieces(folder, cache, texts[PIECES_VIEW])
    passage_vectors = passage_rows(np.load(folder / f"{PASSAGE_VIEW}.npy", mmap_mode="r"), passages)
    passage_ids = np.arange(len(passages), dtype=np.int64)
    ann.write(ann.build(passage_vectors, passage_ids, before("passages")), folder / "passages.faiss")
    _write_corpus(folder / "corpus.jsonl", documents, rows, passages)
    glossary = json.dumps(Glossary.of(rows).to_json(), ensure_ascii=False)
    (folder / "glossary.json").write_text(glossary, encoding="utf-8")
    manifest = {
        "format": FORMAT,
        "model": embedder.name,
        "reader": reader,
        "dim": embedder.dim,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "passage_sentences": size,
        "stopwords": stopwords,
        "sources": source_hashes(seeds_dir),
        "files": dict(zip(_DATA_FILES, sha256_all(folder / name for name in _DATA_FILES), strict=True)),
        "counts": {
            "documents": len(documents),
            "blocks": sum(len(d.blocks) for d in documents),
            "kept_blocks": sum(len(d.kept_blocks) for d in documents),
            "sentences": len(rows),
            "quotable_sentences": sum(r.quotable for r in rows),
            "passages": len(passages),
            "pieces": piece_count,
        },
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def kb_stopwords(seeds_dir: Path) -> list[str]:
    """The knowledge base's own stop words (kb.toml's [lexicon] stopwords), as a build records them."""
    return sorted({w.lower() for w in load_profile(seeds_dir).lexicon.stopwords})


def _write_corpus(path: Path, documents: list[Document], rows: list[SentenceRow], passages: list[Passage]) -> None:
    """corpus.jsonl, an object a line ({"document": ...}, {"sentence": ...}, {"passage": ...}), written and read a line
    at a time: as one JSON document, the full NIH library's corpus (279,070 sentences) held 3 GB of dicts at once, both
    when it was written and when it was loaded."""
    items = (
        *(("document", {"meta": plain(d.meta), "blocks": [plain(b) for b in d.blocks]}) for d in documents),
        *(("sentence", plain(r)) for r in rows),
        *(("passage", plain(p)) for p in passages),
    )
    with path.open("w", encoding="utf-8") as out:
        for kind, value in items:
            out.write(json.dumps({kind: value}, ensure_ascii=False) + "\n")


def _read_corpus(path: Path) -> tuple[list[dict[str, Any]], list[SentenceRow], list[Passage]]:
    """corpus.jsonl's documents (as JSON objects), sentences and passages."""
    entries: list[dict[str, Any]] = []
    rows: list[SentenceRow] = []
    passages: list[Passage] = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            ((kind, value),) = json.loads(line).items()
            if kind == "sentence":
                rows.append(_sentence_row(value))
            elif kind == "passage":
                passages.append(Passage(**{**value, "sentence_ids": tuple(value["sentence_ids"])}))
            elif kind == "document":
                entries.append(value)
            else:
                raise ValueError(f"a corpus line of an unknown kind, {kind!r}")
    return entries, rows, passages


def _sentence_row(value: dict[str, Any]) -> SentenceRow:
    """A sentence row as corpus.jsonl holds it, read back."""
    return SentenceRow(**{**value, "kind": BlockKind(value["kind"])})


def _read_sentences(path: Path) -> tuple[dict[str, str], list[SentenceRow]]:
    """corpus.jsonl's sentences, and each article's title: what its views' texts are made of. The articles' blocks
    and the passages are not read (2 of the 3.6 s of reading the full NIH library's corpus)."""
    titles: dict[str, str] = {}
    rows: list[SentenceRow] = []
    meta_at, decoder = len('{"document": {"meta": '), json.JSONDecoder()
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.startswith('{"sentence": '):
                value = json.loads(line)["sentence"]
                rows.append(_sentence_row(value))
            elif line.startswith('{"document": {"meta": '):
                meta, _ = decoder.raw_decode(line, meta_at)  # the article's metadata, written before its blocks
                titles[meta["id"]] = meta["title"]
    return titles, rows


def build_index(
    seeds_dir: Path, index_dir: Path, embedder: Embedder, passage_sentences: int = 3, reader: str = ""
) -> dict[str, Any]:
    """Read and clean every source, embed it, and swap the new build in atomically. Returns the manifest, which names
    the embedding model and ``reader``, the reader the index is served with ("" for none; ``kbot.reader.reader_id``).

    One build at a time per index folder: a second ingest of the same knowledge base fails at once with IngestRunning
    (it would otherwise delete the first one's build when it finishes)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with (index_dir / ".lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IngestRunning(
                f"Another kbot ingest is building the index in {index_dir} right now.",
                "wait for it to finish (its new index is then used), then run kbot ingest again if you changed more",
            ) from None
        return _build_locked(seeds_dir, index_dir, embedder, passage_sentences, reader)


def _build_locked(
    seeds_dir: Path, index_dir: Path, embedder: Embedder, passage_sentences: int, reader: str
) -> dict[str, Any]:
    with DocumentCache(index_dir) as parsed:  # only the articles that changed are parsed again
        documents = parsed.read(seeds_dir, load_catalog(seeds_dir))
        parsed.prune()
    builds = index_dir / "builds"
    builds.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    folder = Path(tempfile.mkdtemp(prefix=f"{stamp}-", dir=builds))
    try:
        earlier = PreviousBuild.of(index_dir)
        with EmbeddingCache(index_dir, embedder, earlier) as cache:
            _write_build(folder, seeds_dir, documents, embedder, passage_sentences, cache, reader, earlier)
            cache.clear()  # the new build holds every vector now
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    link = index_dir / "current"
    previous = link.resolve() if link.is_symlink() else None
    tmp_link = index_dir / f".current-{folder.name}"
    tmp_link.symlink_to(Path("builds") / folder.name)
    os.replace(tmp_link, link)  # atomic: readers see the old build or the new one, never neither
    for old in builds.iterdir():
        if old != folder and old != previous and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
    if previous and previous != folder and previous.is_dir():
        shutil.rmtree(previous, ignore_errors=True)
    manifest: dict[str, Any] = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    return manifest


# ---------------------------------------------------------------- loading


def _read_manifest(folder: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"The index manifest in {folder} cannot be read ({exc}).", FIX) from exc
    problem = _manifest_problem(manifest)
    if problem:
        raise IndexCorrupt(f"The index manifest in {folder} {problem}.", FIX)
    return dict(manifest)


_MANIFEST_FIELDS: dict[str, type] = {"format": int, "model": str, "dim": int, "sources": dict, "files": dict}


def _manifest_problem(manifest: object) -> str:
    """What is wrong with a manifest's shape ("" when nothing is): loading reads these fields without looking."""
    if not isinstance(manifest, dict):
        return "is not a JSON object"
    missing = [k for k in (*_MANIFEST_FIELDS, "counts") if k not in manifest]
    if missing:
        return f"is incomplete (no {', '.join(missing)})"
    wrong = [k for k, kind in _MANIFEST_FIELDS.items() if type(manifest[k]) is not kind]
    wrong += [k for k in ("sources", "files") if k not in wrong and not _names_to_digests(manifest[k])]
    return f"has {', '.join(wrong)} of the wrong type" if wrong else ""


def _names_to_digests(table: dict[object, object]) -> bool:
    return all(isinstance(k, str) and isinstance(v, str) for k, v in table.items())


def check_manifest(manifest: dict[str, Any], seeds_dir: Path, model: str, reader: str = "") -> None:
    """Raise IndexStale when the index was built from other sources, with another model, for another reader ("" for
    none), with other stop words, or by another format."""
    if manifest["format"] != FORMAT:
        raise IndexStale(f"The index was built by another version of kbot (format {manifest['format']}).", FIX)
    if manifest["model"] != model:
        raise IndexStale(f"The index was built with the model {manifest['model']!r}, not {model!r}.", FIX)
    if manifest.get("reader", "") != reader:
        built_for = manifest.get("reader") or "no reader"
        raise IndexStale(f"The index was built for {built_for!r}, not for {reader or 'no reader'!r}.", FIX)
    if manifest.get("stopwords", []) != kb_stopwords(seeds_dir):
        raise IndexStale("The stop words in kb.toml ([lexicon] stopwords) changed since the index was built.", FIX)
    built, now = manifest["sources"], source_hashes(seeds_dir)
    changes = sorted(
        [f"{n} changed" for n in built.keys() & now.keys() if built[n] != now[n]]
        + [f"{n} added" for n in now.keys() - built.keys()]
        + [f"{n} removed" for n in built.keys() - now.keys()]
    )
    if changes:
        raise IndexStale(f"The sources changed since the index was built: {', '.join(changes)}.", FIX)


def _documents(entries: list[dict[str, Any]], seeds_dir: Path) -> dict[str, Document]:
    documents: dict[str, Document] = {}
    for entry in entries:
        meta = SourceMeta(**{**entry["meta"], "do_not_quote": tuple(entry["meta"].get("do_not_quote", ()))})
        blocks = tuple(Block.from_json(b) for b in entry["blocks"])
        text = read_source_text(seeds_dir / meta.file)
        documents[meta.id] = Document(meta, text, blocks, ())
    return documents


def _attach_sentences(documents: dict[str, Document], rows: list[SentenceRow]) -> dict[str, Document]:
    by_source: dict[str, list[Sentence]] = {k: [] for k in documents}
    for r in rows:
        by_source[r.source_id].append(Sentence(len(by_source[r.source_id]), r.block, r.start, r.end, r.text))
    return {k: Document(d.meta, d.text, d.blocks, tuple(by_source[k])) for k, d in documents.items()}


def load_index(index_dir: Path, seeds_dir: Path, model: str, reader: str = "") -> Index:
    """Load the current build, memory-mapping the vectors, after checking it is whole and up to date."""
    folder = index_dir / "current"
    if not (folder / "manifest.json").exists():
        raise IndexMissing(f"No index has been built in {index_dir} yet.", FIX)
    folder = folder.resolve()
    manifest = _read_manifest(folder)
    damaged = _first_damaged(folder, manifest["files"])
    if damaged is not None:
        raise IndexCorrupt(f"The index file {folder / damaged} is missing or damaged.", FIX)
    check_manifest(manifest, seeds_dir, model, reader)
    try:
        entries, rows, passages = _read_corpus(folder / "corpus.jsonl")
        documents = _attach_sentences(_documents(entries, seeds_dir), rows)
        passage_index = ann.read(folder / "passages.faiss")
        views = {v: np.load(folder / f"{v}.npy", mmap_mode="r") for v in VIEWS}
        view_indexes = {v: ann.read(folder / f"{v}.faiss") for v in VIEWS}
        pieces = json.loads((folder / "tokens.json").read_text(encoding="utf-8"))
        piece_names, piece_texts = tuple(pieces["pieces"]), np.array(pieces["texts"], dtype=np.int32)
        piece_ids = np.load(folder / "token_ids.npy", mmap_mode="r")
        piece_counts = np.load(folder / "token_counts.npy")
        piece_vectors = np.load(folder / "tokens.npy", mmap_mode="r")
        piece_scales = np.load(folder / "token_scales.npy", mmap_mode="r")
        basis = np.load(folder / "token_basis.npy")
        lexical = read_lexical(folder)
        glossary = Glossary.from_json(json.loads((folder / "glossary.json").read_text(encoding="utf-8")), rows)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RuntimeError, IndexError) as exc:
        raise IndexCorrupt(f"The index in {folder} cannot be read ({exc}).", FIX) from exc
    shapes_ok = all(v.shape == (len(rows), manifest["dim"]) for v in views.values())
    shapes_ok = shapes_ok and basis.ndim == 2 and basis.shape[0] == manifest["dim"]
    shapes_ok = shapes_ok and piece_counts.shape == (len(rows),) and len(piece_texts) == len(piece_names)
    shapes_ok = shapes_ok and piece_ids.shape == (int(piece_counts.sum()),)
    shapes_ok = shapes_ok and piece_vectors.shape == (len(piece_ids), basis.shape[1])
    shapes_ok = shapes_ok and piece_scales.shape == (len(piece_vectors),)
    shapes_ok = shapes_ok and lexical.sentences == len(rows)
    quotable = sum(r.quotable for r in rows)
    shapes_ok = shapes_ok and all(i.ntotal == quotable for i in view_indexes.values())
    if passage_index.ntotal != len(passages) or not shapes_ok:
        raise IndexCorrupt(f"The index in {folder} does not fit together (vector and table sizes differ).", FIX)
    return Index(
        manifest,
        documents,
        rows,
        passages,
        passage_index,
        views,
        view_indexes,
        piece_names,
        piece_texts,
        piece_ids,
        piece_counts,
        piece_vectors,
        piece_scales,
        basis,
        lexical,
        glossary,
        folder,
    )
