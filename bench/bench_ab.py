"""Served throughput of two code trees, alternating in one run: bench_api.py's closed loop at one concurrency over
--questions' answerable questions (as written, each round with its own prefix so that no answer comes from the
server's cache), a fresh server for each, with the server's CPU time an answer (its /proc). A slow or busy hour moves
both trees alike, so compare within a run. ``--env-before`` / ``--env-after`` compare settings of one tree instead
(e.g. ``--env-after KBOT_READER_DIR=/tmp/reader-depth4``).

    git worktree add /tmp/before <commit>
    KBOT_SEEDS_DIR=/tmp/bfull/kb .venv/bin/python bench/bench_ab.py --before /tmp/before/src \\
        --index-dir /tmp/bfull/index --questions eval/nih/dev.jsonl --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
from pathlib import Path

from bench_api import Server, _drive

PREFIXES = ["", "Please tell me: ", "Quick question: ", "I wonder: ", "Help: ", "Hi, "]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def serve_and_drive(
    src: str | None, env: list[str], questions: list[str], warm: list[str], concurrency: int
) -> dict[str, float]:
    saved = dict(os.environ)
    os.environ.pop("PYTHONPATH", None)
    if src:
        os.environ["PYTHONPATH"] = src
    os.environ.update(item.split("=", 1) for item in env)
    try:
        server = Server(1)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    try:
        asyncio.run(_drive(server.url, warm, concurrency, "raw"))
        before = cpu_seconds(server.process.pid)
        driven = asyncio.run(_drive(server.url, questions, concurrency, "raw"))
        spent = cpu_seconds(server.process.pid) - before
    finally:
        server.stop()
    return {
        "rps": driven["rps"],
        "errors": driven["errors"],
        "p50_ms": driven["p50_ms"],
        "cpu_ms_per_answer": round(spent * 1000 / len(questions), 1),
        "ready_s": server.cold_start_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", help="the src folder of the code to compare with (PYTHONPATH; default: this one)")
    parser.add_argument("--env-before", nargs="*", default=[], help="NAME=VALUE for the server before")
    parser.add_argument("--env-after", nargs="*", default=[], help="NAME=VALUE for the server after")
    parser.add_argument("--questions", type=Path, required=True, help="a gold file whose answerable questions to ask")
    parser.add_argument("--index-dir", type=Path, help="index folder [default: the one kbot serve uses]")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.index_dir:
        os.environ["KBOT_INDEX_DIR"] = str(args.index_dir.resolve())
    rows = [json.loads(line) for line in args.questions.read_text(encoding="utf-8").splitlines() if line.strip()]
    asked = [r["question"] for r in rows if r.get("kind") == "answerable"]
    warm = asked[-60:]
    runs: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    for r in range(args.rounds):
        start = r * args.requests % max(1, len(asked) - 60 - args.requests)
        questions = [PREFIXES[r % len(PREFIXES)] + q for q in asked[start : start + args.requests]]
        for name, src, env in (("before", args.before, args.env_before), ("after", None, args.env_after)):
            runs[name].append(serve_and_drive(src, env, questions, warm, args.concurrency))
            print(name, r + 1, runs[name][-1], flush=True)
    for name, done in runs.items():
        medians = {key: statistics.median(run[key] for run in done) for key in done[0]}
        print(f"{name}: median of {len(done)}", medians)
    if args.json:
        args.json.write_text(json.dumps(runs, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
