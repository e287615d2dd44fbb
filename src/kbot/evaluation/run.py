"""`kbot eval`: ask every gold question of kbot and of the baseline, print the table, write the report, gate on it."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from kbot.catalog import load_catalog
from kbot.config import Settings
from kbot.evaluation.baseline import ChunkBaseline, DenseBaseline, SectionBaseline
from kbot.evaluation.gold import (
    BaselineName,
    GoldFileError,
    GoldItem,
    load_config,
    load_gold,
    load_targets,
    load_thresholds,
)
from kbot.evaluation.metrics import Outcome, first_support_rank
from kbot.evaluation.report import Report, write_report
from kbot.evaluation.safety_set import SAFETY_SET, measure_file
from kbot.folder import read_source_text
from kbot.knowledge_base import DEFAULT_KB
from kbot.readability import mean_grade
from kbot.service import KbotService

GRADED_KINDS = ("answerable", "alarming_educational")
BASELINES: dict[BaselineName, type[DenseBaseline]] = {"chunk": ChunkBaseline, "section": SectionBaseline}
# Thresholds that make kbot answer every question it finds a sentence for (``kbot eval --no-abstention``)
NO_ABSTENTION = {"min_dense_score": -1.0, "min_coverage": 2.0, "min_coverage_dense": 2.0}


def evaluate_kbot(service: KbotService, items: Sequence[GoldItem], kb: str = DEFAULT_KB) -> list[Outcome]:
    outcomes = []
    base = service.kb(kb)
    # Faithfulness is checked against the files on disk, not the text kbot holds in memory (which it quoted from)
    texts = {d.meta.file: read_source_text(base.folder / d.meta.file) for d in base.index.documents.values()}
    for item in tqdm(items, desc="kbot", unit="q", leave=False):
        started = time.perf_counter()
        answer = service.ask(item.question, kb)
        seconds = time.perf_counter() - started
        quotes = tuple(q.text for q in answer.quotes)
        outcomes.append(
            Outcome(
                id=item.id,
                kind=item.kind,
                question=item.question,
                status=answer.status.value,
                quotes=quotes,
                faithful=all(texts[q.source_file][q.start : q.end] == q.text for q in answer.quotes),
                notice_last=answer.notice == base.notice and answer.text.endswith(answer.notice),
                seconds=seconds,
                rank=first_support_rank(quotes, item.evidence) if item.kind in GRADED_KINDS else None,
                signals=dict(answer.evidence),
            )
        )
    return outcomes


def starter_grades(service: KbotService, kb: str = DEFAULT_KB) -> dict[str, float]:
    """The mean Flesch-Kincaid grade of the quotes answering the knowledge base's starter questions, with the
    readability tie-break off ("before") and as configured ("after")."""
    base = service.kb(kb)
    plain = dataclasses.replace(service, selector=dataclasses.replace(service.selector, readability_weight=0.0))
    figures: dict[str, float] = {}
    for label, svc in (("before", plain), ("after", service)):
        answers = [svc.ask(q, kb) for q in base.profile.starters]
        figures[label] = round(mean_grade(q.text for a in answers for q in a.quotes), 2)
    figures["weight"] = service.selector.readability_weight
    return figures


def evaluate_baseline(baseline: DenseBaseline, items: Sequence[GoldItem]) -> list[Outcome]:
    outcomes = []
    for item in tqdm(items, desc=baseline.name, unit="q", leave=False):
        started = time.perf_counter()
        chunks = baseline.ask(item.question)
        seconds = time.perf_counter() - started
        quotes = tuple(c.text for c in chunks)
        outcomes.append(
            Outcome(
                id=item.id,
                kind=item.kind,
                question=item.question,
                status="answered",
                quotes=quotes,
                faithful=all(baseline.faithful(c) for c in chunks),
                notice_last=False,  # the baseline has no notice: that is one of the things kbot adds
                seconds=seconds,
                rank=first_support_rank(quotes, item.evidence) if item.kind in GRADED_KINDS else None,
            )
        )
    return outcomes


def in_library(items: Sequence[GoldItem], folder: Path) -> list[GoldItem]:
    """The items a knowledge base can answer: those that name no article, or an article it holds."""
    held = {Path(meta.file).stem for meta in load_catalog(folder)}
    return [item for item in items if not item.article or item.article in held]


def run_evaluation(
    settings: Settings,
    gold_path: Path,
    out_dir: Path,
    with_baseline: bool = True,
    kb: str = DEFAULT_KB,
    abstain: bool = True,
) -> bool:
    """Run, print and write the evaluation of the knowledge base ``kb``. Returns False when a threshold of the gold
    set's config is missed. ``abstain=False`` measures kbot answering every question (its thresholds set aside)."""
    config_path = gold_path.with_suffix(".toml")
    config, thresholds, targets = load_config(config_path), load_thresholds(config_path), load_targets(config_path)
    service = KbotService.load(settings if abstain else settings.model_copy(update=NO_ABSTENTION), only=[kb])
    base = service.kb(kb)
    every = load_gold(gold_path)
    items = in_library(every, base.folder)
    if not items:
        raise GoldFileError(f"{gold_path}: none of its questions is about an article of the knowledge base {kb!r}.")
    kbot = evaluate_kbot(service, items, kb)
    # the same service in retrieval's order, beside it: what the reader adds
    without_reader = evaluate_kbot(dataclasses.replace(service, reader=None), items, kb) if service.reader else None
    baselines = {
        name: evaluate_baseline(BASELINES[name](base.folder, service.embedder), items)
        for name in (config.baselines if with_baseline else [])
    }
    first = baselines.pop(config.baselines[0], [])
    report = Report.build(
        kbot,
        first,
        thresholds.model_dump(),
        base.abstention,
        base.folder,
        targets.model_dump() if targets else None,
        measure_file(base.safety, gold_path.parent / SAFETY_SET) if config.safety else None,  # on ten specialties
        starter_grades(service, kb),
        others={BASELINES[name].name: outcomes for name, outcomes in baselines.items()},
        skipped=len(every) - len(items),
        with_safety=config.safety,
        without_reader=without_reader,
    )
    print(report.markdown())
    write_report(report, out_dir)
    print(f"Wrote {out_dir / 'report.md'}, {out_dir / 'report.json'} and {out_dir / 'scores.png'}.")
    if report.failures:
        print("FAILED thresholds:\n" + "\n".join(f"  - {f}" for f in report.failures))
    if report.unmet_targets:
        print("Targets not reached (reported, not enforced):\n" + "\n".join(f"  - {f}" for f in report.unmet_targets))
    return not report.failures
