"""The baselines a user would otherwise build: the raw files cut into pieces, embedded with the same model, the top
three pieces quoted whole. No cleaning, no safety layer, no abstention.

``ChunkBaseline`` cuts each file into fixed 500-character chunks; ``SectionBaseline`` into its sections, each from
one heading to the next (a Markdown file's ``#`` headings; a text file's headings as kbot reads them), returned whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import faiss

from kbot.catalog import load_catalog
from kbot.corpus import parse_blocks
from kbot.domain import BlockKind, SourceMeta
from kbot.embedding import Embedder
from kbot.folder import read_source_text

_MD_HEADING = re.compile(r"^#{1,6}\s", re.MULTILINE)


@dataclass(frozen=True)
class Chunk:
    file: str
    start: int
    end: int
    text: str


class DenseBaseline:
    """Dense retrieval over pieces of each file of a knowledge base: ``pieces`` says how a file is cut."""

    name = "baseline"

    def __init__(self, seeds_dir: Path, embedder: Embedder, top_k: int = 3) -> None:
        self.embedder = embedder
        self.top_k = top_k
        self.texts: dict[str, str] = {}
        self.chunks: list[Chunk] = []
        for meta in load_catalog(seeds_dir):
            text = read_source_text(seeds_dir / meta.file)
            self.texts[meta.file] = text
            self.chunks += [Chunk(meta.file, a, b, text[a:b]) for a, b in self.pieces(text, meta)]
        self.index = faiss.IndexFlatIP(embedder.dim)
        self.index.add(embedder.embed([c.text for c in self.chunks]))

    def pieces(self, text: str, meta: SourceMeta) -> Iterable[tuple[int, int]]:
        raise NotImplementedError

    def ask(self, question: str) -> list[Chunk]:
        _, ids = self.index.search(self.embedder.embed([question]), self.top_k)
        return [self.chunks[i] for i in ids[0] if i >= 0]

    def faithful(self, chunk: Chunk) -> bool:
        return self.texts[chunk.file][chunk.start : chunk.end] == chunk.text


class ChunkBaseline(DenseBaseline):
    """Fixed 500-character chunks of each raw file."""

    name = "chunk baseline"

    def __init__(self, seeds_dir: Path, embedder: Embedder, size: int = 500, top_k: int = 3) -> None:
        self.size = size
        super().__init__(seeds_dir, embedder, top_k)

    def pieces(self, text: str, meta: SourceMeta) -> Iterable[tuple[int, int]]:
        return ((i, min(i + self.size, len(text))) for i in range(0, len(text), self.size))


class SectionBaseline(DenseBaseline):
    """Each file's sections whole: from a heading's line to the next heading's (the text before the first heading is
    a section too). A heading with nothing under it is no section."""

    name = "section baseline"

    def pieces(self, text: str, meta: SourceMeta) -> Iterable[tuple[int, int]]:
        heads = heading_lines(text, meta)
        starts = sorted({0, *heads})
        for a, b in zip(starts, [*starts[1:], len(text)], strict=True):
            lines = [line for line in text[a:b].splitlines() if line.strip()]
            if len(lines) > (a in heads):
                yield a, b


def heading_lines(text: str, meta: SourceMeta) -> set[int]:
    """Where each heading's line starts: ``#`` lines in Markdown, kbot's headings in a text file."""
    if meta.file.lower().endswith(".md"):
        return {m.start() for m in _MD_HEADING.finditer(text)}
    blocks = parse_blocks(text, meta)
    return {text.rfind("\n", 0, b.start) + 1 for b in blocks if b.kind is BlockKind.HEADING}
