"""The reader's question adapter: a small network, trained with the cross-encoder on MedQuAD's ``train`` documents,
that moves a question's vector toward the sentences that answer it before retrieval ranks its candidates.

The index is untouched (sentences keep the packaged model's vectors), so an adapter may be changed without
re-ingesting; it acts only on the question, and only on the cosines that rank candidates. Abstention keeps the
question's own vector: the thresholds `kbot calibrate` chose still mean what they meant.

q' = unit(q + W2 gelu(W1 q + b1) + b2), gelu in its tanh form (torch's ``approximate="tanh"``), so that numpy computes
what training computed. Trained by ``kbot.reader.adapting``; the weights ship as ``adapter.npz`` beside the reader's.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from kbot.embedding import Vectors, unit_rows
from kbot.errors import InvalidSettings

ADAPTER_FILE = "adapter.npz"
LAYERS = ("w1", "b1", "w2", "b2")


class QueryAdapter:
    def __init__(self, w1: np.ndarray, b1: np.ndarray, w2: np.ndarray, b2: np.ndarray) -> None:
        self.w1, self.b1 = np.asarray(w1, dtype=np.float32), np.asarray(b1, dtype=np.float32)
        self.w2, self.b2 = np.asarray(w2, dtype=np.float32), np.asarray(b2, dtype=np.float32)
        self.dim, hidden = self.w1.shape
        if self.b1.shape != (hidden,) or self.w2.shape != (hidden, self.dim) or self.b2.shape != (self.dim,):
            raise ValueError(f"an adapter's layers do not fit together: {self.w1.shape}, {self.w2.shape}")

    @classmethod
    def read(cls, path: Path) -> QueryAdapter:
        try:
            with np.load(path) as stored:
                return cls(*(stored[name] for name in LAYERS))
        except (OSError, KeyError, ValueError) as e:
            raise InvalidSettings(
                f"The reader's question adapter {path} cannot be read ({e}).",
                "write it again with python -m kbot.reader.adapting, or remove it (retrieval then ranks without it)",
            ) from e

    def write(self, path: Path) -> None:
        np.savez(path, w1=self.w1, b1=self.b1, w2=self.w2, b2=self.b2)

    @property
    def digest(self) -> str:
        """The weights' SHA-256, first 16 hex digits."""
        h = hashlib.sha256()
        for layer in (self.w1, self.b1, self.w2, self.b2):
            h.update(np.ascontiguousarray(layer).tobytes())
        return h.hexdigest()[:16]

    def __call__(self, vectors: Vectors) -> Vectors:
        """Each row (a question's unit vector) adapted, as unit rows."""
        q = np.asarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        h = q @ self.w1 + self.b1
        h = 0.5 * h * (1 + np.tanh(np.float32(np.sqrt(2 / np.pi)) * (h + np.float32(0.044715) * h**3)))
        return unit_rows(q + h @ self.w2 + self.b2)
