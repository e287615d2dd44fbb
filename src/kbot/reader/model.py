"""The reader: a small cross-encoder that reads the question and one candidate sentence (under its heading) together
and scores how well the sentence answers it. Retrieval proposes the candidates; the reader reorders the best of them.

The weights ship in ``kbot/data/reader/`` (fp16 safetensors, with the model card beside them) and are trained by
``kbot.reader.training`` from MedQuAD's ``train`` documents. Loaded offline, on the CPU.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from kbot.chunking import SentenceRow
from kbot.config import Settings
from kbot.embedding import linear_in_bf16, precision
from kbot.errors import InvalidSettings
from kbot.reader.adapter import ADAPTER_FILE, QueryAdapter
from kbot.retrieval import Candidate

WEIGHTS_FILE = "model.safetensors"
SETTINGS_FILE = "reader.json"  # name, max_length, and how its score joins retrieval's (chosen on dev)
# Pairs per forward pass. predict() sorts the pairs by length, and each pass pads to its longest: eight questions'
# 80 pairs took 49 ms a question in one pass, 32 in passes of 16, on the full NIH library's candidates (bf16, 2 cores).
BATCH = 16
# Pairs padded to a multiple of this many word pieces. Each shape of input is another primitive that oneDNN compiles
# and caches, and another size of buffer for the allocator: padded to the longest pair alone, a process answering
# varied NIH questions grew from 0.88 to 1.55 GB of its own memory over 1,256 of them and went on growing.
PAD_TO = 8


def packaged_reader_dir() -> Path:
    return Path(str(resources.files("kbot") / "data" / "reader"))


def reader_id(settings: Settings) -> str:
    """What an index's manifest records of the reader ``settings`` serve with: its name and the first 16 hex digits of
    its weights' SHA-256, or "" when the reader is off (KBOT_READER=false)."""
    return _folder_id(settings.reader_dir or packaged_reader_dir()) if settings.reader else ""


@lru_cache(maxsize=4)
def _folder_id(folder: Path) -> str:
    reader = Reader(folder)
    return f"{reader.name} {reader.digest}"


@dataclass(frozen=True)
class ReaderSettings:
    """How the reader is used, written beside its weights by the training script and chosen on dev sets."""

    name: str
    max_length: int = 96
    depth: int = 10  # how many of retrieval's best candidates it reads
    weight: float = 0.5  # what its probability adds to a candidate's retrieval score
    whole: int = 0  # how many of those it reads whole, the best by their headings alone (0: all of them)

    @classmethod
    def read(cls, folder: Path) -> ReaderSettings:
        values = json.loads((folder / SETTINGS_FILE).read_text(encoding="utf-8"))
        known = {k: v for k, v in values.items() if k in cls.__dataclass_fields__}
        return cls(**known)


class Reader:
    """Scores (question, passage) pairs with the shipped cross-encoder. ``passage`` is the sentence under its heading,
    as the index's context view writes it ("Acromegaly: Symptoms. The signs are ...")."""

    def __init__(self, folder: Path | None = None, bf16: bool | None = None, int8: bool = False) -> None:
        """``bf16``: score in bfloat16 (kbot.embedding.precision; about 1.9x faster where the CPU has it natively).
        ``int8``: quantise its linear layers to int8 when loading them (torch's quantize_dynamic), and score in
        float32 around them; KBOT_READER_INT8 says why it is not the default."""
        self.folder = folder or packaged_reader_dir()
        self._bf16 = bf16
        self.int8 = int8
        if not (self.folder / SETTINGS_FILE).is_file() or not (self.folder / WEIGHTS_FILE).is_file():
            raise InvalidSettings(
                f"No reader in {self.folder} (it needs {WEIGHTS_FILE} and {SETTINGS_FILE}).",
                "set KBOT_READER_DIR to a folder written by python -m kbot.reader.training, or KBOT_READER=false",
            )
        self.settings = ReaderSettings.read(self.folder)
        self.name = self.settings.name
        adapter = self.folder / ADAPTER_FILE
        self.adapter = QueryAdapter.read(adapter) if adapter.is_file() else None  # ranks candidates, see adapter.py

    @cached_property
    def digest(self) -> str:
        """The weights' SHA-256, first 16 hex digits: what an index's manifest records of its reader."""
        return hashlib.sha256((self.folder / WEIGHTS_FILE).read_bytes()).hexdigest()[:16]

    @cached_property
    def _model(self) -> Any:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from sentence_transformers import CrossEncoder

        model = CrossEncoder(
            str(self.folder),
            num_labels=1,
            device="cpu",
            max_length=self.settings.max_length,
            local_files_only=True,
            model_kwargs={"dtype": torch.float32},  # stored as fp16 to halve the file; fp32 is faster on CPUs
        )
        model.model.eval()
        model[0].processing_kwargs = {"text": {"pad_to_multiple_of": PAD_TO}}
        if self.int8:
            _quantise(model)
        else:  # the same scores bit for bit, without autocast casting every weight again at every pass
            linear_in_bf16(model.model, self._bf16)
        return model

    def load(self) -> Reader:
        """Load the weights now (else on the first question)."""
        _ = self._model
        return self

    def logits(self, question: str, passages: Sequence[str]) -> np.ndarray:
        """The reader's raw score of each passage for the question (higher: answers it better)."""
        return self._logits([(question, p) for p in passages])

    def probabilities(self, question: str, passages: Sequence[str]) -> np.ndarray:
        return self._probabilities([(question, p) for p in passages])

    def _logits(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        if not self.int8 or len({question for question, _ in pairs}) < 2:
            return self._predict(pairs)
        # int8 takes one scale for a pass's whole input: each question's pairs in passes of their own, so that its
        # scores never depend on the questions read beside it (as many passes cost the same as mixed ones in int8)
        asked: dict[str, list[int]] = {}
        for i, (question, _) in enumerate(pairs):
            asked.setdefault(question, []).append(i)
        scores = np.empty(len(pairs), dtype=np.float32)
        for rows in asked.values():
            scores[rows] = self._predict([pairs[i] for i in rows])
        return scores

    def _predict(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        if not pairs:
            return np.zeros(0, dtype=np.float32)
        with precision(False if self.int8 else self._bf16):  # int8 layers take float32 in
            scores = self._model.predict(
                list(pairs), batch_size=BATCH, show_progress_bar=False, activation_fn=_identity()
            )
        return np.asarray(scores, dtype=np.float32).reshape(-1)

    def _probabilities(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        return np.asarray(1.0 / (1.0 + np.exp(-self._logits(pairs))), dtype=np.float32)

    def rerank(
        self,
        question: str,
        candidates: Sequence[Candidate],
        passage: Callable[[SentenceRow], str],
        heading: Callable[[SentenceRow], str] | None = None,
    ) -> tuple[Candidate, ...]:
        """Retrieval's best ``depth`` candidates reordered by their score plus ``weight`` times the reader's
        probability that they answer; the others after them, as they were (their scores stay below)."""
        return self.rerank_batch([Reading(question, candidates, passage, heading=heading)])[0]

    def rerank_batch(self, asked: Sequence[Reading]) -> list[tuple[Candidate, ...]]:
        """``rerank`` for several questions, each with its depth and weight (the reader's own where it gives none),
        with one model call per stage for all their candidates.

        Where the reader's ``whole`` is below the depth (and the question gives its headings), it reads in two
        stages: first each candidate's heading alone, the same for every sentence of a section, so a question has a
        few distinct ones; then the sentence under its heading for the best ``whole`` of them by retrieval's score
        plus ``weight`` times P(the heading answers). Those are lifted by what their whole pair reads; the rest keep
        that order below them. Off as shipped (``whole`` 0): the model card says what it gave on NIH dev."""
        uses = [self._use(a) for a in asked]
        read: dict[tuple[str, str], float] = {}
        heads = [
            [(a.question, a.heading(c.row)) for c in a.candidates[: use.depth]] if use.skims and a.heading else []
            for a, use in zip(asked, uses, strict=True)
        ]
        self._read_into(read, [pair for pairs in heads for pair in pairs])
        firsts = []  # each question's first candidates, those it reads whole leading
        for a, use, pairs in zip(asked, uses, heads, strict=True):
            first = list(a.candidates[: use.depth])
            if pairs:
                by_heading = {c.row.id: read[pair] for c, pair in zip(first, pairs, strict=True)}
                first.sort(key=lambda c: c.score + use.weight * by_heading[c.row.id], reverse=True)
            firsts.append(first)
        wholes = [
            [(a.question, a.passage(c.row)) for c in first[: use.whole]] if use.weight else []
            for a, use, first in zip(asked, uses, firsts, strict=True)
        ]
        self._read_into(read, [pair for pairs in wholes for pair in pairs])
        out = []
        for a, use, first, pairs in zip(asked, uses, firsts, wholes, strict=True):
            if not use.weight:
                out.append(tuple(a.candidates))
                continue
            lifted = sorted(
                (
                    replace(c, score=c.score + use.weight * read[pair])
                    for c, pair in zip(first[: use.whole], pairs, strict=True)
                ),
                key=lambda c: c.score,
                reverse=True,
            )
            floor = min((c.score for c in lifted), default=0.0)  # the skimmed ones below, in the order skimming gave
            skimmed = [replace(c, score=floor - 1e-3 * i) for i, c in enumerate(first[use.whole :], 1)]
            out.append((*lifted, *skimmed, *a.candidates[use.depth :]))
        return out

    def _use(self, a: Reading) -> _Use:
        depth = a.depth or self.settings.depth
        weight = self.settings.weight if a.weight is None else a.weight
        return _Use(depth, weight, min(self.settings.whole or depth, depth) if a.heading else depth)

    def _read_into(self, read: dict[tuple[str, str], float], pairs: Sequence[tuple[str, str]]) -> None:
        """P(answers) of each pair not in ``read`` yet, in one model call, added to it."""
        missing = [pair for pair in dict.fromkeys(pairs) if pair not in read]
        if missing:
            read.update(zip(missing, self._probabilities(missing).tolist(), strict=True))


class _Use(NamedTuple):
    depth: int  # how many of retrieval's best candidates the reader reads
    weight: float  # 0: none
    whole: int  # how many of them it reads whole; fewer than depth: the best by their headings

    @property
    def skims(self) -> bool:
        return bool(self.weight) and self.whole < self.depth


class Reading(NamedTuple):
    """One question's candidates for the reader, with how its library uses it (None: the reader's defaults)."""

    question: str
    candidates: Sequence[Candidate]
    passage: Callable[[SentenceRow], str]  # the candidate's sentence under its heading (Retriever.passage)
    depth: int | None = None
    weight: float | None = None
    heading: Callable[[SentenceRow], str] | None = None  # its heading alone (Retriever.heading); None: read whole


def _quantise(model: Any) -> None:
    """Dynamic int8 for the linear layers, in place: each weight matrix with a scale per output channel, and each
    input with one scale, taken from the whole pass when it comes (so a pair's score depends a little on the pairs
    read beside it, and Reader._logits reads each question's pairs apart). The one-output classifier stays in float32.
    One scale per matrix, as before 2026-12-07, lost a point of support@1 on NIH dev where a scale per channel lost
    none (eval/reader_precision.py, eval/README.md)."""
    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig

    layers = {
        name: per_channel_dynamic_qconfig
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and module.out_features > 1
    }
    with warnings.catch_warnings():  # torch.ao.quantization is deprecated for torchao, which we do not ship
        warnings.simplefilter("ignore")
        torch.ao.quantization.quantize_dynamic(model, layers, dtype=torch.qint8, inplace=True)  # type: ignore[no-untyped-call]


def _identity() -> Any:
    import torch

    return torch.nn.Identity()
