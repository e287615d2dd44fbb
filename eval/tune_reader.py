"""Choose how the reader's score joins retrieval's (reader.json's ``depth`` and ``weight``) on the sets where choices
are made, never on eval/gold.jsonl or eval/nih/test.jsonl.

    .venv/bin/python eval/tune_reader.py eval/calibration.jsonl=default eval/nih/dev.jsonl=nih
    .venv/bin/python eval/tune_reader.py eval/calibration.jsonl=default --reader /tmp/reader --write

Each ``set=kb`` is a labelled file and the knowledge base it is asked of (the NIH one: KBOT_KNOWLEDGE_BASES, see
eval/README.md; a question about an article the library does not hold is skipped). Every (depth, weight) of the grid
is tried, with "no reader" beside them; the objective is the mean over the sets of (support@1 + MRR) / 2 on their
answerable questions (leaving out those the reader was trained on: ``labelled_trained_ids`` in its training log), and
a setting must beat the best so far, "no reader" first, by ``--min-gain`` to replace it (a tie keeps the shallower,
lighter one); weight 0 is the reader's question adapter alone (kbot.reader.adapter), ``--no-adapter`` the
cross-encoder alone. Run it on one library's sets to choose that library's kb.toml [reader] (no setting beating "no
reader" means weight = 0). ``--write`` stores the best in the reader's reader.json. Needs the real indexes.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kbot.config import Settings
from kbot.evaluation.gold import GoldItem, load_gold
from kbot.evaluation.metrics import by_kind
from kbot.evaluation.run import evaluate_kbot, in_library
from kbot.profile import ReaderUse
from kbot.reader import Reader, packaged_reader_dir
from kbot.reader.model import SETTINGS_FILE
from kbot.service import KbotService

sys.path.insert(0, str(Path(__file__).parent))
from tune_weights import memoised  # (the model calls cached: only the mixing changes between trials)

DEPTHS = (5, 10, 15, 20)
WEIGHTS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 4.0)
HELD_OUT = ("gold.jsonl", "test.jsonl")


def memoised_reader(reader: Reader) -> Reader:
    """The reader with each (question, passage) scored once, however many settings are tried. (It wraps the one
    method every scoring path calls: wrapping ``logits`` alone left ``rerank_batch`` reading every pair again.)"""
    seen: dict[tuple[str, str], float] = {}
    logits = reader._logits

    def cached(pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        missing = [p for p in dict.fromkeys(pairs) if p not in seen]
        for p, value in zip(missing, logits(missing), strict=True):
            seen[p] = float(value)
        return np.array([seen[p] for p in pairs], dtype=np.float32)

    reader._logits = cached  # type: ignore[method-assign]
    return reader


def figures(service: KbotService, sets: Sequence[tuple[str, str, list[GoldItem]]]) -> dict[str, Any]:
    per_set = {}
    for name, kb, items in sets:
        answerable = by_kind(evaluate_kbot(service, items, kb))["answerable"]
        per_set[name] = {k: round(answerable[k], 3) for k in ("support_at_1", "support_at_3", "mrr")}
    objective = float(np.mean([(f["support_at_1"] + f["mrr"]) / 2 for f in per_set.values()]))
    return {"objective": round(objective, 4), "sets": per_set}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sets", nargs="+", help="labelled file=knowledge base")
    parser.add_argument("--reader", type=Path, help="the reader's folder (default: the packaged one)")
    parser.add_argument("--min-gain", type=float, default=0.003)
    parser.add_argument("--write", action="store_true", help="store the best depth and weight in its reader.json")
    parser.add_argument("--depths", type=int, nargs="+", default=DEPTHS, help=f"depths to try {DEPTHS}")
    parser.add_argument("--weights", type=float, nargs="+", default=WEIGHTS, help=f"weights to try {WEIGHTS}")
    parser.add_argument("--no-adapter", action="store_true", help="rank without the reader's question adapter")
    args = parser.parse_args(argv)
    settings = Settings(reader_dir=args.reader)
    log = (args.reader or packaged_reader_dir()) / "training-log.json"
    trained = set(json.loads(log.read_text(encoding="utf-8")).get("labelled_trained_ids", []) if log.exists() else [])
    sets = []
    for spec in args.sets:
        path, _, kb = spec.partition("=")
        if Path(path).name in HELD_OUT:
            parser.error(f"{path} is held out: choose on eval/calibration.jsonl and eval/nih/dev.jsonl")
        folder = settings.seeds_dir if (kb or "default") == "default" else settings.knowledge_bases[kb]
        items = [i for i in in_library(load_gold(Path(path)), folder) if i.kind == "answerable" and i.id not in trained]
        sets.append((path, kb or "default", items))
    service = KbotService.load(settings, only=[kb for _, kb, _ in sets])
    memoised(service, [kb for _, kb, _ in sets])
    for _, kb, _ in sets:  # the trial's depth and weight, not what a library's kb.toml chose
        base = service.kb(kb)
        service = service.with_knowledge_base(
            dataclasses.replace(base, profile=base.profile.model_copy(update={"reader": ReaderUse()}))
        )
    reader = memoised_reader(service.reader or Reader(args.reader).load())
    if args.no_adapter:
        reader.adapter = None
    service = dataclasses.replace(service, reader=reader)  # (the adapter joins a trial through encode_questions)
    results = [({"reader": None}, figures(dataclasses.replace(service, reader=None), sets))]
    print(json.dumps(results[0]), flush=True)
    best = results[0]
    for depth, weight in itertools.product(args.depths, args.weights):
        reader.settings = dataclasses.replace(reader.settings, depth=depth, weight=weight)
        result = figures(dataclasses.replace(service, reader=reader), sets)
        results.append(({"depth": depth, "weight": weight}, result))
        print(json.dumps(results[-1]), flush=True)
        if result["objective"] > best[1]["objective"] + args.min_gain:
            best = results[-1]
    print(f"\nno reader: {json.dumps(results[0][1])}\nbest: {json.dumps(best[0])} {json.dumps(best[1])}")
    if "depth" not in best[0]:
        print("no setting beats retrieval's order here: [reader] weight = 0 in this library's kb.toml")
    elif args.write:
        path = reader.folder / SETTINGS_FILE
        values = json.loads(path.read_text(encoding="utf-8"))
        values.update(best[0])
        path.write_text(json.dumps(values, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
