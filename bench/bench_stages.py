"""Where a question's time goes, in-process: normalising and encoding it, retrieval, the reader, and choosing and
composing the quotes, per question, for batches of one (``kbot serve`` at c=1) and of eight (its micro-batches at c=8).

    KBOT_SEEDS_DIR=/tmp/bfull/kb KBOT_INDEX_DIR=/tmp/bfull/index \
        .venv/bin/python bench/bench_stages.py --questions eval/nih/dev.jsonl [--json bench/results/stages-X.json]

It runs ``KbotService.ask_batch``'s steps one after the other, as it does, timing each; the library is served as the
default one. Medians over the batches, in ms per question. Threads are torch's default (every core), as one worker
gets; ``--threads 1`` measures what each of two workers gets (``kbot serve --workers 2``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

STAGES = ("encode", "retrieve", "read", "quote")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=Path, default=Path("eval/calibration.jsonl"))
    parser.add_argument("--limit", type=int, default=160, help="questions at most")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    import torch

    from kbot.config import Settings
    from kbot.service import KbotService, _Retrieved

    if args.threads:
        torch.set_num_threads(args.threads)
    service = KbotService.load(Settings())
    base = service.kb()
    rows = [json.loads(line) for line in args.questions.read_text(encoding="utf-8").splitlines() if line.strip()]
    questions = [r["question"] for r in rows if r.get("kind") == "answerable"][: args.limit]
    service.ask_batch(questions[:8])  # warm-up

    results = {}
    for size in (1, 8):
        per_batch: dict[str, list[float]] = {stage: [] for stage in (*STAGES, "total")}
        for i in range(0, len(questions) - size + 1, size):
            batch = questions[i : i + size]
            marks = [time.perf_counter()]
            queries, encoded = service.encode_questions(batch, base)
            marks.append(time.perf_counter())
            asked = [_Retrieved(j, base, q, e, ()) for j, (q, e) in enumerate(zip(batch, encoded, strict=True))]
            proposed = service.propose(asked)  # FAISS searched for the whole batch, as ask_batch does
            asked = [a for a, q, p in zip(asked, queries, proposed, strict=True) if service._retrieve(a, q, p) is None]
            marks.append(time.perf_counter())
            read = service._read(asked)
            marks.append(time.perf_counter())
            for a, candidates in zip(asked, read, strict=True):
                service._quote(a, candidates)
            marks.append(time.perf_counter())
            for stage, start, end in zip(STAGES, marks, marks[1:], strict=False):
                per_batch[stage].append((end - start) * 1000 / size)
            per_batch["total"].append((marks[-1] - marks[0]) * 1000 / size)
        results[f"batch of {size}"] = {k: round(statistics.median(v), 1) for k, v in per_batch.items()}

    figures = {
        "threads": torch.get_num_threads(),
        "questions": len(questions),
        "sentences": len(base.index.sentences),
        "ms per question (median)": results,
    }
    print(json.dumps(figures, indent=1))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
