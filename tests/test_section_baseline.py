"""The section baseline (dense MiniLM over whole sections), the report's side-by-side of several baselines and its
margin gate, the [eval] table of a gold set's .toml, and skipping questions about articles a library lacks."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from kbot.answer import Abstention
from kbot.config import Settings
from kbot.embedding import FakeEmbedder
from kbot.evaluation.baseline import SectionBaseline
from kbot.evaluation.gold import GoldFileError, GoldItem, QualityThresholds, Thresholds, load_config, load_thresholds
from kbot.evaluation.metrics import Outcome
from kbot.evaluation.report import Report
from kbot.evaluation.run import in_library, run_evaluation

ARTICLE = (
    "# Gutter ache\n\n## What is gutter ache?\n\nGutter ache is a pain.\n\nIt comes in spring.\n\n"
    "## Causes\n\n## Outlook\n\nIt passes.\n"
)
SOURCES = '["gutter.md"]\ntitle = "Gutter ache"\npublisher = "Roof Institute"\nurl = "https://example.org/g"\n'


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "gutter.md").write_text(ARTICLE, encoding="utf-8")
    (tmp_path / "sources.toml").write_text(SOURCES, encoding="utf-8")
    return tmp_path


def test_sections_run_from_one_heading_to_the_next_whole_and_faithful(folder: Path) -> None:
    baseline = SectionBaseline(folder, FakeEmbedder())
    texts = [c.text for c in baseline.chunks]
    assert texts == [
        "## What is gutter ache?\n\nGutter ache is a pain.\n\nIt comes in spring.\n\n",
        "## Outlook\n\nIt passes.\n",
    ]  # the title alone and "Causes", with nothing under them, are no sections
    assert all(baseline.faithful(c) for c in baseline.chunks)
    assert baseline.ask("Is gutter ache a pain?")[0].file == "gutter.md"
    assert len(baseline.ask("anything")) == 2


def test_a_text_files_sections_follow_kbots_headings(seeds_dir: Path) -> None:
    baseline = SectionBaseline(seeds_dir, FakeEmbedder())
    first = [c for c in baseline.chunks if c.file == "001_53a5c0841efecae6.txt"]
    assert len(first) > 5
    assert any(c.text.startswith("How is ketamine different from opioids?") for c in first)


def _outcome(qid: str, rank: int | None, status: str = "answered") -> Outcome:
    return Outcome(qid, "answerable", "q", status, ("x",), True, True, 0.01, rank)


def test_the_margin_is_over_the_best_baseline_and_gates_when_set(tmp_path: Path) -> None:
    kbot = [_outcome("a1", 1), _outcome("a2", 1), _outcome("a3", None, "no_answer"), _outcome("a4", 2)]
    chunk = [_outcome("a1", 1), _outcome("a2", None), _outcome("a3", None), _outcome("a4", None)]
    section = [_outcome("a1", 1), _outcome("a2", 1), _outcome("a3", 3), _outcome("a4", None)]
    gate = {"support_at_1": 0.4, "min_support_at_1_margin_vs_best_baseline": 0.05, "answerable_answered": 0.7}
    report = Report.build(
        kbot,
        chunk,
        gate,
        Abstention(0.4, 0.7, 0.3),
        tmp_path,
        others={"section baseline": section},
        skipped=9,
        with_safety=False,
    )
    assert report.support_margin == pytest.approx(0.0)  # kbot 0.5, the section baseline 0.5
    assert report.failures == ["min_support_at_1_margin_vs_best_baseline: measured 0.000, threshold 0.05"]
    markdown = report.markdown()
    assert "| section baseline | 0.500 | 0.750 | 1.000 |" in markdown
    assert "| kbot | 0.500 | 0.750 | 0.750 |" in markdown
    assert "9 questions skipped" in markdown and "## Safety" not in markdown


def test_eval_table_chooses_baselines_and_the_quality_only_gate(tmp_path: Path) -> None:
    path = tmp_path / "set.toml"
    gate = (
        "support_at_1 = 0.5\nsupport_at_3 = 0.6\nfaithfulness = 1.0\nnotice_rate = 1.0\nanswerable_answered = 0.9\n"
        "min_support_at_1_margin_vs_best_baseline = 0.1\n"
    )
    path.write_text('[eval]\nbaselines = ["chunk", "section"]\nsafety = false\n[thresholds]\n' + gate, encoding="utf-8")
    assert load_config(path).baselines == ["chunk", "section"]
    assert isinstance(load_thresholds(path), QualityThresholds)
    path.write_text('[eval]\nbaselines = ["bm25"]\n[thresholds]\n' + gate, encoding="utf-8")
    with pytest.raises(GoldFileError, match=r"\[eval\].*baselines"):
        load_config(path)
    assert load_config(Path(__file__).resolve().parents[1] / "eval" / "gold.toml").baselines == ["chunk"]
    assert isinstance(load_thresholds(Path(__file__).resolve().parents[1] / "eval" / "gold.toml"), Thresholds)


def test_questions_about_articles_the_library_lacks_are_skipped(folder: Path) -> None:
    items = [
        GoldItem(
            id="n1", question="gutter ache symptoms", kind="answerable", evidence=["It passes."], article="gutter"
        ),
        GoldItem(id="n2", question="roof rot causes", kind="answerable", evidence=["Rot."], article="roof"),
        GoldItem(id="n3", question="what is a gutter", kind="out_of_scope"),
    ]
    assert [i.id for i in in_library(items, folder)] == ["n1", "n3"]


def test_no_abstention_answers_what_kbot_would_abstain_on(
    make_settings: Callable[..., Settings], fake_index_dir: Path, tmp_path: Path
) -> None:
    gold = tmp_path / "set.jsonl"
    rows = [
        {"id": "q1", "question": "zebra violin harbour", "kind": "answerable", "evidence": ["Ketamine is"]},
        {"id": "q2", "question": "roof rot causes", "kind": "answerable", "evidence": ["Rot."], "article": "absent"},
    ]
    gold.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    gold.with_suffix(".toml").write_text(
        '[eval]\nbaselines = ["section"]\nsafety = false\n[thresholds]\nsupport_at_1 = 0\nsupport_at_3 = 0\n'
        "faithfulness = 1\nnotice_rate = 1\nanswerable_answered = 1\nmin_support_at_1_margin_vs_best_baseline = -1\n",
        encoding="utf-8",
    )
    settings = make_settings(index_dir=fake_index_dir, model_name=FakeEmbedder.name)
    assert not run_evaluation(settings, gold, tmp_path / "on")  # abstains on nonsense: answered 0 < 1
    assert run_evaluation(settings, gold, tmp_path / "off", abstain=False)
    data = json.loads((tmp_path / "off" / "report.json").read_text(encoding="utf-8"))
    assert data["skipped"] == 1 and data["kbot"]["answerable"]["answered"] == 1.0
    assert data["abstention"]["in_use"]["min_dense"] == -1.0
    assert list(data["baselines"]) == [] and data["baseline"]["answerable"]["questions"] == 1
