"""Choose the retrieval weights (kbot.retrieval.Weights) on the calibration set, never on the gold set.

    .venv/bin/python eval/tune_weights.py                     # coordinate search from the current weights
    .venv/bin/python eval/tune_weights.py --rounds 3

Each round tries every weight at every value of a small grid, one weight at a time, and keeps a change only when it
raises the mean of support@1 and MRR on the calibration set's answerable questions by more than ``--min-gain``
(small sets reward noise: a tie keeps the current value). Prints the weights to copy into ``Weights``, and the figures
before and after. Needs the real index (`kbot ingest`).
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from kbot.config import Settings
from kbot.evaluation.gold import GoldItem, load_gold
from kbot.evaluation.metrics import by_kind
from kbot.evaluation.run import evaluate_kbot
from kbot.retrieval import FEATURES, Retriever, Weights
from kbot.service import KbotService

GRID = (0.0, 0.1, 0.2, 0.3, 0.4, 0.6, 0.8, 1.0, 1.5, 2.0, 3.0)


def memoised(service: KbotService, kbs: Sequence[str] = ("default",)) -> KbotService:
    """The service with its model calls and per-question features cached: only the mixing changes between trials."""
    encode = service.embedder.encode

    @cache
    def encode_one(text: str) -> Any:
        return encode([text])[0]

    service.embedder.encode = lambda texts: [encode_one(t) for t in texts]  # type: ignore[method-assign]
    for kb in kbs:
        retriever = service.kb(kb).retriever
        seen: dict[tuple[str, bytes | None], Any] = {}  # by the question and the vector it is ranked by (adapter)

        def features_of(
            query: str, encoded: Any, proposed: Any = None, *, features: Any = retriever.features, seen: dict = seen
        ) -> Any:
            key = (query, None if encoded.ranking is None else encoded.ranking.tobytes())
            if key not in seen:
                seen[key] = features(query, encoded, proposed)
            return seen[key]

        retriever.features = features_of  # type: ignore[method-assign]
    return service


def score(service: KbotService, retriever: Retriever, weights: Weights, items: Sequence[GoldItem]) -> dict[str, float]:
    retriever.weights = weights
    figures = by_kind(evaluate_kbot(service, items))["answerable"]
    return {"objective": (figures["support_at_1"] + figures["mrr"]) / 2, **figures}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("labelled", nargs="?", type=Path, default=Path("eval/calibration.jsonl"))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--min-gain", type=float, default=0.005)
    args = parser.parse_args(argv)
    if args.labelled.name == "gold.jsonl":
        parser.error("the gold set is held out: tune on the calibration set")
    items = [i for i in load_gold(args.labelled) if i.kind == "answerable"]
    service = memoised(KbotService.load(Settings()))
    retriever = service.kb().retriever
    best = Weights()
    best_score = score(service, retriever, best, items)
    start = best_score
    for round_ in range(1, args.rounds + 1):
        changed = False
        for name in FEATURES:
            for value in GRID:
                trial = dataclasses.replace(best, **{name: value})
                result = score(service, retriever, trial, items)
                if result["objective"] > best_score["objective"] + args.min_gain:
                    best, best_score, changed = trial, result, True
        print(f"round {round_}: {best} -> support@1 {best_score['support_at_1']:.3f}, MRR {best_score['mrr']:.3f}")
        if not changed:
            break
    print(f"\n{args.labelled}: {len(items)} answerable questions")
    for label, figures in (("current Weights()", start), ("tuned", best_score)):
        print(
            f"{label}: support@1 {figures['support_at_1']:.3f}, support@3 {figures['support_at_3']:.3f}, "
            f"MRR {figures['mrr']:.3f}"
        )
    print(f"\nWeights: {best}")


if __name__ == "__main__":
    main()
