"""A curator's do_not_quote list, end to end: a withheld sentence is never quoted or suggested by the service, a fresh
index keeps what is withheld, `kbot ingest --if-needed` rebuilds when sources.toml changes, and `kbot sources` shows it.

Each test works on a copy of seeds/ whose sources.toml withholds sentences of 004 ("Is Ketamine an Opiate?"), indexed
with the fake embedder.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kbot.catalog import load_catalog
from kbot.cli import app
from kbot.config import Settings
from kbot.embedding import FakeEmbedder
from kbot.folder import read_source_text
from kbot.index import build_index, load_index
from kbot.service import KbotService, suggestions

NEURO = "004_5aeca17a0480db8f.txt"
STANFORD = "as is the case with other opioids"  # implies that ketamine is an opioid, when quoted alone
SENTENCE = (
    "Pursuant to the Stanford study, some experts have expressed concern regarding the possibility of patients "
    "becoming dependent on ketamine or addicted to it, as is the case with other opioids."
)
HEADING = "Is Ketamine Addictive?"
QUESTION = "can patients become dependent on ketamine or addicted to it?"


def copy_seeds(folder: Path, *fragments: str) -> Path:
    """seeds/ copied to ``folder`` with no do_not_quote (the project's own seeds withhold STANFORD), then 004's
    entry withholding ``fragments``."""
    seeds = Path(shutil.copytree(Path(__file__).resolve().parents[1] / "seeds", folder))
    catalog = seeds / "sources.toml"
    lines = catalog.read_text(encoding="utf-8").splitlines(keepends=True)
    text = "".join(line for line in lines if not line.startswith("do_not_quote"))
    if fragments:
        listed = ", ".join(f'"{f}"' for f in fragments)
        entry = f'["{NEURO}"]\n'
        assert text.count(entry) == 1
        text = text.replace(entry, f"{entry}do_not_quote = [{listed}]\n")
    catalog.write_text(text, encoding="utf-8")
    return seeds


def spans_of(text: str, fragment: str) -> list[tuple[int, int]]:
    found, at = [], text.find(fragment)
    while at >= 0:
        found.append((at, at + len(fragment)))
        at = text.find(fragment, at + 1)
    return found


def _service(
    folder: Path, make_settings: Callable[..., Settings], embedder: FakeEmbedder, *fragments: str
) -> KbotService:
    seeds = copy_seeds(folder / "seeds", *fragments)
    build_index(seeds, folder / "index" / "default", embedder)
    # A lower cosine bar than the fake embedder's default, so that the question is answered from other sentences
    # once its best one is withheld: what is under test is which sentences may be quoted, not abstention.
    settings = make_settings(
        seeds_dir=seeds, index_dir=folder / "index", model_name=FakeEmbedder.name, min_dense_score=0.40
    )
    return KbotService.load(settings, embedder=embedder)


@pytest.fixture(scope="module")
def plain_service(
    tmp_path_factory: pytest.TempPathFactory, make_settings: Callable[..., Settings], fake_embedder: FakeEmbedder
) -> KbotService:
    """The same articles with nothing withheld, to show what the do_not_quote list changes."""
    return _service(tmp_path_factory.mktemp("plain"), make_settings, fake_embedder)


@pytest.fixture(scope="module")
def withheld_service(
    tmp_path_factory: pytest.TempPathFactory, make_settings: Callable[..., Settings], fake_embedder: FakeEmbedder
) -> KbotService:
    return _service(tmp_path_factory.mktemp("withheld"), make_settings, fake_embedder, STANFORD, HEADING)


def test_a_withheld_sentence_is_never_quoted(plain_service: KbotService, withheld_service: KbotService) -> None:
    before = plain_service.ask(QUESTION)
    assert before.quotes and STANFORD in before.quotes[0].text  # unwithheld, it is the first quote
    after = withheld_service.ask(QUESTION)
    assert after.status == "answered" and after.quotes  # the question is still answered, from other sentences
    text = withheld_service.kb().index.documents["004_5aeca17a0480db8f"].text
    (held,) = spans_of(text, STANFORD)
    for quote in after.quotes:
        assert STANFORD not in quote.text
        assert quote.source_file != NEURO or quote.end <= held[0] or quote.start >= held[1]
        doc = withheld_service.kb().index.documents[quote.source_id]
        assert doc.text[quote.start : quote.end] == quote.text


def test_a_withheld_question_is_never_suggested(plain_service: KbotService, withheld_service: KbotService) -> None:
    vector = FakeEmbedder().embed([HEADING])[0]
    assert HEADING.lower() in [s.lower() for s in suggestions(plain_service.kb(), vector)]  # (in sentence case)
    suggested = suggestions(withheld_service.kb(), vector)
    assert suggested and HEADING.lower() not in [s.lower() for s in suggested]


def test_a_fresh_index_keeps_what_is_withheld(withheld_service: KbotService) -> None:
    settings = withheld_service.settings
    index = load_index(settings.index_dir / "default", settings.seeds_dir, FakeEmbedder.name)
    catalog = {m.id: m for m in load_catalog(settings.seeds_dir)}
    assert {k: d.meta for k, d in index.documents.items()} == catalog  # do_not_quote comes back as a tuple
    assert [r.text for r in index.sentences if r.withheld] == [HEADING, SENTENCE]
    assert index.manifest["counts"]["quotable_sentences"] == sum(r.quotable for r in index.sentences)


# ------------------------------------------------------------------------------------------------------------ CLI


def kbot(*args: str) -> str:
    result = CliRunner().invoke(
        app, list(args), env={"KBOT_MODEL_NAME": FakeEmbedder.name, "KBOT_READER": "false", "HF_HUB_OFFLINE": "1"}
    )
    assert result.exit_code == 0, result.output
    return result.stdout


def test_ingest_if_needed_rebuilds_after_sources_toml_changes(tmp_path: Path) -> None:
    seeds, index_dir = copy_seeds(tmp_path / "seeds"), tmp_path / "index"
    where = ("--seeds", str(seeds), "--index", str(index_dir))
    assert "built the index" in kbot("ingest", *where)
    assert "is up to date" in kbot("ingest", "--if-needed", *where)
    (seeds / "sources.toml").write_text(
        (seeds / "sources.toml")
        .read_text(encoding="utf-8")
        .replace(f'["{NEURO}"]\n', f'["{NEURO}"]\ndo_not_quote = ["{STANFORD}"]\n'),
        encoding="utf-8",
    )
    rebuilt = kbot("ingest", "--if-needed", *where)
    assert "sources.toml changed" in rebuilt and "built the index" in rebuilt
    index = load_index(index_dir / "default", seeds, FakeEmbedder.name)
    assert [STANFORD in r.text for r in index.sentences if r.withheld] == [True]


def test_sources_shows_the_curator_what_is_withheld(tmp_path: Path) -> None:
    seeds = copy_seeds(tmp_path / "seeds", STANFORD)
    listing = kbot("sources", "--seeds", str(seeds)).splitlines()
    assert [line.endswith(", 1 withheld: do_not_quote or advertising)") for line in listing] == [False] * 4 + [True]
    shown = kbot("sources", "--show", NEURO, "--seeds", str(seeds))
    text = read_source_text(seeds / NEURO)
    line = text.count("\n", 0, text.index(SENTENCE)) + 1
    assert "\nWithheld by do_not_quote in sources.toml or as advertising (never quoted): 1 sentence\n" in shown
    assert shown.rstrip().endswith(f"{line:>5}  paragraph     {'WITHHELD(do_not_quote)':<28}  {SENTENCE}")


@pytest.mark.model
def test_the_projects_own_withheld_sentence_is_not_quoted(real_service: KbotService) -> None:
    """seeds/sources.toml withholds it: it was the real model's first quote for "is ketamine addictive"."""
    answer = real_service.ask("is ketamine addictive")
    assert answer.status == "answered" and answer.quotes
    assert all(STANFORD not in q.text for q in answer.quotes)
    assert [r.text for r in real_service.kb().index.sentences if r.withheld] == [SENTENCE]
