"""CI keeps the NIH knowledge base's quality from regressing: the small library (tests/kbs/nih-small, 160 MedQuAD
articles) is ingested with the real model once, and `kbot eval`'s own code path measures the dev gold set on it, kbot
beside both baselines, with the gate of eval/nih/dev.toml."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from kbot.config import Settings
from kbot.embedding import Embedder
from kbot.evaluation.calibrate import calibrate_loaded
from kbot.evaluation.gold import load_gold
from kbot.evaluation.run import in_library, run_evaluation
from kbot.folder import CALIBRATION_FILE
from kbot.index import build_index
from kbot.reader import reader_id
from kbot.service import KbotService

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "tests" / "kbs" / "nih-small"
DEV = ROOT / "eval" / "nih" / "dev.jsonl"


@pytest.fixture(scope="module")
def nih_settings(
    make_settings: Callable[..., Settings], tmp_path_factory: pytest.TempPathFactory, real_embedder: Embedder
) -> Settings:
    index_dir = tmp_path_factory.mktemp("nih-index")
    settings = make_settings(index_dir=index_dir, knowledge_bases={"nih": SMALL}, reader=True)  # as kbot serves it
    build_index(SMALL, index_dir / "nih", real_embedder, reader=reader_id(settings))
    return settings


@pytest.mark.model
def test_kbot_eval_measures_the_dev_set_on_the_small_library(
    nih_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    passed = run_evaluation(nih_settings, DEV, tmp_path, kb="nih")
    data = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    kept = in_library(load_gold(DEV), SMALL)
    held = sum(item.kind == "answerable" for item in kept)
    assert held > 100 and data["skipped"] == len(load_gold(DEV)) - len(kept)
    assert data["kbot"]["answerable"]["questions"] == held
    assert data["kbot"]["out_of_scope"]["questions"] == len(kept) - held >= 60  # no article: every library asks them
    assert set(data["baselines"]) == {"section baseline"} and data["baseline"]["answerable"]["questions"] == held
    best = max(
        data["baseline"]["answerable"]["support_at_1"],
        data["baselines"]["section baseline"]["answerable"]["support_at_1"],
    )
    assert data["support_at_1_margin"] == pytest.approx(data["kbot"]["answerable"]["support_at_1"] - best)
    assert data["kbot"]["overall"]["faithfulness"] == 1.0
    assert data["specialties"] is None  # the safety set is not this set's business
    assert data["without_reader"]["answerable"]["questions"] == held  # the reader's gain, measured beside it
    assert data["reader_gain"] == pytest.approx(
        data["kbot"]["answerable"]["support_at_1"] - data["without_reader"]["answerable"]["support_at_1"]
    )
    assert passed and data["failures"] == [], data["failures"]  # the gate of eval/nih/dev.toml
    assert "| section baseline |" in capsys.readouterr().out


@pytest.mark.model
def test_the_library_calibrated_on_itself_answers_and_declines_nine_in_ten_of_dev(
    nih_settings: Settings, real_embedder: Embedder, tmp_path: Path
) -> None:
    """Issue 13's abstention that fits each library: `kbot calibrate` without a labelled set, on a copy of the small
    library without its abstention.toml, then dev's answerable questions and its off-topic ones (eval/off_topic.txt,
    never calibrated on)."""
    folder = Path(shutil.copytree(SMALL, tmp_path / "nih"))
    (folder / CALIBRATION_FILE).unlink()
    settings = nih_settings.model_copy(update={"knowledge_bases": {"nih": folder}})
    choice = calibrate_loaded(KbotService.load(settings, real_embedder, only=["nih"]), "nih")
    assert (folder / CALIBRATION_FILE).is_file()
    run_evaluation(settings, DEV, tmp_path / "report", with_baseline=False, kb="nih")
    data = json.loads((tmp_path / "report" / "report.json").read_text(encoding="utf-8"))
    assert data["kbot"]["out_of_scope"]["questions"] >= 60
    assert data["safety"]["answerable_answered"] >= 0.90, choice
    assert data["safety"]["out_of_scope_abstained"] >= 0.90, choice


@pytest.mark.model
def test_a_batch_answers_each_question_as_it_would_alone(nih_settings: Settings, real_embedder: Embedder) -> None:
    """ask_batch searches the FAISS indexes once for all its questions (``KbotService.propose``) and reads their
    closeness to the library's questions in one product (``guidance.closeness_to_questions``): every answer is the one
    the question gets alone, on a library large enough that FAISS proposes its candidates."""
    service = KbotService.load(nih_settings, real_embedder, only=["nih"])
    base = service.kb("nih")
    quotable = sum(row.quotable for row in base.index.sentences)
    assert quotable > base.retriever.exact_up_to  # FAISS proposes the candidates: not every sentence is scored
    asked = [item.question for item in in_library(load_gold(DEV), SMALL)][:24]
    together = service.ask_batch(asked, ["nih"] * len(asked))
    alone = [service.ask(question, "nih") for question in asked]
    assert sum(answer.status.value == "answered" for answer in alone) >= 12
    for one, other in zip(together, alone, strict=True):
        assert (one.status, one.text) == (other.status, other.text)
        spans = [[(q.source_id, q.start, q.end) for q in answer.quotes] for answer in (one, other)]
        assert spans[0] == spans[1]
        # the encoder pads a batch's questions to the longest: in bfloat16 that moves a question's vector, and so its
        # scores, a little (the reader reads each question's pairs apart)
        assert [q.score for q in one.quotes] == pytest.approx([q.score for q in other.quotes], abs=1e-2)
        assert (one.follow_ups, one.glossary) == (other.follow_ups, other.glossary)  # one product for the batch's
