"""What the reader costs: in-process latency and throughput of a knowledge base's questions with the reader and
without it, side by side in one run, and the memory it adds.

    export KBOT_KNOWLEDGE_BASES='{"nih": "tests/kbs/nih-small"}'     # and kbot ingest --kb nih
    .venv/bin/python bench/bench_reader.py --kb nih --questions eval/nih/dev.jsonl
    .venv/bin/python bench/bench_reader.py --kb nih --questions eval/nih/dev.jsonl --weight 2 --depth 10

The questions are the answerable ones of the file that the library holds, each asked once per mode (unseen: no
cache in-process). c=1 alternates the two modes question by question, so that both see the same machine; c=32 answers
batches of 32 with ``ask_batch`` (what the server's micro-batcher calls), alternating the modes batch by batch.
Medians over the questions (c=1) and over the batches (c=32). The extra memory is the process's RSS after loading
the reader and reading one batch, minus before.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> None:
    from kbot.config import Settings
    from kbot.evaluation.gold import load_gold
    from kbot.evaluation.run import in_library
    from kbot.profile import ReaderUse
    from kbot.reader import Reader
    from kbot.service import KbotService

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kb", default="default")
    parser.add_argument("--questions", type=Path, default=Path("eval/calibration.jsonl"))
    parser.add_argument("--limit", type=int, default=256, help="questions at most")
    parser.add_argument("--depth", type=int, help="override reader.json's depth (and the library's)")
    parser.add_argument("--weight", type=float, help="override reader.json's weight (and the library's)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    settings = Settings()
    loaded = KbotService.load(settings, only=[args.kb])  # the index names the reader: load the service with it
    base = loaded.kb(args.kb)
    use = ReaderUse(depth=args.depth, weight=args.weight)
    loaded = loaded.with_knowledge_base(
        dataclasses.replace(base, profile=base.profile.model_copy(update={"reader": use}))
    )
    plain = dataclasses.replace(loaded, reader=None)
    items = [i for i in in_library(load_gold(args.questions), base.folder) if i.kind == "answerable"][: args.limit]
    questions = [i.question for i in items]
    plain.ask_batch(questions[:32], [args.kb] * 32)  # warm up retrieval
    before = rss_mb()  # a second copy of the reader, loaded and read with, is what one adds to a worker
    reader = Reader(settings.reader_dir, settings.bf16, settings.reader_int8).load()
    read = dataclasses.replace(plain, reader=reader)
    read.ask_batch(questions[:32], [args.kb] * 32)  # warm up the reader at the batch size used below
    extra = rss_mb() - before

    single: dict[str, list[float]] = {"without the reader": [], "with the reader": []}
    for q in questions:
        for name, service in (("without the reader", plain), ("with the reader", read)):
            started = time.perf_counter()
            service.ask(q, args.kb)
            single[name].append((time.perf_counter() - started) * 1000)
    batched: dict[str, list[float]] = {"without the reader": [], "with the reader": []}
    for at in range(0, len(questions) - 31, 32):
        batch = questions[at : at + 32]
        for name, service in (("without the reader", plain), ("with the reader", read)):
            started = time.perf_counter()
            service.ask_batch(batch, [args.kb] * len(batch))
            batched[name].append(len(batch) / (time.perf_counter() - started))

    settings_used = {"depth": args.depth or reader.settings.depth, "weight": args.weight or reader.settings.weight}
    results: dict[str, Any] = {"kb": args.kb, "questions": len(questions), "reader": settings_used}
    print(f"{args.kb}: {len(questions)} questions of {args.questions}; reader {reader.name} {settings_used}\n")
    print("| mode | c=1 p50 ms | c=1 p95 ms | c=32 answers/s (median of batches) |")
    print("|---|---:|---:|---:|")
    for name in single:
        p50, p95 = statistics.median(single[name]), percentile(single[name], 0.95)
        rate = statistics.median(batched[name]) if batched[name] else float("nan")
        results[name] = {"p50_ms": round(p50, 1), "p95_ms": round(p95, 1), "batch_answers_per_s": round(rate, 1)}
        print(f"| {name} | {p50:.1f} | {p95:.1f} | {rate:.1f} |")
    results["reader_extra_rss_mb"] = round(extra, 1)
    print(f"\nthe reader's extra RSS: {extra:.0f} MB")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
