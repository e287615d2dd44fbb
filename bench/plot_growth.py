"""Plot how ingest and serving grow with the library: bench/growth.png, from the results of ``bench_ingest.py --kb``
and ``bench_api.py --quick --json`` at several sizes (issue 13 asks for ~500, ~2,000 and all 5,483 NIH articles).

    .venv/bin/python bench/plot_growth.py nih500 nih2000 nih-full     # reads bench/results/{ingest,api}-NAME.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # after the backend is chosen

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def figures(name: str) -> dict[str, float]:
    """One size's figures: from its ingest results and, where there are any, its serving results."""
    ingest: dict[str, Any] = json.loads((RESULTS / f"ingest-{name}.json").read_text(encoding="utf-8"))["this checkout"]
    found = {
        "sentences": ingest["scratch"]["sentences"],
        "ingest from scratch (min)": ingest["scratch"]["wall_s"] / 60,
        "re-ingest after one edit (s)": ingest["reingest"]["wall_s"],
        "peak RSS of the ingest (GB)": ingest["scratch"]["peak_rss_mb"] / 1024,
        "index on disk (GB)": (ingest["reingest"]["index_mb"]) / 1000,
    }
    api = RESULTS / f"api-{name}.json"
    if api.is_file():
        served: dict[str, Any] = json.loads(api.read_text(encoding="utf-8"))
        found["serve: ready (s)"] = served["cold_start_s"]
        found["/v1/ask c=1 p50 (ms)"] = served["http"]["unseen c=1"]["p50_ms"]
        found["/v1/ask c=8 (answers/s)"] = served["http"]["unseen c=8"]["rps"]
        memory = next(v for k, v in served.items() if k.startswith("memory_"))  # the series' server's processes
        found["worker's own memory (GB)"] = max(p.get("anonymous_mb", 0) for p in memory["now"]) / 1024
    return found


LIMITS = {  # issue 13's limits for the full library
    "ingest from scratch (min)": 30,
    "re-ingest after one edit (s)": 60,
    "peak RSS of the ingest (GB)": 4,
    "index on disk (GB)": 2.5,
    "serve: ready (s)": 20,
    "/v1/ask c=1 p50 (ms)": 60,
    "/v1/ask c=8 (answers/s)": 40,
    "worker's own memory (GB)": 2,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="+", help="result names, smallest library first")
    parser.add_argument("--out", type=Path, default=HERE / "growth.png")
    args = parser.parse_args()
    sizes = [figures(name) for name in args.names]
    shown = [k for k in LIMITS if any(k in s for s in sizes)]
    fig, axes = plt.subplots(2, (len(shown) + 1) // 2, figsize=(4 * ((len(shown) + 1) // 2), 7), squeeze=False)
    for ax, key in zip(axes.flat, shown, strict=False):
        points = [(s["sentences"] / 1000, s[key]) for s in sizes if key in s]
        ax.plot(*zip(*points, strict=True), marker="o")
        ax.axhline(LIMITS[key], color="tab:red", linestyle="--", linewidth=1, label="issue 13's limit")
        ax.set_title(key, fontsize=10)
        ax.set_xlabel("thousand sentences")
        ax.set_ylim(bottom=0)
    for ax in list(axes.flat)[len(shown) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=8)
    fig.suptitle("kbot on NIH articles (MedQuAD) on one 2-core machine, by library size")
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
