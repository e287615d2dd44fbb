"""What reading in steps (KBOT_READER_STEP) costs in quality and saves in pairs read, on the sets where choices are
made, never on eval/gold.jsonl or eval/nih/test.jsonl.

    export KBOT_KNOWLEDGE_BASES='{"nih": "kbs/nih"}'      # kbot ingest --kb nih first (eval/README.md)
    .venv/bin/python eval/reader_steps.py eval/nih/dev.jsonl=nih --every 5

Each ``set=kb`` is a labelled file and the knowledge base it is asked of, as for eval/tune_reader.py; every library is
read with the reader's own depth and weight (reader.json), not its kb.toml's. For each step (0: all at once) and each
number of places that reading on must not be able to change, it prints support@1 / support@3 / MRR on the answerable
questions and the pairs the reader read per question. The model's scores are computed once and shared by the rows.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from kbot.config import Settings
from kbot.evaluation.gold import load_gold
from kbot.evaluation.metrics import by_kind
from kbot.evaluation.run import evaluate_kbot, in_library
from kbot.profile import ReaderUse
from kbot.reader import Reader
from kbot.service import KbotService

sys.path.insert(0, str(Path(__file__).parent))
from tune_reader import HELD_OUT, memoised_reader
from tune_weights import memoised

STEPS = (0, 3, 4, 5)
SETTLES = (1, 2, 3)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sets", nargs="+", help="labelled file=knowledge base")
    parser.add_argument("--every", type=int, default=1, help="keep every n-th answerable question (a quicker run)")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)
    settings = Settings()
    sets = []
    for spec in args.sets:
        path, _, kb = spec.partition("=")
        if Path(path).name in HELD_OUT:
            parser.error(f"{path} is held out: measure on eval/calibration.jsonl and eval/nih/dev.jsonl")
        folder = settings.seeds_dir if (kb or "default") == "default" else settings.knowledge_bases[kb]
        items = [i for i in in_library(load_gold(Path(path)), folder) if i.kind == "answerable"][:: args.every]
        sets.append((path, kb or "default", items))
    service = KbotService.load(settings, only=[kb for _, kb, _ in sets])
    memoised(service, [kb for _, kb, _ in sets])
    for _, kb, _ in sets:  # the reader's own depth and weight, whatever a library's kb.toml chose
        base = service.kb(kb)
        service = service.with_knowledge_base(
            dataclasses.replace(base, profile=base.profile.model_copy(update={"reader": ReaderUse()}))
        )
    reader = memoised_reader(service.reader or Reader().load())
    scored = reader._logits
    read: list[int] = []

    def counted(pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        read.append(len(pairs))
        return scored(pairs)

    reader._logits = counted  # type: ignore[method-assign]
    rows = []
    for step, settle in [(0, 0), *itertools.product(STEPS[1:], SETTLES)]:
        reader.step, reader.settle = step, settle or reader.settle
        read.clear()
        row: dict[str, object] = {"step": step, "settle": settle or None}
        for name, kb, items in sets:
            answerable = by_kind(evaluate_kbot(dataclasses.replace(service, reader=reader), items, kb))["answerable"]
            row[name] = {k: round(answerable[k], 3) for k in ("support_at_1", "support_at_3", "mrr")}
        row["pairs_per_question"] = round(sum(read) / sum(len(items) for _, _, items in sets), 2)
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
