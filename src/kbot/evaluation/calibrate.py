"""`kbot calibrate`: choose the abstention thresholds on a labelled set and write them to seeds/abstention.toml.

Each question's evidence is measured once (best sentence cosine, share of content words the sources use); then a grid
of threshold pairs is scored by the worse of two rates, answerable questions answered and out-of-scope questions
abstained on, and the middle of the best plateau is kept, so the choice is not balanced on a knife's edge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from kbot.config import Settings
from kbot.evaluation.gold import GoldFileError, load_gold
from kbot.service import CALIBRATION_FILE, KbotService

DENSE_GRID = np.round(np.arange(0.20, 0.80, 0.01), 2)
OVERLAP_GRID = np.round(np.arange(0.0, 1.0, 0.05), 2)


@dataclass(frozen=True)
class Choice:
    min_dense: float
    min_overlap: float
    answered_rate: float  # recall: answerable questions answered
    abstained_rate: float  # out-of-scope questions not answered
    precision: float  # answered questions that were answerable


def measure(service: KbotService, questions: Sequence[str]) -> np.ndarray:
    """(n, 2) array of each question's best sentence cosine and content-word overlap."""
    queries = [service.retriever.normalizer.normalize(q) for q in questions]
    vectors = service.embedder.embed(queries)
    found = [service.retriever.retrieve(q, v) for q, v in zip(queries, vectors, strict=True)]
    return np.array([[f.top_dense, f.overlap] for f in found], dtype=np.float64)


def choose(answerable: np.ndarray, out_of_scope: np.ndarray) -> Choice:
    best: list[tuple[float, float, Choice]] = []
    for d in DENSE_GRID:
        for o in OVERLAP_GRID:
            ans = (answerable[:, 0] >= d) & (answerable[:, 1] >= o)
            oos = (out_of_scope[:, 0] >= d) & (out_of_scope[:, 1] >= o)
            recall, abstained = float(ans.mean()), float(1 - oos.mean())
            precision = float(ans.sum() / max(1, ans.sum() + oos.sum()))
            best.append(
                (min(recall, abstained), recall + abstained, Choice(float(d), float(o), recall, abstained, precision))
            )
    top = max((worst, total) for worst, total, _ in best)
    plateau = [c for worst, total, c in best if (worst, total) == top]
    # The middle of the plateau on each signal in turn, so both thresholds keep a margin from where the rates drop:
    # the median overlap threshold, then the median dense threshold among the plateau's pairs with that overlap.
    overlaps = sorted({c.min_overlap for c in plateau})
    overlap = overlaps[len(overlaps) // 2]
    row = sorted((c for c in plateau if c.min_overlap == overlap), key=lambda c: c.min_dense)
    return row[len(row) // 2]


def run_calibration(settings: Settings, labelled: Path) -> Choice:
    items = load_gold(labelled)
    answerable = [i.question for i in items if i.kind == "answerable"]
    out_of_scope = [i.question for i in items if i.kind == "out_of_scope"]
    if not answerable or not out_of_scope:
        raise GoldFileError(f"{labelled} needs both answerable and out_of_scope questions to calibrate on.")
    service = KbotService.load(settings)
    choice = choose(measure(service, answerable), measure(service, out_of_scope))
    path = settings.seeds_dir / CALIBRATION_FILE
    path.write_text(
        f"# Written by `kbot calibrate` from {labelled} ({len(answerable)} answerable, {len(out_of_scope)} out of "
        f"scope)\n# on {datetime.now(UTC).date()}. Re-run it after changing the articles.\n\n"
        f"[thresholds]\nmin_dense = {choice.min_dense}\nmin_overlap = {choice.min_overlap}\n\n"
        f'[calibration]\nset = "{labelled}"\nanswerable = {len(answerable)}\nout_of_scope = {len(out_of_scope)}\n'
        f"answered_rate = {choice.answered_rate:.3f}\nabstained_rate = {choice.abstained_rate:.3f}\n"
        f"precision = {choice.precision:.3f}\n",
        encoding="utf-8",
    )
    print(
        f"Chose min_dense={choice.min_dense}, min_overlap={choice.min_overlap}: answers "
        f"{choice.answered_rate:.1%} of answerable and abstains on {choice.abstained_rate:.1%} of out-of-scope "
        f"questions (precision {choice.precision:.1%}). Wrote {path}."
    )
    return choice
