"""Building and loading the index: the manifest, and what a missing, corrupt or stale index says."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from kbot.chunking import situated
from kbot.embedding import Embedder, FakeEmbedder
from kbot.errors import IndexCorrupt, IndexMissing, IndexStale
from kbot.glossary import Glossary
from kbot.index import PIECES_VIEW, build_index, load_index, view_texts
from kbot.lexical import Words, lexical_texts, plain_words
from kbot.piece_basis import basis_from_gram

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
MEDQUAD = SEEDS.parents[1] / "shared" / "medquad"


@pytest.fixture
def seeds_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "seeds"
    shutil.copytree(SEEDS, folder, ignore=shutil.ignore_patterns("abstention.toml"))
    return folder


@pytest.fixture
def built(seeds_copy: Path, tmp_path: Path) -> Path:
    index_dir = tmp_path / "index"
    build_index(seeds_copy, index_dir, FakeEmbedder())
    return index_dir


def test_manifest_records_model_sources_and_counts(built: Path, seeds_copy: Path) -> None:
    manifest = json.loads((built / "current" / "manifest.json").read_text())
    assert manifest["model"] == FakeEmbedder.name
    assert manifest["dim"] == 384
    assert set(manifest["sources"]) == {"sources.toml", *(p.name for p in seeds_copy.glob("*.txt"))}
    assert manifest["counts"]["documents"] == 5
    assert manifest["counts"]["passages"] > 50
    assert manifest["built_at"]


def test_loaded_index_fits_together(built: Path, seeds_copy: Path) -> None:
    index = load_index(built, seeds_copy, FakeEmbedder.name)
    assert index.passage_index.ntotal == len(index.passages)
    assert index.sentence_vectors.shape == (len(index.sentences), 384)
    assert index.piece_counts.shape == (len(index.sentences),)  # every sentence's word pieces, in one table
    assert index.piece_basis.shape == (384, 384)  # the fake's basis: every hashed word is a dimension of its own
    assert index.piece_vectors.shape == (int(index.piece_counts.sum()), 384) == (len(index.piece_ids), 384)
    assert index.piece_vectors.dtype == np.int8 and index.piece_scales.shape == (len(index.piece_vectors),)
    unit = index.piece_vectors * index.piece_scales[:, None]  # unit vectors, through int8
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, atol=1e-2)
    manifest = json.loads((built / "current" / "manifest.json").read_text())
    assert manifest["counts"]["pieces"] == len(index.piece_vectors) > len(index.sentences)
    for row in index.sentences:
        assert index.documents[row.source_id].text[row.start : row.end] == row.text


def test_views_are_kept_in_float16_within_a_rounding_of_the_models_vectors(built: Path, seeds_copy: Path) -> None:
    index = load_index(built, seeds_copy, FakeEmbedder.name)
    assert {v.dtype for v in index.views.values()} == {np.dtype(np.float16)}
    exact = FakeEmbedder().embed([r.text for r in index.sentences])
    stored = np.asarray(index.sentence_vectors, dtype=np.float32)
    assert np.abs(stored - exact).max() < 1e-3
    assert np.abs((stored * exact).sum(axis=1) - 1).max() < 1e-3  # a cosine with the model's vector moves by < 1e-3


def test_pieces_are_kept_as_ids_with_how_many_sentences_hold_each(built: Path, seeds_copy: Path) -> None:
    index = load_index(built, seeds_copy, FakeEmbedder.name)
    titles = {k: d.meta.title for k, d in index.documents.items()}
    texts = view_texts(index.sentences, titles)[PIECES_VIEW]
    pieces = [e.pieces for e in FakeEmbedder().encode(texts)]
    assert [index.pieces_of(r.id) for r in index.sentences] == pieces
    holding = Counter(p for line in pieces for p in set(line))
    assert dict(zip(index.piece_names, index.piece_texts.tolist(), strict=True)) == holding
    assert len(set(index.piece_names)) == len(index.piece_names)


def test_the_real_models_pieces_keep_most_of_their_length_in_the_kept_directions(
    real_index_dir: Path, real_embedder: Embedder
) -> None:
    index = load_index(real_index_dir / "default", SEEDS, real_embedder.name)
    texts = view_texts(index.sentences, {k: d.meta.title for k, d in index.documents.items()})[PIECES_VIEW][::10]
    pieces = np.concatenate([e.piece_vectors for e in real_embedder.encode(texts)])
    kept = np.linalg.norm(pieces @ index.piece_basis, axis=1)  # 1.0 would be all of it
    # The shipped basis was fitted on MedQuAD train articles, none of these: 0.82 of a piece's length at the median
    # (a basis fitted on these articles themselves kept 0.96, for the same support@1 on the calibration set).
    assert kept.min() > 0.5 and np.median(kept) > 0.78
    np.testing.assert_array_equal(index.piece_basis, real_embedder.piece_basis)


def test_the_shipped_piece_basis_is_orthonormal_in_the_models_dimensions(real_embedder: Embedder) -> None:
    basis = real_embedder.piece_basis
    assert basis.shape == (real_embedder.dim, 128) and basis.dtype == np.float32
    np.testing.assert_allclose(basis.T @ basis, np.eye(128), atol=1e-5)


def piece_basis(vectors: np.ndarray, dims: int) -> np.ndarray:
    return basis_from_gram(vectors.T.astype(np.float64) @ vectors, min(dims, len(vectors)))


def test_piece_basis_keeps_the_directions_the_vectors_span() -> None:
    rng = np.random.default_rng(0)
    vectors = (rng.normal(size=(50, 2)) @ rng.normal(size=(2, 6))).astype(np.float32)  # rank 2 in 6 dimensions
    basis = piece_basis(vectors, 4)
    assert basis.shape == (6, 4)
    np.testing.assert_allclose(basis.T @ basis, np.eye(4), atol=1e-5)  # orthonormal directions
    kept = np.linalg.norm(vectors @ basis[:, :2], axis=1)
    np.testing.assert_allclose(kept, np.linalg.norm(vectors, axis=1), rtol=1e-4)  # the first two hold everything
    assert piece_basis(np.zeros((0, 6), dtype=np.float32), 4).shape == (6, 0)  # no pieces at all


def test_missing_index_says_to_ingest(tmp_path: Path, seeds_copy: Path) -> None:
    with pytest.raises(IndexMissing) as err:
        load_index(tmp_path / "nowhere", seeds_copy, FakeEmbedder.name)
    assert err.value.fix == "kbot ingest"
    assert "No index" in str(err.value)


def test_changed_source_makes_index_stale(built: Path, seeds_copy: Path) -> None:
    article = next(seeds_copy.glob("*.txt"))
    article.write_text(article.read_text(encoding="utf-8") + "\nA new paragraph.\n", encoding="utf-8")
    with pytest.raises(IndexStale, match=f"{article.name} changed"):
        load_index(built, seeds_copy, FakeEmbedder.name)


def test_added_article_makes_index_stale(built: Path, seeds_copy: Path) -> None:
    (seeds_copy / "005_new.txt").write_text("A new article.\n", encoding="utf-8")
    with pytest.raises(IndexStale, match=r"005_new\.txt added"):
        load_index(built, seeds_copy, FakeEmbedder.name)


def test_other_model_makes_index_stale(built: Path, seeds_copy: Path) -> None:
    with pytest.raises(IndexStale, match="all-MiniLM-L6-v2"):
        load_index(built, seeds_copy, "all-MiniLM-L6-v2")


def test_other_stop_words_make_index_stale(built: Path, seeds_copy: Path) -> None:
    """BM25 is built with the knowledge base's stop words: new ones in kb.toml need a rebuild, not a silent mismatch."""
    settings = seeds_copy / "kb.toml"
    settings.write_text(settings.read_text().replace('stopwords = ["ketamine\'s"]', 'stopwords = ["ketamine"]'))
    with pytest.raises(IndexStale, match=r"stop words in kb\.toml"):
        load_index(built, seeds_copy, FakeEmbedder.name)
    build_index(seeds_copy, built, FakeEmbedder())
    assert load_index(built, seeds_copy, FakeEmbedder.name).manifest["stopwords"] == ["ketamine"]


def test_the_saved_bm25_index_holds_each_sentences_words(built: Path, seeds_copy: Path) -> None:
    """What the build saved, read back: each word's sentences and counts are those of tokenising them again."""
    index = load_index(built, seeds_copy, FakeEmbedder.name)
    titles = {k: d.meta.title for k, d in index.documents.items()}
    texts = lexical_texts(index.sentences, situated(index.sentences, titles))
    tokens = Words(index.manifest["stopwords"])(texts)
    holding: dict[str, list[int]] = {}
    for i, words in enumerate(tokens):
        for word in sorted(set(words)):
            holding.setdefault(word, []).append(i)
    assert "ketamin" in holding and "ketamine's" not in index.lexical.bm25.vocab_dict  # stemmed; its stop word out
    assert {w: index.lexical.holding(w).tolist() for w in holding} == holding
    assert index.lexical.document_frequencies() == {w: len(ids) for w, ids in holding.items()}
    assert index.lexical.holding("zyzzyva").size == 0
    assert index.lexical.words == {w for r in index.sentences for w in plain_words(r.text)}


def test_the_build_keeps_the_glossary_that_searching_the_sentences_finds(built: Path, seeds_copy: Path) -> None:
    index = load_index(built, seeds_copy, FakeEmbedder.name)
    assert index.glossary.definitions  # these articles define terms ("Ketamine is a ...")
    assert index.glossary == Glossary.of(index.sentences)


def test_an_index_is_served_only_with_the_reader_it_was_built_for(
    built: Path, seeds_copy: Path, tmp_path: Path
) -> None:
    assert json.loads((built / "current" / "manifest.json").read_text())["reader"] == ""
    with pytest.raises(IndexStale, match="not for 'kbot-reader-1 0123456789abcdef'"):
        load_index(built, seeds_copy, FakeEmbedder.name, "kbot-reader-1 0123456789abcdef")
    paired = build_index(seeds_copy, tmp_path / "paired", FakeEmbedder(), reader="kbot-reader-1 0123456789abcdef")
    assert paired["reader"] == "kbot-reader-1 0123456789abcdef"
    load_index(tmp_path / "paired", seeds_copy, FakeEmbedder.name, "kbot-reader-1 0123456789abcdef")
    with pytest.raises(IndexStale, match="built for 'kbot-reader-1 0123456789abcdef', not for 'no reader'"):
        load_index(tmp_path / "paired", seeds_copy, FakeEmbedder.name)


@pytest.mark.parametrize(
    ("damage", "file"),
    [
        ("truncate", "passages.faiss"),
        ("garbage", "corpus.jsonl"),
        ("delete", "sentences.npy"),
        ("garbage", "manifest.json"),
        ("garbage", "tokens.json"),
        ("truncate", "tokens.npy"),
        ("delete", "token_basis.npy"),
        ("truncate", "token_ids.npy"),
        ("garbage", "bm25/vocab.index.json"),
        ("delete", "words.json"),
    ],
)
def test_damaged_index_is_reported_as_corrupt(built: Path, seeds_copy: Path, damage: str, file: str) -> None:
    path = built / "current" / file
    if damage == "delete":
        path.unlink()
    elif damage == "truncate":
        path.write_bytes(path.read_bytes()[:100])
    else:
        path.write_text("{not json", encoding="utf-8")
    with pytest.raises(IndexCorrupt) as err:
        load_index(built, seeds_copy, FakeEmbedder.name)
    assert err.value.fix == "kbot ingest"


@pytest.mark.parametrize(
    "change",
    [
        {"files": []},
        {"files": {"corpus.jsonl": 7}},
        {"sources": ["a.txt"]},
        {"format": "4"},
        {"dim": 384.0},
        {"model": None},
        {"counts": None, "files": None},
    ],
    ids=["files a list", "a digest a number", "sources a list", "format a string", "dim a float", "model null", "two"],
)
def test_a_manifest_of_the_wrong_shape_is_corrupt_not_a_traceback(
    built: Path, seeds_copy: Path, change: dict[str, object]
) -> None:
    path = built / "current" / "manifest.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}), encoding="utf-8")
    with pytest.raises(IndexCorrupt, match=r"wrong type|incomplete") as err:
        load_index(built, seeds_copy, FakeEmbedder.name)
    assert err.value.fix == "kbot ingest"


@pytest.mark.parametrize("manifest", ["[]", '{"format": 4}', "null"])
def test_a_manifest_that_is_not_a_whole_object_is_corrupt(built: Path, seeds_copy: Path, manifest: str) -> None:
    (built / "current" / "manifest.json").write_text(manifest, encoding="utf-8")
    with pytest.raises(IndexCorrupt, match=r"not a JSON object|incomplete"):
        load_index(built, seeds_copy, FakeEmbedder.name)


def test_crash_mid_build_leaves_the_old_index(built: Path, seeds_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = (built / "current").resolve()

    class Exploding(FakeEmbedder):
        name = "fake-exploding"  # not the cached model's: every text is embedded again

        def embed(self, texts):  # type: ignore[no-untyped-def]
            raise RuntimeError("power cut")

    with pytest.raises(RuntimeError, match="power cut"):
        build_index(seeds_copy, built, Exploding())
    assert (built / "current").resolve() == before
    assert load_index(built, seeds_copy, FakeEmbedder.name).passages
    assert [p.name for p in (built / "builds").iterdir()] == [before.name]


def test_rebuild_swaps_and_removes_the_old_build(built: Path, seeds_copy: Path) -> None:
    before = (built / "current").resolve()
    build_index(seeds_copy, built, FakeEmbedder())
    after = (built / "current").resolve()
    assert after != before and not before.exists()
    assert load_index(built, seeds_copy, FakeEmbedder.name).passages


def test_the_piece_basis_script_fits_one_on_medquad_train(tmp_path: Path, real_embedder: Embedder) -> None:
    """``python -m kbot.piece_basis``, as it made the shipped basis, on 3 train articles instead of 400."""
    from kbot.piece_basis import main

    out = tmp_path / "basis.npy"
    main([str(MEDQUAD), "--articles", "3", "--out", str(out)])
    basis = np.load(out)
    assert basis.shape == (real_embedder.dim, 128)
    np.testing.assert_allclose(basis.T @ basis, np.eye(128), atol=1e-5)
    about = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert about["fitted_on"].startswith("MedQuAD train, 3 articles") and about["pieces"] > 128
