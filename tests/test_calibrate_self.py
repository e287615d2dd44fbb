"""`kbot calibrate` without a labelled set: questions made from the knowledge base's own headings (held out from
their section), kbot's off-topic list less what the library covers, and `kbot ingest` calibrating a knowledge base
that has no abstention.toml yet."""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from kbot.config import Settings
from kbot.embedding import Embedder
from kbot.evaluation.calibrate import (
    STRUCTURAL_HEADINGS,
    calibrate_loaded,
    evidence_of,
    kb_questions,
    measure,
    off_topic_questions,
)
from kbot.evaluation.gold import GoldFileError
from kbot.folder import CALIBRATION_FILE
from kbot.index import build_index
from kbot.service import KbotService
from test_cli import kbot_command

ROOT = Path(__file__).resolve().parents[1]


def one_article(folder: Path, title: str, text: str) -> Path:
    folder.mkdir()
    (folder / "a.md").write_text(text, encoding="utf-8")
    entry = f'["a.md"]\ntitle = "{title}"\npublisher = "A clinic"\nurl = ""\nupdated = ""\nkind = "editorial"\n'
    (folder / "sources.toml").write_text(entry, encoding="utf-8")
    return folder


def test_questions_are_the_sections_headings_each_held_out_from_its_own_section(real_service: KbotService) -> None:
    index = real_service.kb().index
    probes = kb_questions(index)
    sections = {(r.source_id, r.section) for r in index.sentences if r.quotable}
    assert len(probes) > 30
    assert all(p.section in sections for p in probes)
    assert not [p for p in probes if p.question.casefold() in STRUCTURAL_HEADINGS]  # "Conclusion" asks nothing
    assert "Is ketamine safe for depression?" in {p.question for p in probes}  # an FAQ question as it is written
    assert kb_questions(index) == probes  # seeded: the same library gives the same questions
    few = kb_questions(index, limit=5)
    assert len(few) == 5 and set(few) <= set(probes)


def test_a_held_out_heading_is_not_matched_to_itself(real_service: KbotService) -> None:
    """A question made from a heading scores no higher once its own heading is out of reach (often lower: the heading
    said what the sentences under it leave implicit), and is scored as retrieve() scores it when nothing is held out."""
    base = real_service.kb()
    probes = kb_questions(base.index)
    queries, encoded = real_service.encode_questions([p.question for p in probes], base)
    seen, held = [], []
    for probe, query, vector in zip(probes, queries, encoded, strict=True):
        found = base.retriever.retrieve(query, vector)
        seen.append(evidence_of(base.retriever, query, vector, None))
        assert seen[-1] == pytest.approx((found.top_dense, found.coverage))
        held.append(evidence_of(base.retriever, query, vector, probe.section))
    assert all(h[0] <= s[0] + 1e-6 for h, s in zip(held, seen, strict=True))
    lower = [p.question for p, h, s in zip(probes, held, seen, strict=True) if h[0] < s[0] - 0.02]
    assert len(lower) >= len(probes) // 4, lower
    measured = measure(real_service, [probes[0], probes[0].question])
    assert measured.shape == (2, 2)
    # In bfloat16 (KBOT_BF16) a question encodes a little differently in a batch of another length (padding): 1e-4.
    assert list(measured[0]) == pytest.approx(held[0], abs=1e-3)
    assert list(measured[1]) == pytest.approx(seen[0], abs=1e-3)


def test_off_topic_questions_drop_those_the_library_has_an_article_on(
    real_service: KbotService, make_settings: Callable[..., Settings], real_embedder: Embedder, tmp_path: Path
) -> None:
    base = real_service.kb()
    kept = off_topic_questions(base.retriever, base.index)
    assert len(kept) >= 150
    assert all(not {"ketamine", "opioid"} & set(q.lower().split()) for q in kept)
    # A library with an article titled with a word of the first question no longer counts it as off topic
    first = kept[0]
    word = max(base.retriever.words(first), key=len)
    folder = one_article(tmp_path / "kb", f"All about {word}", f"# All about {word}\n\nThis article says a little.\n")
    build_index(folder, tmp_path / "index" / "other", real_embedder)
    settings = make_settings(index_dir=tmp_path / "index", knowledge_bases={"other": folder})
    other = KbotService.load(settings, real_embedder, only=["other"]).kb("other")
    assert first not in off_topic_questions(other.retriever, other.index)
    assert len(off_topic_questions(other.retriever, other.index)) >= len(kept) - 10


def test_self_calibration_writes_thresholds_that_separate_the_two_kinds(
    real_service: KbotService, make_settings: Callable[..., Settings], real_index_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "seeds"
    shutil.copytree(real_service.kb().folder, folder)
    (folder / CALIBRATION_FILE).unlink()
    settings = make_settings(index_dir=real_index_dir, seeds_dir=folder)
    service = KbotService.load(settings, real_service.embedder, only=["default"])
    choice = calibrate_loaded(service, "default")
    written = tomllib.loads((folder / CALIBRATION_FILE).read_text(encoding="utf-8"))
    assert written["thresholds"] == {
        "min_dense": choice.rule.min_dense,
        "min_coverage": choice.rule.min_coverage,
        "min_dense_with_coverage": choice.rule.min_dense_with_coverage,
    }
    assert "own headings" in written["calibration"]["set"] and written["calibration"]["answerable"] > 30
    assert choice.answered_rate >= 0.8 and choice.abstained_rate >= 0.9, choice
    # kbot loads what it wrote: the thresholds in use are the chosen ones
    assert KbotService.load(settings, real_service.embedder, only=["default"]).kb().abstention == choice.rule


def test_a_library_without_headings_says_to_write_a_labelled_set(
    make_settings: Callable[..., Settings], real_embedder: Embedder, tmp_path: Path
) -> None:
    folder = one_article(tmp_path / "kb", "Plain", "Plain text without a heading. It says two things.\n")
    build_index(folder, tmp_path / "index" / "plain", real_embedder)
    settings = make_settings(index_dir=tmp_path / "index", knowledge_bases={"plain": folder})
    service = KbotService.load(settings, real_embedder, only=["plain"])
    with pytest.raises(GoldFileError, match="labelled set"):
        calibrate_loaded(service, "plain")
    assert not (folder / CALIBRATION_FILE).exists()


def test_ingest_calibrates_a_knowledge_base_that_has_no_thresholds_yet(tmp_path: Path) -> None:
    folder = tmp_path / "articles"
    shutil.copytree(ROOT / "seeds", folder)
    (folder / CALIBRATION_FILE).unlink()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KBOT_")}
    env |= {"HF_HUB_OFFLINE": "1", "KBOT_INDEX_DIR": str(tmp_path / "index"), "KBOT_SEEDS_DIR": str(folder)}

    def ingest(*args: str) -> subprocess.CompletedProcess[str]:
        command = [*kbot_command(), "ingest", *args]
        return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)

    first = ingest()
    assert first.returncode == 0, first.stderr
    assert f"no {CALIBRATION_FILE} yet" in first.stdout and "Chose min_dense=" in first.stdout
    written = (folder / CALIBRATION_FILE).read_text(encoding="utf-8")
    assert "own headings" in tomllib.loads(written)["calibration"]["set"]
    again = ingest("--if-needed")  # thresholds that exist are the curator's: never overwritten
    assert again.returncode == 0 and "Chose" not in again.stdout, again.stdout
    assert (folder / CALIBRATION_FILE).read_text(encoding="utf-8") == written
