"""Would fine-tuning the embedding model on labelled questions help? A probe, not part of kbot.

    .venv/bin/python eval/finetune_probe.py

Splits the calibration set's answerable questions in two halves (A: the 1st, 3rd, 5th...; B: the others); for each,
fine-tunes a copy of all-MiniLM-L6-v2 on that half's (question, evidence snippet) pairs (in-batch negatives, the loss
sentence-transformers calls MultipleNegativesRankingLoss), builds an index with it in a temporary folder, and measures
support@1 and support@3 on the other half, abstention off, beside the packaged model on the same half. The gold set is
never used.
"""

from __future__ import annotations

import dataclasses
import random
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from kbot.answer import Abstention
from kbot.config import Settings
from kbot.embedding import SentenceTransformerEmbedder, packaged_model
from kbot.evaluation.gold import GoldItem, load_gold
from kbot.evaluation.metrics import by_kind
from kbot.evaluation.run import evaluate_kbot
from kbot.index import build_index
from kbot.service import KbotService

EPOCHS, BATCH, LEARNING_RATE, SCALE = 3, 32, 2e-5, 20.0


def fine_tune(items: Sequence[GoldItem]) -> Any:
    """A fresh copy of the packaged model, trained on every (question, snippet) pair of ``items``."""
    model = packaged_model()
    pairs = [(i.question, snippet) for i in items for snippet in i.evidence]
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE)
    rng = random.Random(0)
    model.train()
    for _ in range(EPOCHS):
        rng.shuffle(pairs)
        for start in range(0, len(pairs), BATCH):
            batch = pairs[start : start + BATCH]
            q, d = (model(model.tokenize([p[k] for p in batch]))["sentence_embedding"] for k in (0, 1))
            q, d = torch.nn.functional.normalize(q, dim=-1), torch.nn.functional.normalize(d, dim=-1)
            loss = torch.nn.functional.cross_entropy(q @ d.T * SCALE, torch.arange(len(batch)))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()
    return model


def measure(embedder: SentenceTransformerEmbedder, items: Sequence[GoldItem]) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(index_dir=Path(folder), reader=False)  # retrieval's own order: what fine-tuning changes
        build_index(settings.seeds_dir, settings.index_dir / "default", embedder)
        loaded = KbotService.load(settings, embedder)
        service = loaded.with_knowledge_base(dataclasses.replace(loaded.kb(), abstention=Abstention(-1.0, -1.0, -1.0)))
        figures = by_kind(evaluate_kbot(service, items))["answerable"]
    return figures["support_at_1"], figures["support_at_3"]


def main() -> None:
    torch.manual_seed(0)
    items = [i for i in load_gold(Path("eval/calibration.jsonl")) if i.kind == "answerable"]
    halves = items[0::2], items[1::2]
    packaged = SentenceTransformerEmbedder()
    print("| trained on -> measured on | packaged s@1 | s@3 | fine-tuned s@1 | s@3 | training s |")
    print("|---|---|---|---|---|---|")
    for name, train, test in (("A -> B", halves[0], halves[1]), ("B -> A", halves[1], halves[0])):
        started = time.perf_counter()
        tuned = SentenceTransformerEmbedder(model=fine_tune(train))
        seconds = time.perf_counter() - started
        (b1, b3), (t1, t3) = measure(packaged, test), measure(tuned, test)
        print(f"| {name} | {b1:.3f} | {b3:.3f} | {t1:.3f} | {t3:.3f} | {seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main()
