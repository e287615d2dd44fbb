"""The baseline a user would otherwise build: fixed 500-character chunks of each raw file, embedded with the same
model, the top three chunks quoted. No cleaning, no safety layer, no abstention."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import faiss

from kbot.catalog import load_catalog
from kbot.embedding import Embedder
from kbot.folder import read_source_text


@dataclass(frozen=True)
class Chunk:
    file: str
    start: int
    end: int
    text: str


class ChunkBaseline:
    def __init__(self, seeds_dir: Path, embedder: Embedder, size: int = 500, top_k: int = 3) -> None:
        self.embedder = embedder
        self.top_k = top_k
        self.texts: dict[str, str] = {}
        self.chunks: list[Chunk] = []
        for meta in load_catalog(seeds_dir):
            text = read_source_text(seeds_dir / meta.file)
            self.texts[meta.file] = text
            self.chunks += [
                Chunk(meta.file, i, min(i + size, len(text)), text[i : i + size]) for i in range(0, len(text), size)
            ]
        self.index = faiss.IndexFlatIP(embedder.dim)
        self.index.add(embedder.embed([c.text for c in self.chunks]))

    def ask(self, question: str) -> list[Chunk]:
        _, ids = self.index.search(self.embedder.embed([question]), self.top_k)
        return [self.chunks[i] for i in ids[0] if i >= 0]

    def faithful(self, chunk: Chunk) -> bool:
        return self.texts[chunk.file][chunk.start : chunk.end] == chunk.text
