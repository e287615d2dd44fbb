"""The real `kbot` console script run as a subprocess, with the index in a tmp folder.

Each run that loads the real model (marked ``model``) takes ~10 s, so the index is built once for the module and
those runs are kept few.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kbot.catalog import load_catalog
from kbot.config import Settings
from kbot.corpus import read_document

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
QUESTION = "Is ketamine an opioid?"
NOTICE = Settings.model_fields["notice"].default
STATUS_COLUMN = re.compile(r"^\s*\d+\s+\w+\s+(KEPT|DROPPED)\b", re.MULTILINE)


def kbot_command() -> list[str]:
    script = Path(sys.executable).with_name("kbot")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "kbot.cli"]


def run(index_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KBOT_")}
    env.update(HF_HUB_OFFLINE="1", KBOT_INDEX_DIR=str(index_dir), KBOT_SEEDS_DIR=str(SEEDS))
    return subprocess.run(
        [*kbot_command(), *args], cwd=index_dir.parent, env=env, capture_output=True, text=True, timeout=300
    )


def assert_friendly_failure(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode != 0
    assert result.stderr.startswith("kbot: ") or "\nkbot: " in result.stderr, result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.fixture(scope="module")
def missing_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli-empty") / "index"


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    index_dir = tmp_path_factory.mktemp("cli") / "index"
    return index_dir, run(index_dir, "ingest")


@pytest.fixture(scope="module")
def index_dir(ingested: tuple[Path, subprocess.CompletedProcess[str]]) -> Path:
    folder, result = ingested
    assert result.returncode == 0, result.stderr
    return folder


# --------------------------------------------------------------------------------------------- ingest


@pytest.mark.model
def test_ask_without_an_index_says_to_run_kbot_ingest(missing_index: Path) -> None:
    result = run(missing_index, "ask", QUESTION)
    assert_friendly_failure(result)
    assert result.returncode == 2
    assert "kbot ingest" in result.stderr
    assert result.stdout == ""


@pytest.mark.model
def test_ingest_builds_the_index_and_prints_its_counts(
    ingested: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    folder, result = ingested
    assert result.returncode == 0, result.stderr
    manifest = json.loads((folder / "default" / "current" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["counts"]["documents"] == len(load_catalog(SEEDS))
    for name, count in manifest["counts"].items():
        assert f"{count} {name.replace('_', ' ')}" in result.stdout
    assert str(folder / "default" / "current") in result.stdout


@pytest.mark.model
def test_ingest_if_needed_leaves_a_fresh_index_alone(index_dir: Path) -> None:
    before = {p: p.stat().st_mtime_ns for p in index_dir.rglob("*")}
    result = run(index_dir, "ingest", "--if-needed")
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout
    assert "built the index" not in result.stdout
    assert {p: p.stat().st_mtime_ns for p in index_dir.rglob("*")} == before


# --------------------------------------------------------------------------------------------- ask


@pytest.mark.model
def test_ask_prints_cited_quotes_and_ends_with_the_notice(index_dir: Path) -> None:
    result = run(index_dir, "ask", QUESTION)
    assert result.returncode == 0, result.stderr
    out = result.stdout.rstrip("\n")
    assert out.endswith(NOTICE)
    assert re.match(r"“[^”]*not (?:an|classified as an) opioid[^”]*” \[1\]", out, re.IGNORECASE), out
    assert "\nSources:\n[1] " in out


@pytest.mark.model
def test_ask_json_prints_the_answer_contract(index_dir: Path) -> None:
    result = run(index_dir, "ask", "--json", QUESTION)
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert {"status", "question", "quotes", "sources", "notice", "text"} <= body.keys()
    assert body["status"] == "answered"
    assert body["question"] == QUESTION
    assert body["text"].endswith(body["notice"]) and body["notice"] == NOTICE
    cited = {s["citation"]: s["id"] for s in body["sources"]}
    assert sorted(cited) == list(range(1, len(cited) + 1))
    assert body["quotes"]
    for quote in body["quotes"]:
        assert {"text", "source_id", "source_file", "start", "end", "score", "citation"} <= quote.keys()
        assert cited[quote["citation"]] == quote["source_id"]
        raw = (SEEDS / quote["source_file"]).read_bytes().decode("utf-8")
        assert raw[quote["start"] : quote["end"]] == quote["text"]


@pytest.mark.parametrize("question", ["", "   "])
def test_ask_an_empty_question_fails_with_a_clear_message(missing_index: Path, question: str) -> None:
    result = run(missing_index, "ask", question)
    assert_friendly_failure(result)
    assert "question is empty" in result.stderr  # about the question, not the missing index


# --------------------------------------------------------------------------------------------- sources


def test_sources_lists_every_article(tmp_path: Path) -> None:
    result = run(tmp_path / "index", "sources")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    catalog = load_catalog(SEEDS)
    assert len(catalog) == 5
    assert len(lines) == len(catalog)
    for line, meta in zip(lines, catalog, strict=True):
        assert line.startswith(f"{meta.id}  {meta.publisher}: “{meta.title}”")


def test_a_file_kbot_cannot_read_is_named_with_what_to_do(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "a.txt").write_text("A title\n\nSome prose about ketamine.\n", encoding="utf-8")
    (seeds / "sources.toml").write_text('["a.txt"]\ntitle = "A title"\npublisher = "P"\n', encoding="utf-8")
    (seeds / "page.html").write_text("<p>Ketamine is a dissociative anesthetic.</p>", encoding="utf-8")
    (seeds / "notes.pdf").write_bytes(b"%PDF-1.7")
    result = run(tmp_path / "index", "sources", "--seeds", str(seeds))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("a  P: “A title”")
    assert "Skipped page.html: kbot reads articles from .txt and .md files only" in result.stderr
    assert f"run kbot import {seeds / 'page.html'} to turn it into a Markdown article" in result.stderr
    assert "Skipped notes.pdf: kbot reads articles from .txt and .md files only" in result.stderr
    assert "save the article's text as notes.txt" in result.stderr


def test_sources_show_marks_each_block_kept_or_dropped(tmp_path: Path) -> None:
    meta = next(m for m in load_catalog(SEEDS) if not all(b.kept for b in read_document(SEEDS, m).blocks))
    document = read_document(SEEDS, meta)
    result = run(tmp_path / "index", "sources", "--show", meta.id)
    assert result.returncode == 0, result.stderr
    statuses = STATUS_COLUMN.findall(result.stdout)
    assert statuses.count("KEPT") == len(document.kept_blocks)
    assert statuses.count("DROPPED") == len(document.blocks) - len(document.kept_blocks) > 0


def test_sources_show_names_why_a_sentence_is_withheld(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    ad = "Call 555-0199 now and use code FREE50."
    (seeds / "a.txt").write_text(f"A title\n\nSpacers help. {ad} Rinse them weekly.\n", encoding="utf-8")
    (seeds / "sources.toml").write_text('["a.txt"]\ntitle = "A title"\npublisher = "P"\n', encoding="utf-8")
    listed = run(tmp_path / "index", "sources", "--seeds", str(seeds))
    assert "1 withheld: do_not_quote or advertising" in listed.stdout, listed.stderr
    shown = run(tmp_path / "index", "sources", "--seeds", str(seeds), "--show", "a")
    assert re.search(r"WITHHELD\(phone_number\)\s+" + re.escape(ad), shown.stdout), shown.stdout


def test_sources_show_an_unknown_id_says_how_to_list_them(tmp_path: Path) -> None:
    result = run(tmp_path / "index", "sources", "--show", "no-such-source")
    assert_friendly_failure(result)
    assert "kbot sources" in result.stderr
