"""seeds/sources.toml: every way it can disagree with seeds/ is reported with what to do; the real one loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from kbot.catalog import load_catalog
from kbot.errors import CatalogError
from kbot.folder import unread_files

SEEDS = Path(__file__).resolve().parents[1] / "seeds"

GOOD = '["a.txt"]\ntitle = "A title"\npublisher = "A Publisher"\n'


def make_seeds(folder: Path, toml: str | None, files: tuple[str, ...] = ("a.txt",)) -> Path:
    folder.mkdir(exist_ok=True)
    for name in files:
        (folder / name).write_text("A title\n\nSome prose about ketamine.\n", encoding="utf-8")
    if toml is not None:
        (folder / "sources.toml").write_text(toml, encoding="utf-8")
    return folder


BAD = [
    pytest.param(None, ("a.txt",), "sources.toml is missing", id="no-sources-toml"),
    pytest.param('["a.txt"]\ntitle = "A"\npublisher = "B\n', ("a.txt",), "line 3", id="toml-syntax-error"),
    pytest.param(GOOD, ("a.txt", "b.md"), "b.md is in", id="file-without-entry"),
    pytest.param(
        GOOD + '["gone.txt"]\ntitle = "T"\npublisher = "P"\n', ("a.txt",), "does not exist", id="entry-no-file"
    ),
    pytest.param('["a.txt"]\npublisher = "P"\n', ("a.txt",), "has no title", id="missing-title"),
    pytest.param('["a.txt"]\ntitle = "T"\npublisher = "  "\n', ("a.txt",), "empty publisher", id="empty-publisher"),
    pytest.param('["a.txt"]\ntitle = "T"\n', ("a.txt",), "has no publisher", id="missing-publisher"),
    pytest.param(GOOD + 'kind = "blog"\n', ("a.txt",), "unknown kind 'blog'", id="unknown-kind"),
    pytest.param(GOOD + 'updated = "22/08/2024"\n', ("a.txt",), "not a date", id="updated-not-iso"),
    pytest.param(GOOD + 'updated = "2024-02-30"\n', ("a.txt",), "not a date", id="updated-impossible-date"),
    pytest.param(GOOD + "title2 = 1\n", ("a.txt",), "unknown field 'title2'", id="unknown-field"),
    pytest.param(GOOD + '["a.pdf"]\ntitle = "T"\npublisher = "P"\n', ("a.txt",), ".txt or .md", id="unsupported-file"),
    pytest.param(GOOD + '["a.md"]\ntitle = "T"\npublisher = "P"\n', ("a.txt", "a.md"), "share the id", id="same-stem"),
    pytest.param('["a.txt"]\ntitle = 3\npublisher = "P"\n', ("a.txt",), "not text", id="title-not-text"),
    pytest.param(GOOD + 'do_not_quote = "prose"\n', ("a.txt",), "do_not_quote that is not a list", id="dnq-not-list"),
    pytest.param(GOOD + 'do_not_quote = [""]\n', ("a.txt",), "item 1 = ''", id="dnq-empty-string"),
    pytest.param(GOOD + 'do_not_quote = ["prose", " "]\n', ("a.txt",), "item 2 = ' '", id="dnq-blank-string"),
    pytest.param(GOOD + "do_not_quote = [3]\n", ("a.txt",), "item 1 = 3", id="dnq-not-text"),
    pytest.param(
        GOOD + 'do_not_quote = ["about ketamine", "about opioids"]\n',
        ("a.txt",),
        "fragment 'about opioids', which is not in the article's text",
        id="dnq-fragment-not-in-text",
    ),
]


def refusal(seeds: Path) -> CatalogError:
    """The error that loading ``seeds`` raises."""
    with pytest.raises(CatalogError) as caught:
        load_catalog(seeds)
    return caught.value


@pytest.mark.parametrize(("toml", "files", "says"), BAD)
def test_each_catalog_problem_is_named_with_a_fix(
    tmp_path: Path, toml: str | None, files: tuple[str, ...], says: str
) -> None:
    error = refusal(make_seeds(tmp_path / "seeds", toml, files))
    assert says in error.message
    assert error.fix  # every error says what to do


def test_missing_seeds_folder(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="does not exist"):
        load_catalog(tmp_path / "nowhere")


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    toml = '["a.txt"]\ntitle = ""\npublisher = "P"\nkind = "ad"\n'
    message = refusal(make_seeds(tmp_path / "seeds", toml, ("a.txt", "b.txt"))).message
    assert "3 problems" in message
    assert "empty title" in message and "unknown kind 'ad'" in message and "b.txt is in" in message


def test_a_valid_catalog_with_defaults_and_markdown(tmp_path: Path) -> None:
    toml = (
        '["b.md"]\ntitle = " Second "\npublisher = "P2"\nupdated = 2024-08-22\n'
        '["a.txt"]\ntitle = "First"\npublisher = "P1"\nkind = "clinic_marketing"\nurl = "https://example.org/a"\n'
    )
    metas = load_catalog(make_seeds(tmp_path / "seeds", toml, ("a.txt", "b.md", "notes.pdf")))
    assert [(m.id, m.file) for m in metas] == [("a", "a.txt"), ("b", "b.md")]  # sorted by file name
    a, b = metas
    assert (a.kind, a.url, a.updated) == ("clinic_marketing", "https://example.org/a", "")
    assert (b.title, b.kind, b.updated) == ("Second", "editorial", "2024-08-22")  # an unquoted TOML date is accepted


def test_files_that_are_no_article_are_named_for_ingest_to_report(tmp_path: Path) -> None:
    files = ("a.txt", "b.md", "page.html", "notes.pdf", "abstention.toml", "safety.toml", ".DS_Store")
    seeds = make_seeds(tmp_path / "seeds", GOOD, files)
    assert unread_files(seeds) == ["notes.pdf", "page.html"]
    assert unread_files(tmp_path / "missing") == []
    assert unread_files(SEEDS) == []


def test_real_seeds_load_with_their_publishers() -> None:
    metas = load_catalog(SEEDS)
    assert [m.id for m in metas] == [
        "000_d554ee0bf36446b0",
        "001_53a5c0841efecae6",
        "002_3332649120f57457",
        "003_89a2fa04ad3b341e",
        "004_5aeca17a0480db8f",
    ]
    assert [(m.publisher, m.kind) for m in metas] == [
        ("Lab Manager", "editorial"),
        ("Pacific Mind Health", "clinic_marketing"),
        ("Ketamine Clinics of Los Angeles", "clinic_marketing"),
        ("The Recovery Village Indianapolis", "clinic_marketing"),
        ("Neuro Wellness Spa", "clinic_marketing"),
    ]
    assert [m.updated for m in metas] == ["", "", "", "2024-08-22", ""]
    assert metas[2].title == "Is Ketamine Involved with Opioid Receptors?"


def test_do_not_quote_fragments_are_kept_exactly(tmp_path: Path) -> None:
    toml = GOOD + 'do_not_quote = ["prose about", " ketamine."]\n'
    (meta,) = load_catalog(make_seeds(tmp_path / "seeds", toml))
    assert meta.do_not_quote == ("prose about", " ketamine.")  # not stripped: they are matched as written
    (plain,) = load_catalog(make_seeds(tmp_path / "plain", GOOD))
    assert plain.do_not_quote == ()


def test_a_missing_fragment_is_reported_with_the_other_problems(tmp_path: Path) -> None:
    toml = '["a.txt"]\ntitle = "T"\npublisher = "P"\nkind = "ad"\ndo_not_quote = ["Some  prose"]\n'
    message = refusal(make_seeds(tmp_path / "seeds", toml, ("a.txt", "b.txt"))).message
    assert "3 problems" in message
    assert "unknown kind 'ad'" in message and "b.txt is in" in message
    assert "entry [\"a.txt\"] has do_not_quote fragment 'Some  prose'" in message  # the entry and the fragment
    assert "copy it exactly from a.txt" in message  # and what to do


def test_fragments_are_matched_against_the_text_as_the_corpus_reads_it(tmp_path: Path) -> None:
    """Newlines are not translated when an article is read, so a fragment across a CRLF line end must hold the \\r."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "a.txt").write_bytes(b"A title\r\nSome prose.\r\nMore prose.\r\n")
    (seeds / "sources.toml").write_text(GOOD + 'do_not_quote = ["prose.\\r\\nMore"]\n', encoding="utf-8")
    assert load_catalog(seeds)[0].do_not_quote == ("prose.\r\nMore",)
    (seeds / "sources.toml").write_text(GOOD + 'do_not_quote = ["prose.\\nMore"]\n', encoding="utf-8")
    with pytest.raises(CatalogError, match="not in the article's text"):
        load_catalog(seeds)
