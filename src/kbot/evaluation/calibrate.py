"""`kbot calibrate`: choose the abstention thresholds on a labelled set and write them to seeds/abstention.toml.

Each question's evidence is measured once (best cosine of a sentence in any of its views; share of the question's IDF
weight that the first candidate sentence holds); then a grid of threshold triples for `Abstention`'s rule is scored
by the worse of two rates, answerable questions answered and out-of-scope questions abstained on, and the middle of
the best plateau is kept, so the choice is not balanced on a knife's edge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from kbot.answer import Abstention
from kbot.config import Settings
from kbot.evaluation.gold import GoldFileError, load_gold
from kbot.folder import CALIBRATION_FILE
from kbot.knowledge_base import DEFAULT_KB
from kbot.service import KbotService

DENSE_GRID = np.round(np.arange(0.20, 0.90, 0.01), 2)
COVERAGE_GRID = np.round(np.arange(0.0, 1.001, 0.01), 2)
FLOOR_GRID = np.round(np.arange(0.0, 0.90, 0.05), 2)


@dataclass(frozen=True)
class Choice:
    rule: Abstention
    answered_rate: float  # recall: answerable questions answered
    abstained_rate: float  # out-of-scope questions not answered
    precision: float  # answered questions that were answerable


def measure(service: KbotService, questions: Sequence[str], kb: str = DEFAULT_KB) -> np.ndarray:
    """(n, 2) array of each question's best cosine (Retrieval.top_dense) and coverage in the knowledge base ``kb``."""
    base = service.kb(kb)
    queries, encoded = service.encode_questions(questions, base)
    found = [base.retriever.retrieve(q, e) for q, e in zip(queries, encoded, strict=True)]
    return np.array([[f.top_dense, f.coverage] for f in found], dtype=np.float64)


def _middle(values: Sequence[float]) -> float:
    ordered = sorted(set(values))
    return ordered[len(ordered) // 2]


def choose(answerable: np.ndarray, out_of_scope: np.ndarray) -> Choice:
    scored: list[tuple[float, float, Abstention]] = []
    for dense in DENSE_GRID:
        for floor in (f for f in FLOOR_GRID if f <= dense):
            for coverage in COVERAGE_GRID:
                rule = Abstention(float(dense), float(coverage), float(floor))
                recall = float(rule.admits(answerable[:, 0], answerable[:, 1]).mean())
                abstained = 1 - float(rule.admits(out_of_scope[:, 0], out_of_scope[:, 1]).mean())
                scored.append((min(recall, abstained), recall + abstained, rule))
    top = max((worst, total) for worst, total, _ in scored)
    plateau = [rule for worst, total, rule in scored if (worst, total) == top]
    # The middle of the plateau on each threshold in turn, so each keeps a margin from where the rates drop: the median
    # coverage threshold, then the median floor among the plateau's rules with it, then the median dense threshold.
    coverage = _middle([r.min_coverage for r in plateau])
    plateau = [r for r in plateau if r.min_coverage == coverage]
    floor = _middle([r.min_dense_with_coverage for r in plateau])
    rule = Abstention(_middle([r.min_dense for r in plateau if r.min_dense_with_coverage == floor]), coverage, floor)
    answered = rule.admits(answerable[:, 0], answerable[:, 1])
    wrongly = rule.admits(out_of_scope[:, 0], out_of_scope[:, 1])
    return Choice(
        rule,
        answered_rate=float(answered.mean()),
        abstained_rate=1 - float(wrongly.mean()),
        precision=float(answered.sum() / max(1, answered.sum() + wrongly.sum())),
    )


def run_calibration(settings: Settings, labelled: Path, kb: str = DEFAULT_KB) -> Choice:
    items = load_gold(labelled)
    answerable = [i.question for i in items if i.kind == "answerable"]
    out_of_scope = [i.question for i in items if i.kind == "out_of_scope"]
    if not answerable or not out_of_scope:
        raise GoldFileError(f"{labelled} needs both answerable and out_of_scope questions to calibrate on.")
    service = KbotService.load(settings, only=[kb])
    choice = choose(measure(service, answerable, kb), measure(service, out_of_scope, kb))
    rule = choice.rule
    path = service.kb(kb).folder / CALIBRATION_FILE
    path.write_text(
        f"# Written by `kbot calibrate` from {labelled} ({len(answerable)} answerable, {len(out_of_scope)} out of "
        f"scope)\n# on {datetime.now(UTC).date()}. Re-run it after changing the articles.\n\n"
        f"[thresholds]\nmin_dense = {rule.min_dense}\nmin_coverage = {rule.min_coverage}\n"
        f"min_dense_with_coverage = {rule.min_dense_with_coverage}\n\n"
        f'[calibration]\nset = "{labelled}"\nanswerable = {len(answerable)}\nout_of_scope = {len(out_of_scope)}\n'
        f"answered_rate = {choice.answered_rate:.3f}\nabstained_rate = {choice.abstained_rate:.3f}\n"
        f"precision = {choice.precision:.3f}\n",
        encoding="utf-8",
    )
    print(
        f"Chose min_dense={rule.min_dense}, min_coverage={rule.min_coverage}, "
        f"min_dense_with_coverage={rule.min_dense_with_coverage}: answers "
        f"{choice.answered_rate:.1%} of answerable and abstains on {choice.abstained_rate:.1%} of out-of-scope "
        f"questions (precision {choice.precision:.1%}). Wrote {path}."
    )
    return choice
