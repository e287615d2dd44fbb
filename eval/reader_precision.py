"""How the reader's numeric precision trades its cost against its quality, on the same pairs.

    export KBOT_KNOWLEDGE_BASES='{"nih": "tests/kbs/nih-small"}'     # and kbot ingest --kb nih
    .venv/bin/python eval/reader_precision.py eval/nih/dev.jsonl=nih            # quality, then each one's time
    .venv/bin/python eval/reader_precision.py eval/nih/dev.jsonl=nih --no-time  # quality only

The answerable questions of a choice set (never gold or test) are asked with the float32 reader, which records the
(question, passage) pairs it reads; each variant then scores those same pairs. Quality: support@1 / @3 of the answers
(the same retrieval, the variant's reader scores), how often the first quote is float32's, and the logits' distance
from float32's. Time: each variant in a process of its own (two of them alternating in one process slowed each other:
their thread pools compete for the two cores), the pairs of eight questions at a time as the server reads them, and of
one question alone; the processes run in turn, twice, and the table gives the lower of the two medians.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kbot.config import Settings
from kbot.evaluation.gold import GoldItem, load_gold
from kbot.evaluation.metrics import by_kind
from kbot.evaluation.run import evaluate_kbot, in_library
from kbot.reader import Reader
from kbot.service import KbotService

sys.path.insert(0, str(Path(__file__).parent))
from tune_weights import memoised

HELD_OUT = ("gold.jsonl", "test.jsonl")


def _quantise(reader: Reader, layers: Any) -> None:
    """torch's dynamic int8 for ``layers`` (its qconfig_spec) of the loaded reader, in place."""
    import torch

    with warnings.catch_warnings():  # deprecated for torchao, which kbot does not ship
        warnings.simplefilter("ignore")
        torch.ao.quantization.quantize_dynamic(reader._model, layers, dtype=torch.qint8, inplace=True)  # type: ignore[no-untyped-call]


def per_tensor(reader: Reader) -> None:
    """What KBOT_READER_INT8 did until 2026-12-07: every linear layer in int8 with one scale per weight matrix."""
    import torch

    _quantise(reader, {torch.nn.Linear})


def feed_forward_only(reader: Reader) -> None:
    """int8 with a scale per output channel for the feed-forward layers only (attention's stay in float32)."""
    from torch.ao.quantization import per_channel_dynamic_qconfig

    names = [n for n, _ in reader._model.named_modules()]
    ffn = [n for n in names if n.endswith(("intermediate.dense", "output.dense")) and "attention" not in n]
    _quantise(reader, dict.fromkeys(ffn, per_channel_dynamic_qconfig))


# name: (bf16 autocast, int8 as KBOT_READER_INT8 does it, what is done to the loaded model besides)
VARIANTS: dict[str, tuple[bool, bool, Callable[[Reader], None] | None]] = {
    "float32": (False, False, None),
    "bf16 autocast": (True, False, None),
    "int8, a scale per matrix (KBOT_READER_INT8 before)": (False, False, per_tensor),
    "int8, a scale per output channel (KBOT_READER_INT8)": (False, True, None),
    "int8 per channel, feed-forward layers only": (False, False, feed_forward_only),
}


def variant(name: str, folder: Path) -> Reader:
    bf16, int8, change = VARIANTS[name]
    reader = Reader(folder, bf16=bf16, int8=int8).load()
    if change:
        change(reader)
    return reader


def recorded_pairs(service: KbotService, items: Sequence[GoldItem], kb: str) -> list[list[tuple[str, str]]]:
    """Each question's pairs as the service's reader reads them (its own precision)."""
    assert service.reader is not None, "the library's index was built without the reader"
    reader, asked = service.reader, []
    read = reader._logits

    def recording(pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        asked.append(list(pairs))
        return read(pairs)

    reader._logits = recording  # type: ignore[method-assign]
    for item in items:
        service.ask(item.question, kb)
    reader._logits = read  # type: ignore[method-assign]
    return asked


def timing(name: str, folder: Path, asked: list[list[tuple[str, str]]], batches: int) -> dict[str, float]:
    reader = variant(name, folder)
    eights = [[p for q in asked[i : i + 8] for p in q] for i in range(0, len(asked), 8)][:batches]
    reader._logits(eights[0])  # warm
    per_ten = []
    for pairs in eights * 2:
        started = time.perf_counter()
        reader._logits(pairs)
        per_ten.append((time.perf_counter() - started) * 1000 / (len(pairs) / 10))
    alone = []
    for pairs in asked[: batches * 4]:
        started = time.perf_counter()
        reader._logits(pairs)
        alone.append((time.perf_counter() - started) * 1000)
    return {"batch": statistics.median(per_ten), "alone": statistics.median(alone)}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("set", help="labelled file=knowledge base")
    parser.add_argument("--limit", type=int, default=0, help="questions at most (0: all)")
    parser.add_argument("--batches", type=int, default=16, help="batches of eight questions timed per variant")
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--no-time", action="store_true", help="quality only")
    parser.add_argument("--time-one", help=argparse.SUPPRESS)  # a child process: time this variant, print JSON
    args = parser.parse_args(argv)
    path, _, kb = args.set.partition("=")
    if Path(path).name in HELD_OUT:
        parser.error(f"{path} is held out: measure on eval/calibration.jsonl or eval/nih/dev.jsonl")
    settings = Settings(bf16=False, reader_int8=False)  # the float32 reader records the pairs
    folder = settings.knowledge_bases[kb] if kb and kb != "default" else settings.seeds_dir
    items = [i for i in in_library(load_gold(Path(path)), folder) if i.kind == "answerable"][: args.limit or None]
    service = KbotService.load(settings, only=[kb or "default"])
    if args.time_one:
        asked = recorded_pairs(service, items[: args.batches * 8], kb)
        print(json.dumps(timing(args.time_one, service.reader.folder, asked, args.batches)))  # type: ignore[union-attr]
        return

    memoised(service, [kb])
    asked = recorded_pairs(service, items, kb)
    every = [p for q in asked for p in q]
    rows = {}
    reference: list[tuple[str, ...]] = []
    for name in args.variants:
        reader = variant(name, service.reader.folder)  # type: ignore[union-attr]
        logits = reader._logits(every)
        table = dict(zip(every, logits.tolist(), strict=True))
        reader._logits = lambda pairs, t=table: np.array([t[p] for p in pairs], dtype=np.float32)  # type: ignore[method-assign]
        outcomes = evaluate_kbot(dataclasses.replace(service, reader=reader), items, kb)
        firsts = [o.quotes[:1] for o in outcomes]
        reference = reference or firsts
        figures = by_kind(outcomes)["answerable"]
        rows[name] = {
            "support@1": round(figures["support_at_1"], 3),
            "support@3": round(figures["support_at_3"], 3),
            "same first quote": round(float(np.mean([a == b for a, b in zip(firsts, reference, strict=True)])), 3),
            "logits": logits,
        }
        print(name, {k: v for k, v in rows[name].items() if k != "logits"}, flush=True)
    base = rows[args.variants[0]]["logits"]
    for row in rows.values():
        diff = np.abs(row.pop("logits") - base)
        row["logit change max / mean"] = f"{diff.max():.2f} / {diff.mean():.3f}"
    if not args.no_time:
        for name in args.variants:
            rows[name]["ms"] = []
        for _ in range(2):
            for name in args.variants:
                command = [sys.executable, __file__, args.set, "--time-one", name, "--batches", str(args.batches)]
                done = subprocess.run(command, check=True, capture_output=True, text=True)
                rows[name]["ms"].append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"\n{len(items)} answerable questions of {path} asked of {kb}; {len(every)} pairs (first row: the reference)")
    print(
        "| reader | support@1 | support@3 | same first quote | logit change max / mean "
        "| ms / 10 pairs, 8 questions at a time | ms / question alone |"
    )
    print("|---|---|---|---|---|---:|---:|")
    for name, row in rows.items():
        ms = row.get("ms", [])
        batch = f"{min(m['batch'] for m in ms):.1f}" if ms else "–"
        alone = f"{min(m['alone'] for m in ms):.1f}" if ms else "–"
        print(
            f"| {name} | {row['support@1']:.3f} | {row['support@3']:.3f} | {row['same first quote']:.3f} "
            f"| {row['logit change max / mean']} | {batch} | {alone} |"
        )


if __name__ == "__main__":
    main()
