"""The embedding cache: a rebuild after editing one article encodes only its new text, reading the rest from the build
it replaces, and builds the same index; what a crashed build encoded is kept until a build succeeds."""

from __future__ import annotations

import shutil
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from kbot.embedding import Encoded, FakeEmbedder, Vectors, unit_rows
from kbot.embedding_cache import CACHE_FILE, _int8_from_blob, _pieces_to_int8
from kbot.index import build_index, current_build, load_index, read_corpus, sentence_rows, view_texts

ASTHMA = Path(__file__).resolve().parent / "kbs" / "asthma"
EDIT = "\nA peak flow meter measures how well air moves out of the lungs.\n"


class CountingEmbedder(FakeEmbedder):
    """The fake, remembering every text it was asked to embed or encode."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.seen += texts
        return super().embed(texts)

    def encode(self, texts: Sequence[str]) -> list[Encoded]:
        self.seen += texts
        return super().encode(texts)


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    folder = tmp_path / "kb"
    shutil.copytree(ASTHMA, folder)
    return folder


def _sentence_texts(kb: Path) -> set[str]:
    documents = read_corpus(kb)
    views = view_texts(sentence_rows(documents), {d.meta.id: d.meta.title for d in documents})
    return {t for texts in views.values() for t in texts}


def _data_files(build: Path) -> dict[str, bytes]:
    files = sorted(f for f in build.rglob("*") if f.is_file() and f.name != "manifest.json")
    return {str(f.relative_to(build)): f.read_bytes() for f in files}


def test_rebuild_after_an_edit_encodes_only_the_new_texts_and_builds_the_same_index(kb: Path, tmp_path: Path) -> None:
    embedder = CountingEmbedder()
    build_index(kb, tmp_path / "index", embedder)
    before = _sentence_texts(kb)
    article = sorted(kb.glob("*.md"))[0]
    article.write_text(article.read_text(encoding="utf-8") + EDIT, encoding="utf-8")
    embedder.seen.clear()
    build_index(kb, tmp_path / "index", embedder)
    new_sentence_texts = _sentence_texts(kb) - before
    assert new_sentence_texts and new_sentence_texts <= set(embedder.seen)
    assert not set(embedder.seen) & before  # no unchanged sentence went to the model again
    assert len(embedder.seen) < len(before) / 2  # passages near the edit change too, and nothing else
    build_index(kb, tmp_path / "scratch", FakeEmbedder())
    rebuilt, scratch = (load_index(tmp_path / d, kb, FakeEmbedder.name).path for d in ("index", "scratch"))
    assert _data_files(rebuilt) == _data_files(scratch)


def test_an_unchanged_rebuild_calls_no_model(kb: Path, tmp_path: Path) -> None:
    build_index(kb, tmp_path / "index", FakeEmbedder())
    embedder = CountingEmbedder()
    build_index(kb, tmp_path / "index", embedder)
    assert embedder.seen == []


def test_after_a_build_the_file_is_emptied_and_the_build_is_the_cache(kb: Path, tmp_path: Path) -> None:
    build_index(kb, tmp_path / "index", FakeEmbedder())
    assert _cached_keys(tmp_path / "index") == set()  # every vector is in the build: none is kept twice
    article = sorted(kb.glob("*.md"))[0]
    text = article.read_text(encoding="utf-8")
    article.write_text(text.replace(" the ", " the very ", 1) + EDIT, encoding="utf-8")  # one sentence changed
    embedder = CountingEmbedder()
    build_index(kb, tmp_path / "index", embedder)
    assert embedder.seen and len(embedder.seen) < len(_sentence_texts(kb)) / 2
    assert _cached_keys(tmp_path / "index") == set()


class CrashingEmbedder(CountingEmbedder):
    """Encodes ("heading. sentence", with word pieces), then fails when asked to embed sentences alone."""

    encoding = False

    def encode(self, texts: Sequence[str]) -> list[Encoded]:
        self.encoding = True  # the fake's encode embeds too
        try:
            return super().encode(texts)
        finally:
            self.encoding = False

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not self.encoding:
            raise RuntimeError("the machine ran out of memory")
        return super().embed(texts)


def test_what_a_crashed_build_encoded_is_not_encoded_again(kb: Path, tmp_path: Path) -> None:
    crashing = CrashingEmbedder()
    with pytest.raises(RuntimeError, match="out of memory"):
        build_index(kb, tmp_path / "index", crashing)
    assert crashing.seen and _cached_keys(tmp_path / "index")  # kept, though no build finished
    assert current_build(tmp_path / "index") is None
    embedder = CountingEmbedder()
    build_index(kb, tmp_path / "index", embedder)
    documents = read_corpus(kb)
    alone = view_texts(sentence_rows(documents), {d.meta.id: d.meta.title for d in documents})["sentences"]
    assert embedder.seen and set(embedder.seen) <= set(alone)  # "heading. sentence" texts were all kept
    build_index(kb, tmp_path / "scratch", FakeEmbedder())
    rebuilt, scratch = (load_index(tmp_path / d, kb, FakeEmbedder.name).path for d in ("index", "scratch"))
    assert _data_files(rebuilt) == _data_files(scratch)


def test_a_damaged_build_is_not_read_for_its_vectors(kb: Path, tmp_path: Path) -> None:
    """Its vectors would outlive it: `kbot ingest`, the fix for a damaged index, must not copy them."""
    build_index(kb, tmp_path / "index", FakeEmbedder())
    views = next((tmp_path / "index" / "builds").iterdir()) / "context.npy"
    data = bytearray(views.read_bytes())
    data[-64:] = b"\x11" * 64  # the same size, the last vector's values changed
    views.write_bytes(bytes(data))
    embedder = CountingEmbedder()
    build_index(kb, tmp_path / "index", embedder)
    assert set(embedder.seen) == _sentence_texts(kb)  # every text went to the model again
    build_index(kb, tmp_path / "scratch", FakeEmbedder())
    rebuilt, scratch = (load_index(tmp_path / d, kb, FakeEmbedder.name).path for d in ("index", "scratch"))
    assert _data_files(rebuilt) == _data_files(scratch)


def test_a_damaged_cache_is_started_again(kb: Path, tmp_path: Path) -> None:
    (tmp_path / "index" / CACHE_FILE).parent.mkdir(parents=True)
    (tmp_path / "index" / CACHE_FILE).write_bytes(b"not a database at all" * 100)
    build_index(kb, tmp_path / "index", FakeEmbedder())
    assert load_index(tmp_path / "index", kb, FakeEmbedder.name).passages
    assert _cached_keys(tmp_path / "index") == set()  # a database again, emptied after the build


def _cached_keys(index_dir: Path) -> set[bytes]:
    with sqlite3.connect(index_dir / CACHE_FILE) as db:
        return {k for (k,) in db.execute("SELECT key FROM vectors UNION ALL SELECT key FROM encoded")}


def test_a_terminal_sees_a_progress_bar_with_an_eta(
    kb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    build_index(kb, tmp_path / "index", FakeEmbedder())
    err = capsys.readouterr().err
    assert "Embedding" in err and "100%" in err and "<" in err  # tqdm's [elapsed<remaining]


def test_no_progress_bar_when_stderr_is_not_a_terminal(
    kb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build_index(kb, tmp_path / "index", FakeEmbedder())
    assert "Embedding" not in capsys.readouterr().err


def test_piece_vectors_are_kept_as_int8_and_read_back_nearly_unchanged() -> None:
    rng = np.random.default_rng(7)
    # anisotropic, as a model's token vectors are: a few large components, many small ones
    pieces = unit_rows((rng.normal(size=(500, 384)) * rng.exponential(size=384)).astype(np.float32))
    blob = _pieces_to_int8(pieces)
    assert len(blob) == 500 * (384 + 4)  # a byte per component and a float32 scale per piece: half of float16
    values, scales = _int8_from_blob(blob, 500, 384)
    back = unit_rows(values * scales[:, None])
    assert (back * pieces).sum(axis=1).min() >= 0.9995  # more skewed than real pieces (0.99988 on NIH articles)
    assert _int8_from_blob(_pieces_to_int8(np.zeros((0, 384), np.float32)), 0, 384)[0].shape == (0, 384)


def test_entries_of_another_piece_format_are_misses_and_are_dropped(kb: Path, tmp_path: Path) -> None:
    """A cache written before pieces were int8 holds float16 blobs: read as int8 they would be garbage."""
    with pytest.raises(RuntimeError):
        build_index(kb, tmp_path / "index", CrashingEmbedder())  # leaves its "heading. sentence" entries
    db = sqlite3.connect(tmp_path / "index" / CACHE_FILE)
    with db:
        db.execute("UPDATE encoded SET key = CAST('old-' || hex(key) AS BLOB)")  # keys no rebuild asks for
    db.close()
    embedder = CountingEmbedder()
    build_index(kb, tmp_path / "index", embedder)
    assert set(embedder.seen) == _sentence_texts(kb)  # every "heading. sentence" text went to the model again
    assert _cached_keys(tmp_path / "index") == set()


class NarrowEmbedder(CountingEmbedder):
    """The fake, keeping word pieces in 16 of its 384 dimensions (as the real model keeps 128): another basis."""

    def __init__(self, columns: slice = slice(0, 16)) -> None:
        super().__init__()
        self.columns = columns

    @property
    def piece_basis(self) -> Vectors:
        return np.ascontiguousarray(np.eye(self.dim, dtype=np.float32)[:, self.columns])


def test_pieces_are_cached_in_the_embedders_basis_and_another_basis_is_a_miss(kb: Path, tmp_path: Path) -> None:
    build_index(kb, tmp_path / "index", NarrowEmbedder())
    index = load_index(tmp_path / "index", kb, FakeEmbedder.name)
    assert index.piece_basis.shape == (384, 16) and index.piece_vectors.shape[1] == 16
    again, other = NarrowEmbedder(), NarrowEmbedder(slice(16, 32))
    build_index(kb, tmp_path / "index", again)
    assert not again.seen  # the same basis: nothing to encode
    build_index(kb, tmp_path / "index", other)
    assert set(_sentence_texts(kb)) & set(other.seen)  # another basis: the pieces' texts are encoded again
