"""The specialty safety set (eval/safety_specialties.jsonl): questions written as patients of ten specialties other
than the knowledge base's write them (asthma, epilepsy, diabetes, heart disease, pregnancy, mental health, cancer,
kidney disease, allergy, children's health), labelled educational, crisis or advice, each in a ``dev`` or ``test``
split. Only the safety gate is run on them (no retrieval, microseconds a question): the safety rules must hold for any
health text, not only for the knowledge base's own topic.

Figures, per split and for the whole set: crisis recall (crisis questions answered as a crisis), crisis replies to
educational questions, advice declined, educational questions declined; and, reported but not gated, educational
questions answered with the help lines beside them (the gate's emergency topic: "what should i do during a seizure"
should carry them, "what triggers seizures" should not).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field

from kbot.evaluation.gold import LabelledQuestion, load_items
from kbot.safety import SafetyGate

SAFETY_SET = "safety_specialties.jsonl"
"""Its file name, next to the gold set."""
SPLITS = ("dev", "test", "all")
EXPECTED = {"educational": "ok", "crisis": "crisis", "advice": "advice"}
"""The gate's verdict each kind should get."""


class SafetyItem(LabelledQuestion):
    """One question of the specialty safety set."""

    kind: Literal["educational", "crisis", "advice"]
    specialty: str = Field(min_length=1, pattern=r"^[a-z_]+$")
    split: Literal["dev", "test"]


@dataclass(frozen=True)
class Miss:
    """A question the gate got wrong, and the verdict it gave."""

    item: SafetyItem
    verdict: str
    rule: str


@dataclass(frozen=True)
class SafetySetResult:
    figures: dict[str, dict[str, float]]
    """Per split ("dev", "test", "all"): the question counts and the four rates."""
    misses: list[Miss]

    def figure(self, name: str) -> float:
        """A rate over the whole set, as the gate in eval/gold.toml reads it."""
        return self.figures["all"][name]


def load_safety_set(path: Path) -> list[SafetyItem]:
    """Read the set; ``GoldFileError`` names the line of the first problem."""
    return load_items(path, SafetyItem)


def measure(gate: SafetyGate, items: Sequence[SafetyItem]) -> SafetySetResult:
    verdicts = [(item, gate.classify(item.question)) for item in items]
    figures = {}
    for split in SPLITS:
        chosen = [(i, v) for i, v in verdicts if split in ("all", i.split)]
        figures[split] = _figures([(i.kind, v.kind) for i, v in chosen])
        educational = [v for i, v in chosen if i.kind == "educational"]
        flagged = sum(v.kind == "ok" and v.emergency_topic for v in educational)
        figures[split]["educational_with_help_lines"] = flagged / len(educational) if educational else 0.0
    misses = [Miss(i, v.kind, v.rule) for i, v in verdicts if v.kind != EXPECTED[i.kind]]
    return SafetySetResult(figures, misses)


def measure_file(gate: SafetyGate, path: Path) -> SafetySetResult | None:
    """The figures for the set at ``path``, or None when there is no such file."""
    return measure(gate, load_safety_set(path)) if path.is_file() else None


def _figures(kinds: Sequence[tuple[str, str]]) -> dict[str, float]:
    def share(kind: str, verdict: str) -> float:
        of_kind = [v for k, v in kinds if k == kind]
        return sum(v == verdict for v in of_kind) / len(of_kind) if of_kind else 0.0

    return {
        "educational": sum(k == "educational" for k, _ in kinds),
        "crisis": sum(k == "crisis" for k, _ in kinds),
        "advice": sum(k == "advice" for k, _ in kinds),
        "crisis_recall": share("crisis", "crisis"),
        "crisis_on_educational": share("educational", "crisis"),
        "advice_declined": share("advice", "advice"),
        "educational_declined": share("educational", "advice"),
    }


def markdown(result: SafetySetResult) -> list[str]:
    """The report's section: the figures per split, then every question the gate got wrong."""
    lines = [
        "## Safety on other specialties (eval/safety_specialties.jsonl, the gate alone)",
        "",
        "The rules were tuned on `dev`; `test` was held out until a first look, recorded in eval/README.md "
        "(its misses were fixed after).",
        "",
        "| split | educational | crisis | advice | crisis recall | crisis on educational | advice declined "
        "| educational declined | educational with help lines |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for split in SPLITS:
        f = result.figures[split]
        lines.append(
            f"| {split} | {f['educational']:.0f} | {f['crisis']:.0f} | {f['advice']:.0f} | {f['crisis_recall']:.3f} "
            f"| {f['crisis_on_educational']:.3f} | {f['advice_declined']:.3f} | {f['educational_declined']:.3f} "
            f"| {f['educational_with_help_lines']:.3f} |"
        )
    lines += ["", "Wrong verdicts:", ""]
    lines += [
        f"- `{m.item.id}` ({m.item.split}, {m.item.kind}) {m.item.question!r} → {m.verdict} {m.rule[:80]!r}"
        for m in result.misses
    ] or ["None."]
    return lines
