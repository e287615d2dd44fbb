"""Parsed articles kept by content, so that a re-ingest parses only the articles that changed.

Reading an article (its blocks, the cleaning, pysbd's sentence splitting) costs about 20 ms: on the full NIH library
(5,486 articles) two minutes of every ingest, an edit or not, more than the re-ingest's whole budget. Each parsed
article is kept in ``<index dir>/cache/documents.sqlite`` under a SHA-256 of its text, its catalog entry and the parser
itself (the source of the modules that parse, the cleaning rules, pysbd's version), so that a change to any of them is
a miss, never a stale parse. Like the embedding cache, it keeps only what the last build used.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from functools import cache
from importlib import metadata, resources
from pathlib import Path

from kbot.corpus import parse_document
from kbot.domain import Block, Document, Sentence, SourceMeta, plain
from kbot.embedding_cache import open_cache
from kbot.folder import read_source_text

CACHE_FILE = Path("cache") / "documents.sqlite"
PARSER_FILES = ("corpus.py", "clean.py", "domain.py", "folder.py", "data/clean.toml")  # what a parse depends on
_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (key BLOB PRIMARY KEY, parsed TEXT NOT NULL);
CREATE TEMP TABLE used (key BLOB PRIMARY KEY);
"""


@cache
def parser_digest() -> bytes:
    """A SHA-256 of everything that decides how an article is parsed: a new kbot or pysbd parses every article again."""
    digest = hashlib.sha256(metadata.version("pysbd").encode())
    for name in PARSER_FILES:
        digest.update(resources.files("kbot").joinpath(name).read_bytes())
    return digest.digest()


class DocumentCache:
    """One build's view of a knowledge base's parsed articles: ``read`` parses what the cache lacks; ``prune`` after
    a build succeeds. Use it as a context manager."""

    def __init__(self, index_dir: Path) -> None:
        self._db = open_cache(index_dir / CACHE_FILE, _SCHEMA)
        self.parsed = 0  # how many articles this build had to parse

    def __enter__(self) -> DocumentCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self._db.close()

    def read(self, seeds_dir: Path, metas: Sequence[SourceMeta]) -> list[Document]:
        """Every article of ``metas``, in order, parsed as ``corpus.read_document`` would, from the cache if it can."""
        documents = []
        for meta in metas:
            text = read_source_text(seeds_dir / meta.file)
            key = _key(meta, text)
            self._db.execute("INSERT OR IGNORE INTO used VALUES (?)", (key,))
            row = self._db.execute("SELECT parsed FROM documents WHERE key = ?", (key,)).fetchone()
            if row is None:
                document = parse_document(meta, text)
                self._db.execute("INSERT INTO documents VALUES (?, ?)", (key, _dumps(document)))
                self.parsed += 1
            else:
                document = _loads(meta, text, row[0])
            documents.append(document)
        self._db.commit()
        return documents

    def prune(self) -> None:
        """Drop every article the build did not use (edited, removed, parsed by another kbot)."""
        self._db.execute("DELETE FROM documents WHERE key NOT IN (SELECT key FROM used)")
        self._db.commit()
        free, pages = (self._db.execute(f"PRAGMA {name}").fetchone()[0] for name in ("freelist_count", "page_count"))
        if free > pages / 4:  # after kbot's parser changed, most entries are new: give back the old ones' space
            self._db.execute("VACUUM")


def _key(meta: SourceMeta, text: str) -> bytes:
    entry = json.dumps(plain(meta), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(parser_digest() + entry.encode() + b"\0" + text.encode()).digest()


def _dumps(document: Document) -> str:
    blocks = [plain(b) for b in document.blocks]
    sentences = [plain(s) for s in document.sentences]
    return json.dumps({"blocks": blocks, "sentences": sentences}, ensure_ascii=False)


def _loads(meta: SourceMeta, text: str, parsed: str) -> Document:
    values = json.loads(parsed)
    blocks = tuple(Block.from_json(b) for b in values["blocks"])
    return Document(meta, text, blocks, tuple(Sentence(**s) for s in values["sentences"]))
