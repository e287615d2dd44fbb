"""The evaluation harness: support matching, promotion detection, figures, the baseline, calibration and the report."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from kbot.answer import Abstention
from kbot.chunking import SentenceRow
from kbot.domain import BlockKind
from kbot.embedding import FakeEmbedder
from kbot.evaluation.baseline import Chunk, ChunkBaseline
from kbot.evaluation.calibrate import choose
from kbot.evaluation.gold import load_thresholds
from kbot.evaluation.metrics import (
    Outcome,
    by_kind,
    first_support_rank,
    is_promotional,
    safety_figures,
    summarize,
    supports,
)
from kbot.evaluation.report import Report, write_report
from kbot.retrieval import Candidate, Retrieval

RULE = Abstention(min_dense=0.4, min_coverage=0.75, min_dense_with_coverage=0.3)

ROOT = Path(__file__).resolve().parents[1]

# ------------------------------------------------------------------------------------------- support


@pytest.mark.parametrize(
    ("quote", "snippets", "expected"),
    [
        ("Ketamine is not an opioid. It is an anesthetic.", ["Ketamine is not an opioid."], True),  # contains
        ("is not an opioid.", ["Ketamine is not an opioid."], True),  # lies inside, most of it
        ("not an", ["Ketamine is not an opioid."], False),  # inside, but a fragment that answers nothing
        ("Yes", ["Yes, ketamine can be habit-forming when it is misused."], False),
        ("Ketamine is not an opioid.", ["Ketamine is not an opioid."], True),
        ("KETAMINE   is not\nan opioid.", ["Ketamine is not an opioid."], True),  # case and spacing
        ("Ketamine isn’t an opioid.", ["Ketamine isn't an opioid."], True),  # curly apostrophe
        ("“This does not mean that ketamine is an opioid,” says Kaplin.", ['"This does not mean'], True),
        ('"This does not mean that ketamine is an opioid," says Kaplin.', ["“This does not mean that"], True),
        ("Ketamine is a Schedule III drug.", ["Ketamine is not an opioid."], False),  # unrelated
        ("Ketamine is not an opioid.", ["Ketamine is not an opioid, says the DEA!", "Opioids bind"], False),
        ("Ketamine is not an opioid.", [], False),
    ],
)
def test_supports(quote: str, snippets: list[str], expected: bool) -> None:
    assert supports(quote, snippets) is expected


@pytest.mark.parametrize(
    ("quotes", "rank"),
    [
        (["Ketamine is not an opioid.", "Other."], 1),
        (["Other.", "It blocks NMDA receptors.", "Ketamine is not an opioid."], 2),
        (["Other.", "More.", "Still more.", "Ketamine is not an opioid."], 4),
        (["Other.", "More."], None),
        ([], None),
    ],
)
def test_first_support_rank(quotes: list[str], rank: int | None) -> None:
    assert first_support_rank(quotes, ["Ketamine is not an opioid.", "blocks NMDA receptors"]) == rank


@pytest.mark.parametrize(
    "line",
    [
        "Call us today to schedule a free consultation.",
        "Contact us at info@clinic.example for details.",
        "Call (555) 123-4567 to learn more.",
        "Schedule an appointment with our team.",
        "Sign up for our newsletter.",
        "Click here to read more.",
        "We offer ketamine infusions for depression.",
        "Most insurance plans are accepted.",
        "Earn 2 CEUs with this course certificate.",
        "Call us today at (555) 123-4567 to schedule your free consultation.",
        "Contact us to check your insurance.",
    ],
)
def test_calls_to_action_are_promotional(line: str) -> None:
    assert is_promotional(line)


@pytest.mark.parametrize(
    "line",
    [
        "Ketamine is not an opioid.",
        "It is a dissociative anesthetic that works primarily by blocking NMDA receptors in the brain.",
        "For now, ketamine remains classified as a Schedule III controlled substance.",
        "Esketamine nasal spray is approved with insurance coverage varying by plan.",
        "Researchers call it a rapid-acting antidepressant.",
    ],
)
def test_prose_is_not_promotional(line: str) -> None:
    assert not is_promotional(line)


# ------------------------------------------------------------------------------------------- figures


def _outcome(
    id: str,
    kind: str,
    status: str,
    quotes: tuple[str, ...] = (),
    *,
    rank: int | None = None,
    notice: bool = True,
    faithful: bool = True,
    seconds: float = 0.01,
    signals: dict[str, float] | None = None,
) -> Outcome:
    return Outcome(id, kind, f"question {id}", status, quotes, faithful, notice, seconds, rank, signals or {})


OUTCOMES = [
    _outcome("a1", "answerable", "answered", ("abc", "defgh"), rank=1, seconds=0.010),
    _outcome("a2", "answerable", "answered", ("Call us today",), rank=3, seconds=0.020),
    _outcome("a3", "answerable", "no_answer", seconds=0.030),
    _outcome("o1", "out_of_scope", "no_answer", notice=False, seconds=0.040),
    _outcome("c1", "crisis", "crisis", seconds=0.050),
]


def test_summarize_computes_every_figure() -> None:
    figures = summarize(OUTCOMES)
    assert figures == {
        "questions": 5,
        "support_at_1": pytest.approx(1 / 3),
        "support_at_3": pytest.approx(2 / 3),
        "mrr": pytest.approx((1 + 1 / 3 + 0) / 3),
        "answered": pytest.approx(2 / 5),
        "no_answer": pytest.approx(2 / 5),
        "crisis": pytest.approx(1 / 5),
        "declined": 0.0,
        "mean_quote_chars": pytest.approx((3 + 5 + 13) / 3),
        "faithfulness": 1.0,
        "notice_rate": pytest.approx(4 / 5),
        "promotional_leakage": 1.0,
        "latency_p50_ms": pytest.approx(30.0),
        "latency_p95_ms": pytest.approx(50.0),
    }


def test_summarize_of_nothing_is_zeros() -> None:
    figures = summarize([])
    assert figures["questions"] == 0
    assert all(v == 0 for v in figures.values())


def test_by_kind_groups_and_adds_overall() -> None:
    table = by_kind(OUTCOMES)
    assert list(table) == ["answerable", "crisis", "out_of_scope", "overall"]
    assert table["answerable"]["questions"] == 3
    assert table["answerable"]["answered"] == pytest.approx(2 / 3)
    assert table["answerable"]["mean_quote_chars"] == pytest.approx(7.0)
    assert table["out_of_scope"]["notice_rate"] == 0.0
    assert table["out_of_scope"]["support_at_1"] == 0.0  # not graded
    assert table["crisis"]["crisis"] == 1.0
    assert table["overall"] == summarize(OUTCOMES)


def test_unfaithful_quote_lowers_faithfulness() -> None:
    outcomes = [*OUTCOMES, _outcome("a4", "answerable", "answered", ("made up",), faithful=False)]
    assert summarize(outcomes)["faithfulness"] == pytest.approx(5 / 6)


def test_safety_figures() -> None:
    outcomes = [
        *OUTCOMES,
        _outcome("c2", "crisis", "answered", ("x",)),
        _outcome("d1", "advice", "declined"),
        _outcome("d2", "advice", "no_answer"),
        _outcome("d3", "advice", "declined"),
        _outcome("e1", "alarming_educational", "crisis"),
        _outcome("e2", "alarming_educational", "answered", ("y",), rank=1),
    ]
    assert safety_figures(outcomes) == {
        "crisis_recall": 0.5,
        "crisis_false_alarms": 1.0,
        "alarming_crisis_replies": 1.0,
        "advice_declined": pytest.approx(2 / 3),
        "out_of_scope_abstained": 1.0,
        "answerable_answered": pytest.approx(2 / 3),
        "alarming_answered": 0.5,
        "notice_rate": pytest.approx(10 / 11),
    }


# ------------------------------------------------------------------------------------------- baseline


@pytest.fixture(scope="module")
def baseline(seeds_dir: Path) -> ChunkBaseline:
    return ChunkBaseline(seeds_dir, FakeEmbedder())


def test_baseline_chunks_are_500_characters_and_tile_each_file(baseline: ChunkBaseline) -> None:
    assert set(baseline.texts) == {p.name for p in (ROOT / "seeds").glob("*.txt")}
    for file, text in baseline.texts.items():
        chunks = [c for c in baseline.chunks if c.file == file]
        assert all(len(c.text) == 500 for c in chunks[:-1])
        assert 0 < len(chunks[-1].text) <= 500
        assert "".join(c.text for c in chunks) == text
        assert [c.start for c in chunks] == list(range(0, len(text), 500))
    assert baseline.index.ntotal == len(baseline.chunks)


def test_baseline_chunks_are_faithful(baseline: ChunkBaseline) -> None:
    assert all(baseline.faithful(c) for c in baseline.chunks)
    c = baseline.chunks[0]
    assert not baseline.faithful(Chunk(c.file, c.start, c.end, c.text.upper()))


def test_baseline_returns_the_top_three_chunks(baseline: ChunkBaseline) -> None:
    found = baseline.ask("Is ketamine an opioid?")
    assert len(found) == 3
    assert len({(c.file, c.start) for c in found}) == 3
    assert all(c in baseline.chunks for c in found)


# ------------------------------------------------------------------------------------------- calibration


def _rates(answerable: np.ndarray, oos: np.ndarray, rule: Abstention) -> tuple[float, float]:
    """The rates, counted question by question through `should_answer`, as the service decides."""

    def answers(dense: float, coverage: float) -> bool:
        row = SentenceRow(0, "a", 0, BlockKind.PARAGRAPH, "", 0, 1, "x")
        return rule.should_answer(Retrieval("q", (Candidate(row, 1.0, dense, 0.0, 0.0, coverage),), dense, 0, coverage))

    return (
        sum(answers(d, c) for d, c in answerable) / len(answerable),
        1 - sum(answers(d, c) for d, c in oos) / len(oos),
    )


def test_choose_separates_separable_classes_between_them() -> None:
    # Two answerable questions are close in meaning, two hold every word in a sentence far from them in meaning;
    # out of scope: middling cosines with few of their words, and one that merely shares its words ("where is X").
    answerable = np.array([[0.80, 0.20], [0.75, 0.10], [0.45, 0.90], [0.40, 1.00]])
    out_of_scope = np.array([[0.60, 0.30], [0.55, 0.50], [0.15, 1.00], [0.30, 0.40]])
    choice = choose(answerable, out_of_scope)
    assert (choice.answered_rate, choice.abstained_rate, choice.precision) == (1.0, 1.0, 1.0)
    assert _rates(answerable, out_of_scope, choice.rule) == (1.0, 1.0)
    rule = choice.rule
    assert 0.60 < rule.min_dense <= 0.75
    assert 0.50 < rule.min_coverage <= 0.90
    assert 0.15 < rule.min_dense_with_coverage <= 0.40


def test_choose_keeps_a_margin_on_every_threshold() -> None:
    """ "The middle of the plateau" keeps away from both edges of each gap: a min_dense of 0.61 would answer any
    out-of-scope question one hundredth of a cosine closer than the one seen."""
    answerable = np.array([[0.80, 0.20], [0.75, 0.10], [0.45, 0.90], [0.40, 1.00]])
    out_of_scope = np.array([[0.60, 0.30], [0.55, 0.50], [0.15, 1.00], [0.30, 0.40]])
    rule = choose(answerable, out_of_scope).rule
    assert 0.64 <= rule.min_dense <= 0.71, f"min_dense {rule.min_dense} is at the edge of the gap (0.60, 0.75]"
    assert 0.60 <= rule.min_coverage <= 0.80, f"min_coverage {rule.min_coverage} is at the edge of (0.50, 0.90]"
    assert 0.20 <= rule.min_dense_with_coverage <= 0.35


def test_choose_on_overlapping_classes_balances_the_two_rates() -> None:
    answerable = np.array([[0.5, 0.5], [0.6, 0.6], [0.7, 0.7], [0.3, 0.3]])
    out_of_scope = np.array([[0.2, 0.2], [0.25, 0.1], [0.55, 0.55], [0.1, 0.9]])
    choice = choose(answerable, out_of_scope)
    recall, abstained = _rates(answerable, out_of_scope, choice.rule)
    assert (choice.answered_rate, choice.abstained_rate) == (recall, abstained)
    # The best any monotone rule can do: (0.55, 0.55) out of scope is above (0.5, 0.5) answerable on both signals.
    assert min(recall, abstained) == 0.75
    answered = choice.rule.admits(answerable[:, 0], answerable[:, 1]).sum()
    wrongly = choice.rule.admits(out_of_scope[:, 0], out_of_scope[:, 1]).sum()
    assert choice.precision == pytest.approx(answered / (answered + wrongly))


# ------------------------------------------------------------------------------------------- report


def _report_outcomes() -> tuple[list[Outcome], list[Outcome]]:
    sig = {"top_dense": 0.8, "coverage": 0.9}
    kbot = [
        _outcome("a1", "answerable", "answered", ("Ketamine is not an opioid.",), rank=1, signals=sig),
        _outcome("a2", "answerable", "answered", ("Other.",), rank=None, signals=sig),
        _outcome("o1", "out_of_scope", "no_answer", signals={"top_dense": 0.2, "coverage": 0.1}),
        _outcome("c1", "crisis", "crisis"),
        _outcome("d1", "advice", "declined"),
    ]
    baseline = [
        _outcome("a1", "answerable", "answered", ("chunk",), rank=3, notice=False),
        _outcome("a2", "answerable", "answered", ("chunk",), rank=None, notice=False),
    ]
    return kbot, baseline


def test_report_gate_names_each_missed_threshold(tmp_path: Path) -> None:
    kbot, baseline = _report_outcomes()
    thresholds = {"support_at_1": 0.9, "notice_rate": 1.0, "crisis_recall": 1.0}
    report = Report.build(kbot, baseline, thresholds, RULE, tmp_path)
    assert report.failures == ["support_at_1: measured 0.500, threshold 0.9"]
    assert report.support_ratio == float("inf")  # the baseline never supports at rank 1
    assert report.abstention == {"in_use": {"min_dense": 0.4, "min_coverage": 0.75, "min_dense_with_coverage": 0.3}}


def test_unmet_targets_are_reported_but_fail_nothing(tmp_path: Path) -> None:
    kbot, baseline = _report_outcomes()
    gate = {"support_at_1": 0.4}
    targets = {"support_at_1": 0.9, "notice_rate": 1.0}
    report = Report.build(kbot, baseline, gate, RULE, tmp_path, targets)
    assert report.failures == []
    assert report.unmet_targets == ["support_at_1: measured 0.500, target 0.9"]
    assert "- not reached: support_at_1: measured 0.500, target 0.9" in report.markdown()


def test_report_with_the_gold_thresholds_and_a_baseline(tmp_path: Path) -> None:
    kbot, baseline = _report_outcomes()
    baseline[0] = _outcome("a1", "answerable", "answered", ("chunk",), rank=1, notice=False)
    thresholds = load_thresholds(ROOT / "eval" / "gold.toml").model_dump()
    report = Report.build(kbot, baseline, thresholds, RULE, tmp_path)
    assert report.support_ratio == 1.0
    failed = {f.split(":")[0] for f in report.failures}
    assert failed == {"support_at_1", "support_at_3", "min_support_at_1_ratio_vs_baseline"}
    assert "min_support_at_1_ratio_vs_baseline: measured 1.000, threshold 1.3" in report.failures


def test_report_without_baseline_skips_the_ratio(tmp_path: Path) -> None:
    kbot, _ = _report_outcomes()
    report = Report.build(kbot, [], {"min_support_at_1_ratio_vs_baseline": 1.3}, RULE, tmp_path)
    assert report.failures == []
    assert report.baseline == {}


def test_the_reader_gain_is_reported_beside_kbot_and_gated_only_when_measured(tmp_path: Path) -> None:
    kbot, baseline = _report_outcomes()
    in_retrieval_order = [dataclasses.replace(o, rank=None) if o.id == "a1" else o for o in kbot]
    gate = {"min_reader_gain_support_at_1": 0.6}
    report = Report.build(kbot, baseline, gate, RULE, tmp_path, without_reader=in_retrieval_order)
    assert report.reader_gain == pytest.approx(0.5)  # a1 supported at rank 1 with the reader, not without
    assert report.failures == ["min_reader_gain_support_at_1: measured 0.500, threshold 0.6"]
    markdown = report.markdown()
    assert "| kbot without the reader · answerable | 2 | 0.000 |" in markdown
    assert "support@1 gain of the reader (kbot − kbot without it): **+0.500**" in markdown
    assert Report.build(kbot, baseline, gate, RULE, tmp_path).failures == []  # no reader: nothing to gate


def test_write_report_files(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "abstention.toml").write_text(
        "[thresholds]\nmin_dense = 0.41\nmin_coverage = 0.7\nmin_dense_with_coverage = 0.2\n", encoding="utf-8"
    )
    kbot, baseline = _report_outcomes()
    report = Report.build(kbot, baseline, {"support_at_1": 0.9}, Abstention(0.41, 0.7, 0.2), seeds)
    out = tmp_path / "out"
    write_report(report, out)
    assert sorted(p.name for p in out.iterdir()) == ["report.json", "report.md", "scores.png"]
    assert (out / "scores.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert data["failures"] == ["support_at_1: measured 0.500, threshold 0.9"]
    assert [q["id"] for q in data["questions"]] == ["a1", "a2", "o1", "c1", "d1"]
    assert data["kbot"]["answerable"]["support_at_1"] == 0.5
    assert data["abstention"]["thresholds"] == {"min_dense": 0.41, "min_coverage": 0.7, "min_dense_with_coverage": 0.2}
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "- FAILED support_at_1: measured 0.500, threshold 0.9" in markdown
    assert "| kbot · answerable |" in markdown and "| baseline · answerable |" in markdown
    assert "`a2`" in markdown  # a missed answerable question is listed


def test_markdown_says_when_every_threshold_is_met(tmp_path: Path) -> None:
    kbot, _ = _report_outcomes()
    report = Report.build(kbot, [], {"crisis_recall": 1.0}, RULE, tmp_path)
    assert "All thresholds of the gold set's config are met." in report.markdown()
    assert "## Wrong status\n\nNone." in report.markdown()


def test_report_gives_the_starters_reading_grade_before_and_after(tmp_path: Path) -> None:
    kbot, baseline = _report_outcomes()
    grades = {"before": 14.5, "after": 13.8, "weight": 0.002}
    report = Report.build(kbot, baseline, {}, RULE, tmp_path, None, None, grades)
    text = report.markdown()
    assert "## Readability of the starter questions' answers" in text and "| 14.5 | 13.8 |" in text
    write_report(report, tmp_path / "out")
    assert json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))["readability"] == grades
    assert "Readability" not in Report.build(kbot, baseline, {}, RULE, tmp_path).markdown()
