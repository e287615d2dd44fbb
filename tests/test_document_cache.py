"""The parsed-article cache: a rebuild parses only the articles that changed, and reads back exactly what parsing
gives (the same Document, offsets and all); a new parser, a new catalog entry or a damaged file is a miss."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from kbot import document_cache
from kbot.catalog import load_catalog
from kbot.document_cache import CACHE_FILE, DocumentCache
from kbot.domain import Document, SourceMeta
from kbot.index import build_index, load_index, read_corpus
from test_embedding_cache import ASTHMA, EDIT, CountingEmbedder

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
NIH_SMALL = Path(__file__).resolve().parent / "kbs" / "nih-small"


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    folder = tmp_path / "kb"
    shutil.copytree(ASTHMA, folder)
    return folder


@pytest.mark.parametrize("folder", [SEEDS, NIH_SMALL], ids=["seeds", "nih-small"])
def test_an_article_read_back_is_the_article_parsed(folder: Path, tmp_path: Path) -> None:
    metas = load_catalog(folder)
    with DocumentCache(tmp_path) as cache:
        first = cache.read(folder, metas)
        assert cache.parsed == len(metas)
    with DocumentCache(tmp_path) as cache:
        again = cache.read(folder, metas)
        assert cache.parsed == 0
    assert again == first == read_corpus(folder)  # every block, kind, span and sentence
    for document in again:
        assert all(document.text[s.start : s.end] == s.text for s in document.sentences)


def test_a_rebuild_parses_only_the_edited_article(kb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build_index(kb, tmp_path / "index", CountingEmbedder())
    article = sorted(kb.glob("*.md"))[0]
    article.write_text(article.read_text(encoding="utf-8") + EDIT, encoding="utf-8")
    parsed: list[str] = []
    real = document_cache.parse_document

    def counted(meta: SourceMeta, text: str) -> Document:
        parsed.append(meta.file)
        return real(meta, text)

    monkeypatch.setattr(document_cache, "parse_document", counted)
    build_index(kb, tmp_path / "index", CountingEmbedder())
    assert parsed == [article.name]
    index = load_index(tmp_path / "index", kb, CountingEmbedder.name)
    assert any("peak flow meter" in row.text for row in index.sentences)  # the edit is in the new build


def test_a_new_parser_or_catalog_entry_parses_again(kb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    metas = load_catalog(kb)
    with DocumentCache(tmp_path) as cache:
        cache.read(kb, metas)
    monkeypatch.setattr(document_cache, "parser_digest", lambda: b"another kbot")
    with DocumentCache(tmp_path) as cache:
        cache.read(kb, metas)
        assert cache.parsed == len(metas)
    monkeypatch.undo()
    sources = kb / "sources.toml"
    sources.write_text(sources.read_text(encoding="utf-8").replace('updated = "2026-01-10"', 'updated = "2026-12-01"'))
    with DocumentCache(tmp_path) as cache:
        cache.read(kb, load_catalog(kb))
        assert cache.parsed == 1  # the one entry that changed


def test_the_cache_keeps_only_what_the_last_build_used(kb: Path, tmp_path: Path) -> None:
    build_index(kb, tmp_path / "index", CountingEmbedder())
    article = sorted(kb.glob("*.md"))[0]
    article.write_text(article.read_text(encoding="utf-8") + EDIT, encoding="utf-8")
    build_index(kb, tmp_path / "index", CountingEmbedder())
    with sqlite3.connect(tmp_path / "index" / CACHE_FILE) as db:
        (count,) = db.execute("SELECT count(*) FROM documents").fetchone()
    assert count == len(load_catalog(kb))


def test_the_file_gives_back_the_space_of_a_parser_s_old_entries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After kbot's parser changes every entry is new: the old ones' pages are given back, not kept as free space."""
    metas = load_catalog(NIH_SMALL)
    with DocumentCache(tmp_path) as cache:
        cache.read(NIH_SMALL, metas)
        cache.prune()
    size = (tmp_path / CACHE_FILE).stat().st_size
    monkeypatch.setattr(document_cache, "parser_digest", lambda: b"another kbot")
    with DocumentCache(tmp_path) as cache:
        cache.read(NIH_SMALL, metas)
        cache.prune()
    assert (tmp_path / CACHE_FILE).stat().st_size < 1.2 * size


def test_a_damaged_cache_is_started_again(kb: Path, tmp_path: Path) -> None:
    path = tmp_path / CACHE_FILE
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a database" * 100)
    with DocumentCache(tmp_path) as cache:
        assert cache.read(kb, load_catalog(kb)) == read_corpus(kb)
        assert cache.parsed == len(load_catalog(kb))
