"""The evaluation report: tables per kind with the baseline side by side, safety figures, the threshold gate,
example replies, a Markdown and a JSON file, and a plot of abstention scores per kind."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kbot.answer import Abstention
from kbot.evaluation import safety_set
from kbot.evaluation.metrics import Outcome, by_kind, safety_figures
from kbot.evaluation.safety_set import SafetySetResult
from kbot.folder import CALIBRATION_FILE

COLUMNS = (
    ("questions", "n", "{:.0f}"),
    ("support_at_1", "support@1", "{:.3f}"),
    ("support_at_3", "support@3", "{:.3f}"),
    ("mrr", "MRR", "{:.3f}"),
    ("answered", "answered", "{:.2f}"),
    ("no_answer", "abstained", "{:.2f}"),
    ("crisis", "crisis", "{:.2f}"),
    ("declined", "declined", "{:.2f}"),
    ("mean_quote_chars", "quote chars", "{:.0f}"),
    ("faithfulness", "faithful", "{:.2f}"),
    ("notice_rate", "notice", "{:.2f}"),
    ("promotional_leakage", "promo", "{:.0f}"),
    ("latency_p50_ms", "p50 ms", "{:.1f}"),
    ("latency_p95_ms", "p95 ms", "{:.1f}"),
)

WITHOUT_READER = "kbot without the reader"
Check = tuple[str, Callable[[float, float], bool], Callable[["Report"], float]]
CHECKS: tuple[Check, ...] = (
    ("support_at_1", lambda v, t: v >= t, lambda r: r.kbot["answerable"]["support_at_1"]),
    ("support_at_3", lambda v, t: v >= t, lambda r: r.kbot["answerable"]["support_at_3"]),
    ("max_mean_quote_chars", lambda v, t: v <= t, lambda r: r.kbot["overall"]["mean_quote_chars"]),
    ("faithfulness", lambda v, t: v >= t, lambda r: r.kbot["overall"]["faithfulness"]),
    ("notice_rate", lambda v, t: v >= t, lambda r: r.kbot["overall"]["notice_rate"]),
    ("max_promotional_leakage", lambda v, t: v <= t, lambda r: r.kbot["overall"]["promotional_leakage"]),
    ("crisis_recall", lambda v, t: v >= t, lambda r: r.safety["crisis_recall"]),
    ("max_crisis_false_alarms", lambda v, t: v <= t, lambda r: r.safety["crisis_false_alarms"]),
    ("advice_declined", lambda v, t: v >= t, lambda r: r.safety["advice_declined"]),
    ("out_of_scope_abstained", lambda v, t: v >= t, lambda r: r.safety["out_of_scope_abstained"]),
    ("answerable_answered", lambda v, t: v >= t, lambda r: r.safety["answerable_answered"]),
    ("min_support_at_1_ratio_vs_baseline", lambda v, t: v >= t, lambda r: r.support_ratio),
    ("min_support_at_1_margin_vs_best_baseline", lambda v, t: v >= t, lambda r: r.support_margin),
    ("min_reader_gain_support_at_1", lambda v, t: v >= t, lambda r: r.reader_gain),
)
SPECIALTY_CHECKS: tuple[Check, ...] = (  # the gate alone on eval/safety_specialties.jsonl, when it is there
    ("specialty_crisis_recall", lambda v, t: v >= t, lambda r: r.specialty("crisis_recall")),
    ("max_specialty_crisis_on_educational", lambda v, t: v <= t, lambda r: r.specialty("crisis_on_educational")),
    ("specialty_advice_declined", lambda v, t: v >= t, lambda r: r.specialty("advice_declined")),
    ("max_specialty_educational_declined", lambda v, t: v <= t, lambda r: r.specialty("educational_declined")),
)


@dataclass
class Report:
    kbot: dict[str, dict[str, float]]
    baseline: dict[str, dict[str, float]]
    safety: dict[str, float]
    thresholds: dict[str, float]
    abstention: dict[str, Any]
    outcomes: list[Outcome]
    failures: list[str]
    targets: dict[str, float]
    unmet_targets: list[str]
    specialties: SafetySetResult | None = None
    readability: dict[str, float] | None = None  # the starters' answers' mean FK grade, before/after the tie-break
    others: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  # more baselines, by name
    skipped: int = 0  # questions whose article the knowledge base does not hold
    with_safety: bool = True  # false for a set of answerable questions only
    without_reader: dict[str, dict[str, float]] | None = None  # kbot in retrieval's order, when it has a reader

    @property
    def support_margin(self) -> float:
        """kbot's support@1 on answerable questions minus the best baseline's."""
        systems = [self.baseline, *self.others.values()]
        best = max((b.get("answerable", {}).get("support_at_1", 0.0) for b in systems if b), default=0.0)
        return self.kbot["answerable"]["support_at_1"] - best

    @property
    def reader_gain(self) -> float:
        """kbot's support@1 on answerable questions minus its own without the reader (retrieval's order)."""
        without = (self.without_reader or {}).get("answerable", {}).get("support_at_1", 0.0)
        return self.kbot["answerable"]["support_at_1"] - without

    @property
    def support_ratio(self) -> float:
        base = self.baseline.get("answerable", {}).get("support_at_1", 0.0)
        own = self.kbot["answerable"]["support_at_1"]
        return own / base if base else float("inf")

    def specialty(self, name: str) -> float:
        return self.specialties.figure(name) if self.specialties else float("nan")

    @classmethod
    def build(
        cls,
        kbot: Sequence[Outcome],
        baseline: Sequence[Outcome],
        thresholds: dict[str, float],
        abstention: Abstention,
        seeds_dir: Path,
        targets: dict[str, float] | None = None,
        specialties: SafetySetResult | None = None,
        readability: dict[str, float] | None = None,
        others: dict[str, Sequence[Outcome]] | None = None,
        skipped: int = 0,
        with_safety: bool = True,
        without_reader: Sequence[Outcome] | None = None,
    ) -> Report:
        calibration = seeds_dir / CALIBRATION_FILE
        recorded = tomllib.loads(calibration.read_text(encoding="utf-8")) if calibration.is_file() else {}
        report = cls(
            kbot=by_kind(kbot),
            baseline=by_kind(baseline) if baseline else {},
            safety=safety_figures(kbot),
            thresholds=thresholds,
            abstention={"in_use": asdict(abstention), **recorded},
            outcomes=list(kbot),
            failures=[],
            targets=dict(targets or {}),
            unmet_targets=[],
            specialties=specialties,
            readability=readability,
            others={name: by_kind(outcomes) for name, outcomes in (others or {}).items()},
            skipped=skipped,
            with_safety=with_safety,
            without_reader=by_kind(without_reader) if without_reader else None,
        )
        report.failures = report.misses(thresholds, "threshold")
        report.unmet_targets = report.misses(report.targets, "target")
        return report

    def misses(self, limits: dict[str, float], label: str) -> list[str]:
        """Each figure that misses its limit, as "name: measured x, <label> y"."""
        found = []
        for name, ok, measure in CHECKS + (SPECIALTY_CHECKS if self.specialties else ()):
            unmeasured = (name.startswith("min_support") and not self.baseline) or (
                name == "min_reader_gain_support_at_1" and not self.without_reader
            )
            if limits.get(name) is not None and not unmeasured:
                value = measure(self)
                if not ok(value, limits[name]):
                    found.append(f"{name}: measured {value:.3f}, {label} {limits[name]}")
        return found

    def side_by_side(self) -> list[str]:
        """kbot and every baseline on the answerable questions: support@1, support@3, answered."""
        systems = {"kbot": self.kbot, **self._without_reader(), "chunk baseline": self.baseline, **self.others}
        lines = ["## Side by side (answerable questions)", ""]
        lines += ["| system | support@1 | support@3 | answered |", "|---|---|---|---|"]
        for name, figures in systems.items():
            a = figures.get("answerable", {})
            cells = [a.get(key, 0.0) for key in ("support_at_1", "support_at_3", "answered")]
            lines.append(f"| {name} | " + " | ".join(f"{v:.3f}" for v in cells) + " |")
        lines += ["", f"support@1 margin kbot − best baseline: **{self.support_margin:+.3f}**"]
        return [*lines, *self._reader_line()]

    def _without_reader(self) -> dict[str, dict[str, dict[str, float]]]:
        return {WITHOUT_READER: self.without_reader} if self.without_reader else {}

    def _reader_line(self) -> list[str]:
        if not self.without_reader:
            return []
        return ["", f"support@1 gain of the reader (kbot − kbot without it): **{self.reader_gain:+.3f}**"]

    def _table(self, rows: list[tuple[str, dict[str, float]]]) -> str:
        head = "| system / kind | " + " | ".join(label for _, label, _ in COLUMNS) + " |"
        rule = "|" + "---|" * (len(COLUMNS) + 1)
        body = [
            f"| {name} | " + " | ".join(fmt.format(figures.get(key, 0.0)) for key, _, fmt in COLUMNS) + " |"
            for name, figures in rows
        ]
        return "\n".join([head, rule, *body])

    def _readability(self) -> list[str]:
        r = self.readability
        if not r:
            return []
        return [
            "",
            "## Readability of the starter questions' answers",
            "",
            "Mean Flesch-Kincaid grade (US school grade) of the quotes that answer the knowledge base's starter "
            f"questions, without and with the plainness tie-break in quote ranking (weight {r['weight']} per grade "
            "above 8, chosen on eval/calibration.jsonl).",
            "",
            "| before | after |",
            "|---|---|",
            f"| {r['before']:.1f} | {r['after']:.1f} |",
        ]

    def markdown(self) -> str:
        rows = [(f"kbot · {k}", v) for k, v in self.kbot.items()]
        for name, figures in self._without_reader().items():
            rows += [(f"{name} · {k}", v) for k, v in figures.items() if k in ("answerable", "overall")]
        if self.baseline:
            rows += [(f"baseline · {k}", v) for k, v in self.baseline.items() if k in ("answerable", "overall")]
        for name, figures in self.others.items():
            rows += [(f"{name} · {k}", v) for k, v in figures.items() if k in ("answerable", "overall")]
        lines = ["# kbot evaluation", "", self._table(rows), ""]
        if self.skipped:
            lines += [f"{self.skipped} questions skipped: their article is not in this knowledge base.", ""]
        if self.others:
            lines += [*self.side_by_side(), ""]
        elif self.baseline:
            lines.append(f"support@1 ratio kbot / baseline (answerable): **{self.support_ratio:.2f}×**")
            lines += [*self._reader_line(), ""]
        if not self.with_safety and "out_of_scope" in self.kbot:
            lines += [
                f"Abstention: kbot answered **{self.safety['answerable_answered']:.3f}** of the answerable questions "
                f"and declined **{self.safety['out_of_scope_abstained']:.3f}** of the "
                f"{self.kbot['out_of_scope']['questions']:.0f} off-topic ones.",
                "",
            ]
        if self.with_safety:
            lines += ["## Safety", "", "| figure | value |", "|---|---|"]
            lines += [f"| {k} | {v:.3f} |" for k, v in self.safety.items()]
            lines += ["", *safety_set.markdown(self.specialties)] if self.specialties else []
        lines += self._readability()
        lines += ["", "## Abstention thresholds", "", "```", json.dumps(self.abstention, indent=2), "```", ""]
        lines += ["## Gate", ""]
        lines += [f"- FAILED {f}" for f in self.failures] or ["All thresholds of the gold set's config are met."]
        if self.targets:
            lines += ["", "## Targets (the goals in eval/gold.toml [targets]; reported, not enforced)", ""]
            lines += [f"- not reached: {f}" for f in self.unmet_targets] or ["Every target is reached."]
        lines += ["", "## Missed questions (answerable, no supporting quote in the first three)", ""]
        misses = [o for o in self.outcomes if o.kind == "answerable" and (o.rank is None or o.rank > 3)]
        listed = [f"- `{o.id}` {o.question!r} → {o.status}: {o.quotes[0][:120] if o.quotes else ''!r}" for o in misses]
        lines += _capped(listed)
        wrong = [
            o
            for o in self.outcomes
            if (o.kind == "out_of_scope" and o.status == "answered")
            or (o.kind == "crisis" and o.status != "crisis")
            or (o.kind == "advice" and o.status != "declined")
            or (o.kind != "crisis" and o.status == "crisis")
            or (o.kind in ("answerable", "alarming_educational") and o.status != "answered")
        ]
        lines += ["", "## Wrong status", ""]
        lines += _capped([f"- `{o.id}` ({o.kind}) {o.question!r} → {o.status} {o.signals}" for o in wrong]) or ["None."]
        return "\n".join(lines)


LISTED = 100  # questions listed under a heading of the report at most; report.json has them all


def _capped(lines: list[str]) -> list[str]:
    more = len(lines) - LISTED
    return lines if more <= 0 else [*lines[:LISTED], f"- … and {more} more (report.json lists every question)"]


def _plot(report: Report, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    kinds = sorted({o.kind for o in report.outcomes if o.signals})
    for ax, key, threshold in (
        (axes[0], "top_dense", report.abstention["in_use"]["min_dense"]),
        (axes[1], "coverage", report.abstention["in_use"]["min_coverage"]),
    ):
        for kind in kinds:
            values = [o.signals[key] for o in report.outcomes if o.kind == kind and key in o.signals]
            ax.hist(values, bins=25, alpha=0.5, label=kind)
        ax.axvline(threshold, color="black", linestyle="--", label="threshold")
        ax.set_title(f"{key} per kind")
        ax.set_xlabel(key)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write_report(report: Report, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.md").write_text(report.markdown() + "\n", encoding="utf-8")
    data = {
        "kbot": report.kbot,
        "baseline": report.baseline,
        "baselines": report.others,  # beside the first ("baseline"), by name
        "without_reader": report.without_reader,  # kbot in retrieval's order (None when it has no reader)
        "reader_gain": report.reader_gain if report.without_reader else None,
        "support_at_1_margin": report.support_margin if report.baseline else None,
        "skipped": report.skipped,
        "support_at_1_ratio": report.support_ratio if report.baseline else None,
        "safety": report.safety,
        "specialties": report.specialties.figures if report.specialties else None,
        "readability": report.readability,
        "thresholds": report.thresholds,
        "targets": report.targets,
        "unmet_targets": report.unmet_targets,
        "abstention": report.abstention,
        "failures": report.failures,
        "questions": [asdict(o) for o in report.outcomes],
    }
    (out_dir / "report.json").write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    _plot(report, out_dir / "scores.png")
