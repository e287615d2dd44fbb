"""`kbot calibrate`: choose a knowledge base's abstention thresholds and write them to its abstention.toml.

The labelled questions come from a file (``kbot calibrate eval/calibration.jsonl``: answerable and out-of-scope
questions a person wrote), or, without one, from the knowledge base itself (``self_labelled``):

- answerable: its headings and FAQ questions, each asked as a patient would read it ("Acromegaly: Symptoms", "Is it
  safe in pregnancy?"), a seeded sample of at most ``MAX_KB_QUESTIONS`` sections. Each is measured *held
  out*: the sentences of the section it heads are read without their heading (their "heading. sentence" view and
  heading signal set aside, their coverage counted in their own words), so a question is never matched to its own
  heading, only to what the section says. Structural headings ("Conclusion", "Key takeaways") ask nothing and are
  left out;
- out of scope: kbot's own list (``kbot/data/off_topic.txt``: clinic logistics, small talk, gibberish, everyday
  questions, other specialties), less any question that names a word of one of the knowledge base's article titles
  (a library with an article on acne is not off topic for "best cream for acne").

Each question's evidence is measured once (best cosine of a sentence in any of its views; share of the question's IDF
weight that the first candidate sentence holds); then a grid of threshold triples for `Abstention`'s rule is scored
by the worse of two rates, answerable questions answered and out-of-scope questions abstained on, and the middle of
the best plateau is kept, so the choice is not balanced on a knife's edge. `kbot ingest` runs the self-labelled
calibration when a knowledge base has no abstention.toml yet.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import numpy as np

from kbot.answer import Abstention
from kbot.chunking import situated
from kbot.config import Settings
from kbot.embedding import Encoded
from kbot.evaluation.gold import GoldFileError, load_gold
from kbot.folder import CALIBRATION_FILE
from kbot.index import Index
from kbot.knowledge_base import DEFAULT_KB, KnowledgeBase
from kbot.retrieval import Retriever
from kbot.service import KbotService, asks_something

DENSE_GRID = np.round(np.arange(0.20, 0.90, 0.01), 2)
COVERAGE_GRID = np.round(np.arange(0.0, 1.001, 0.01), 2)
FLOOR_GRID = np.round(np.arange(0.0, 0.90, 0.05), 2)
MAX_KB_QUESTIONS = 600  # sections asked about at most: enough for the rates, about a minute on two cores
SEED = 13
# Headings that say where a section sits, not what it answers
STRUCTURAL_HEADINGS = frozenset(
    {"conclusion", "conclusions", "summary", "overview", "introduction", "key takeaways", "takeaways", "references",
     "sources", "resources", "related", "related articles", "more information", "learn more", "faq", "faqs",
     "frequently asked questions", "bottom line", "the bottom line", "final thoughts", "in summary", "in conclusion"}
)  # fmt: skip
SectionKey = tuple[str, str]  # (source id, section heading)


@dataclass(frozen=True)
class Probe:
    """A labelled question; ``section``, for one made from a heading, is the section read without it."""

    question: str
    section: SectionKey | None = None


@dataclass(frozen=True)
class Choice:
    rule: Abstention
    answered_rate: float  # recall: answerable questions answered
    abstained_rate: float  # out-of-scope questions not answered
    precision: float  # answered questions that were answerable


def measure(service: KbotService, questions: Sequence[str | Probe], kb: str = DEFAULT_KB) -> np.ndarray:
    """(n, 2) array of each question's best cosine (Retrieval.top_dense) and coverage in the knowledge base ``kb``;
    a Probe made from a heading is measured with its own section read without that heading."""
    base = service.kb(kb)
    probes = [q if isinstance(q, Probe) else Probe(q) for q in questions]
    queries, encoded = service.encode_questions([p.question for p in probes], base)
    return np.array(
        [evidence_of(base.retriever, q, e, p.section) for q, e, p in zip(queries, encoded, probes, strict=True)],
        dtype=np.float64,
    ).reshape(-1, 2)


def evidence_of(retriever: Retriever, query: str, encoded: Encoded, held_out: SectionKey | None) -> tuple[float, float]:
    """What the abstention reads (``Retrieval.top_dense`` and ``.coverage``), as ``retrieve`` computes them; with
    ``held_out``, that section's sentences are scored without their heading: the "heading. sentence" view becomes the
    sentence alone, the heading's cosine 0 and coverage the share of the question's words in the sentence itself.
    (The ranking keeps the signals it cannot recompute cheaply, BM25 and word pieces, as they are.)"""
    features = retriever.features(query, encoded)
    if not len(features.ids):
        return 0.0, 0.0
    signals = features.signals
    if held_out is not None:
        rows = retriever.index.sentences
        own = np.array([(rows[i].source_id, rows[i].section) == held_out for i in features.ids])
        if own.any():
            signals = dict(signals)
            signals["context"] = np.where(own, signals["sentence"], signals["context"])
            signals["any_view"] = np.where(own, np.maximum(signals["sentence"], signals["window"]), signals["any_view"])
            signals["heading"] = np.where(own, 0.0, signals["heading"])
            coverage = signals["coverage"].copy()
            coverage[own] = retriever.coverage_in(query, [rows[i].text for i in features.ids[own]])
            signals["coverage"] = coverage
    first = int(np.argmax(retriever.combine(dataclasses.replace(features, signals=signals))))
    return float(signals["any_view"].max()), float(signals["coverage"][first])


def kb_questions(index: Index, limit: int = MAX_KB_QUESTIONS, seed: int = SEED) -> list[Probe]:
    """A question per section of the knowledge base (a seeded sample of ``limit``): its FAQ question or heading, led by
    its article's title where the heading is one that several articles share ("Acromegaly: Symptoms")."""
    rows = index.sentences
    titles = {k: d.meta.title for k, d in index.documents.items()}
    asked: dict[SectionKey, str] = {}
    for row, where in zip(rows, situated(rows, titles), strict=True):
        key = (row.source_id, row.section)
        heading = row.section.strip()
        if row.quotable and heading and key not in asked and heading.casefold().rstrip(":") not in STRUCTURAL_HEADINGS:
            asked[key] = where
    sample = random.Random(seed).sample(sorted(asked), min(limit, len(asked)))
    return [Probe(asked[key], key) for key in sorted(sample)]


def off_topic_questions(retriever: Retriever, index: Index) -> list[str]:
    """kbot's off-topic questions that reach retrieval, less those that name a word of an article's title (in the
    retriever's stemming)."""
    text = resources.files("kbot").joinpath("data", "off_topic.txt").read_text(encoding="utf-8")
    questions = [q for q in question_lines(text) if asks_something(q)]  # "👍" is answered before retrieval
    title_words = {w for d in index.documents.values() for w in retriever.words(d.meta.title)}
    return [q for q in questions if not title_words & set(retriever.words(q))]


def question_lines(text: str) -> list[str]:
    """The questions of a list file (kbot/data/off_topic.txt, eval/off_topic.txt): one a line, # starts a comment."""
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


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


def run_calibration(settings: Settings, labelled: Path | None = None, kb: str = DEFAULT_KB) -> Choice:
    """Calibrate the knowledge base ``kb`` on a labelled file, or, without one, on questions made from itself."""
    service = KbotService.load(settings, only=[kb])
    return calibrate_loaded(service, kb, labelled)


def calibrate_loaded(service: KbotService, kb: str, labelled: Path | None = None) -> Choice:
    base = service.kb(kb)
    answerable: Sequence[str | Probe]
    if labelled is not None:
        items = load_gold(labelled)
        answerable = [i.question for i in items if i.kind == "answerable"]
        out_of_scope = [i.question for i in items if i.kind == "out_of_scope"]
        described = str(labelled)
        if not answerable or not out_of_scope:
            raise GoldFileError(f"{labelled} needs both answerable and out_of_scope questions to calibrate on.")
    else:
        answerable, out_of_scope = self_labelled(base)
        described = "the knowledge base's own headings and FAQ questions, and kbot's off-topic questions"
        if not answerable:
            raise GoldFileError(
                f"The knowledge base {kb!r} has no headings or FAQ questions to calibrate on: "
                "write a labelled set (see eval/calibration.jsonl) and run kbot calibrate with it."
            )
    choice = choose(measure(service, answerable, kb), measure(service, out_of_scope, kb))
    path = base.folder / CALIBRATION_FILE
    write_thresholds(path, choice, described, len(answerable), len(out_of_scope))
    rule = choice.rule
    print(
        f"Chose min_dense={rule.min_dense}, min_coverage={rule.min_coverage}, "
        f"min_dense_with_coverage={rule.min_dense_with_coverage}: answers "
        f"{choice.answered_rate:.1%} of answerable and abstains on {choice.abstained_rate:.1%} of out-of-scope "
        f"questions (precision {choice.precision:.1%}). Wrote {path}."
    )
    return choice


def self_labelled(base: KnowledgeBase) -> tuple[list[Probe], list[str]]:
    """Answerable questions made from the knowledge base's headings, and the off-topic questions that stay off topic."""
    return kb_questions(base.index), off_topic_questions(base.retriever, base.index)


def write_thresholds(path: Path, choice: Choice, described: str, answerable: int, out_of_scope: int) -> None:
    rule = choice.rule
    path.write_text(
        f"# Written by `kbot calibrate` on {datetime.now(UTC).date()} from {answerable} answerable and {out_of_scope} "
        f"out-of-scope questions:\n# {described}. Re-run it after changing the articles.\n\n"
        f"[thresholds]\nmin_dense = {rule.min_dense}\nmin_coverage = {rule.min_coverage}\n"
        f"min_dense_with_coverage = {rule.min_dense_with_coverage}\n\n"
        f'[calibration]\nset = "{described}"\nanswerable = {answerable}\nout_of_scope = {out_of_scope}\n'
        f"answered_rate = {choice.answered_rate:.3f}\nabstained_rate = {choice.abstained_rate:.3f}\n"
        f"precision = {choice.precision:.3f}\n",
        encoding="utf-8",
    )
