"""Plot how ``kbot ingest`` grows with the library: bench/results/ingest-*.json (written by ``bench_ingest.py --json``)
to bench/scale.png, wall time, peak RSS and index size against the number of articles, with issue 13's limits for the
full NIH library (5,486 articles) and a straight-line projection to it from the largest two sizes measured.

    .venv/bin/python bench/plot_scale.py
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

HERE = Path(__file__).resolve().parent
FULL = 5486
LIMITS = {"wall_s": 30 * 60, "peak_rss_mb": 4096, "index_mb": 2500}  # issue 13, for the full library
PANELS = (("wall_s", "ingest from scratch, s"), ("peak_rss_mb", "peak RSS, MB"), ("index_mb", "index on disk, MB"))


def load(folder: Path) -> list[tuple[int, dict[str, float]]]:
    """(articles, this checkout's from-scratch figures), smallest library first."""
    runs = [json.loads(p.read_text(encoding="utf-8")) for p in folder.glob("ingest-*.json")]
    return sorted((r["articles"], r["this checkout"]["scratch"]) for r in runs if "articles" in r)


def projection(points: list[tuple[int, float]]) -> float:
    """The value at FULL articles on the line through the two largest sizes measured."""
    (x0, y0), (x1, y1) = points[-2], points[-1]
    return y1 + (y1 - y0) / (x1 - x0) * (FULL - x1)


def main() -> None:
    measured = load(HERE / "results")
    if not measured:
        raise SystemExit("no bench/results/ingest-*.json yet: run bench/bench_ingest.py --json first")
    figure, axes = plt.subplots(1, len(PANELS), figsize=(13, 4))
    for axis, (key, label) in zip(axes, PANELS, strict=True):
        points = [(n, figures[key]) for n, figures in measured]
        axis.plot(*zip(*points, strict=True), "o-", label="measured")
        if len(points) >= 2:
            axis.plot([points[-1][0], FULL], [points[-1][1], projection(points)], "o--", label="projected")
        axis.axhline(LIMITS[key], color="red", linestyle=":", label=f"limit at {FULL:,} articles")
        axis.set(xlabel="articles", title=label, xlim=(0, FULL * 1.05))
        axis.legend(fontsize=8)
    figure.suptitle("kbot ingest against the size of the library (2-core machine, all-MiniLM-L6-v2 on CPU)")
    figure.tight_layout()
    figure.savefig(HERE / "scale.png", dpi=90)
    print(f"Wrote {HERE / 'scale.png'} from {len(measured)} sizes: {', '.join(str(n) for n, _ in measured)}.")


if __name__ == "__main__":
    main()
