"""Measure ``kbot ingest``: from scratch, and again after editing one article, on N NIH (MedQuAD) articles.

Each run is a child process (``python -m kbot.cli ingest``) whose peak RSS is read from
``resource.getrusage(RUSAGE_CHILDREN)``; the index folder is measured on disk afterwards. With ``--baseline-src``
(for example a checkout of main's ``src``) the same runs are made with that code too, side by side, on the same
articles. Speed is measured here, never in the tests.

    .venv/bin/python bench/bench_ingest.py                       # 150 articles, this checkout only
    .venv/bin/python bench/bench_ingest.py --articles 500 --repeat 3 --baseline-src /work/main/src
    .venv/bin/python bench/bench_ingest.py --articles 2000 --json bench/results/ingest-2000.json
    .venv/bin/python bench/bench_ingest.py --kb kbs/nih-full --keep /tmp/full    # a library kbot medquad wrote

The wall time includes the child's start (the model's loading) and, for a knowledge base without abstention.toml
(these), its calibration; "the build" is the part ``kbot ingest`` reports as building the index.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DOCUMENTS = Path("/work/shared/medquad/documents.jsonl.gz")


def write_kb(folder: Path, documents: Path, n: int) -> None:
    """A knowledge base of n documents spread evenly over the file (its sources come in runs: CancerGov's are long):
    one Markdown article each ("# focus", "## qtype", the answer), and its sources.toml entry."""
    folder.mkdir(parents=True, exist_ok=True)
    with gzip.open(documents, "rt", encoding="utf-8") as lines:
        docs = [json.loads(line) for line in lines]
    entries = []
    for i, doc in enumerate(docs[:: max(1, len(docs) // n)][:n]):
        name = f"{i:04d}_{re.sub(r'[^A-Za-z0-9]+', '_', doc['id'])}.md"
        parts = [f"# {doc['focus']}"]
        for section in doc["sections"]:
            parts += [f"## {section['qtype'].capitalize()}", re.sub(r"[ \t]+", " ", section["answer"]).strip()]
        (folder / name).write_text("\n\n".join(parts) + "\n", encoding="utf-8")
        entries.append(f'["{name}"]\ntitle = {json.dumps(doc["focus"])}\npublisher = {json.dumps(doc["source"])}\n')
    (folder / "sources.toml").write_text("\n".join(entries), encoding="utf-8")


def edit_one_article(folder: Path) -> None:
    """Add one sentence to the first article, as a curator's edit would."""
    first = sorted(folder.glob("*.md"))[0]
    first.write_text(first.read_text(encoding="utf-8") + "\nThis article was reviewed again this week.\n", "utf-8")


def ingest(src: Path, kb: Path, index: Path) -> dict[str, float]:
    """One ``kbot ingest`` in a child process: wall time, its peak RSS (MB) and the index's size on disk (MB)."""
    env = {**os.environ, "PYTHONPATH": str(src), "HF_HUB_OFFLINE": "1", "KBOT_SEEDS_DIR": str(kb)}
    env["KBOT_INDEX_DIR"] = str(index)
    command = [sys.executable, "-m", "kbot.cli", "ingest", "--kb", "default", "--seeds", str(kb), "--index", str(index)]
    with tempfile.TemporaryFile("w+") as log:
        started = time.perf_counter()
        child = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own peak RSS, not the largest child's so far
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode:
            log.seek(0)
            sys.exit(f"kbot ingest failed ({src}):\n{log.read()}")
        log.seek(0)
        output = log.read()
    peak = usage.ru_maxrss  # KB on Linux
    built = re.search(r"built the index in ([0-9.]+) s", output)  # the rest of the wall: start-up and calibration
    sentences = json.loads((index / "default" / "current" / "manifest.json").read_text())["counts"]["sentences"]
    size = sum(f.stat().st_size for f in index.rglob("*") if f.is_file())
    cache = sum(f.stat().st_size for f in index.rglob("cache/*") if f.is_file())  # the embedding cache, if any
    return {"wall_s": wall, "build_s": float(built.group(1)) if built else wall, "sentences_per_s": sentences / wall,
            "peak_rss_mb": peak / 1024, "index_mb": size / 1e6, "cache_mb": cache / 1e6,
            "sentences": sentences}  # fmt: skip


def measure(src: Path, kb_template: Path, repeat: int, keep: Path | None = None) -> dict[str, dict[str, float]]:
    """Medians over ``repeat`` runs of a from-scratch ingest and a re-ingest after editing one article; with ``keep``,
    the last run's knowledge base and index stay there (keep/kb, keep/index), to serve them afterwards."""
    runs: dict[str, list[dict[str, float]]] = {"scratch": [], "reingest": []}
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            work = keep or Path(tmp)
            kb, index = work / "kb", work / "index"
            shutil.rmtree(kb, ignore_errors=True)
            shutil.rmtree(index, ignore_errors=True)
            shutil.copytree(kb_template, kb)
            runs["scratch"].append(ingest(src, kb, index))
            edit_one_article(kb)
            runs["reingest"].append(ingest(src, kb, index))
    return {k: {m: statistics.median(r[m] for r in v) for m in v[0]} for k, v in runs.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=150, help="how many MedQuAD documents (default 150)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per code version; medians are reported")
    parser.add_argument("--documents", type=Path, default=DOCUMENTS, help="MedQuAD documents.jsonl.gz")
    parser.add_argument("--kb", type=Path, help="measure this knowledge base folder (e.g. kbot medquad's output)")
    parser.add_argument("--keep", type=Path, help="leave the last run's kb/ and index/ in this folder")
    parser.add_argument("--baseline-src", type=Path, help="another kbot src/ folder to measure side by side")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    versions = {"this checkout": HERE.parent / "src"}
    if args.baseline_src:
        versions = {"baseline": args.baseline_src, **versions}
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        kb = args.kb or Path(tmp) / "kb"
        if not args.kb:
            write_kb(kb, args.documents, args.articles)
        articles = len(list(kb.glob("*.md")))
        for label, src in versions.items():
            results[label] = measure(src, kb, args.repeat, args.keep)
    print(f"{articles} articles, median of {args.repeat}")
    print("| code | run | sentences | wall s | build s | sentences/s | peak RSS MB | index MB | of it, cache MB |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, runs in results.items():
        for run, m in runs.items():
            print(f"| {label} | {run} | {m['sentences']:.0f} | {m['wall_s']:.1f} | {m['build_s']:.1f} "
                  f"| {m['sentences_per_s']:.1f} | {m['peak_rss_mb']:.0f} | {m['index_mb']:.1f} "
                  f"| {m['cache_mb']:.1f} |")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"articles": articles, "repeat": args.repeat, **results}, indent=2))


if __name__ == "__main__":
    main()
