"""Links into the article: the text fragment's encoding and shape (WICG URL Fragment Text Directives), and the
answer object's `link` through the API (fake model, no browser)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient

from kbot.api import create_app
from kbot.config import Settings
from kbot.embedding import FakeEmbedder
from kbot.index import build_index
from kbot.knowledge_base import DEFAULT_KB
from kbot.service import KbotService
from kbot.text_fragment import article_link, encode_term, page_words, text_directive

ASTHMA = Path(__file__).resolve().parent / "kbs" / "asthma"
LONG = (
    "No, ketamine is not an opioid. It primarily acts on NMDA receptors and has a unique mechanism of action "
    "involving the mTOR pathway."
)


def _terms(link: str) -> list[str]:
    """The decoded textStart (and textEnd) of a link's text directive."""
    directive = link.split(":~:text=", 1)[1]
    return [unquote(term) for term in directive.split(",")]


def _matches(link: str, page_text: str) -> bool:
    """What a browser does, simplified: textStart found, then textEnd after it, in the page's collapsed text."""
    text = " ".join(page_text.split())
    terms = _terms(link)
    start = text.find(terms[0])
    if start < 0:
        return False
    return len(terms) == 1 or text.find(terms[-1], start + len(terms[0])) >= 0


@pytest.mark.parametrize(
    ("term", "encoded"),
    [
        ("a-b", "a%2Db"),  # '-' marks a prefix or suffix: always encoded
        ("one, two", "one%2C%20two"),  # ',' separates textStart from textEnd
        ("salt & pepper", "salt%20%26%20pepper"),  # '&' separates directives
        ("50%", "50%25"),
        ("café", "caf%C3%A9"),
        ("“quoted” #1", "%E2%80%9Cquoted%E2%80%9D%20%231"),
        ("snake_case.v2~x", "snake_case.v2~x"),  # unreserved characters stay as they are
    ],
)
def test_a_term_is_percent_encoded_with_the_directive_syntax_characters(term: str, encoded: str) -> None:
    assert encode_term(term) == encoded
    assert unquote(encoded) == term


def test_a_short_quote_is_its_own_text_start() -> None:
    assert text_directive("Most side effects are mild.") == "text=Most%20side%20effects%20are%20mild."


def test_a_long_quote_is_named_by_its_first_and_last_words() -> None:
    assert text_directive(LONG) == "text=No%2C%20ketamine%20is%20not%20an,action%20involving%20the%20mTOR%20pathway."


def test_line_breaks_and_runs_of_spaces_become_one_space() -> None:
    assert text_directive("A reliever\n  inhaler\topens airways.") == "text=A%20reliever%20inhaler%20opens%20airways."


def test_inline_markdown_is_dropped_as_the_page_does_not_show_it() -> None:
    words = page_words("Use a **spacer** with `MDI` inhalers, see [the guide](https://x.example/g) or _this_.")
    assert words == ["Use", "a", "spacer", "with", "MDI", "inhalers,", "see", "the", "guide", "or", "this."]
    assert page_words("keep snake_case and 2*3") == ["keep", "snake_case", "and", "2*3"]


def test_the_link_is_the_url_with_the_directive() -> None:
    link = article_link("https://asthma.example/inhalers", LONG)
    assert link.startswith("https://asthma.example/inhalers#:~:text=No%2C%20")
    assert _terms(link) == ["No, ketamine is not an", "action involving the mTOR pathway."]
    assert _matches(link, "Intro.\n\n" + LONG.replace(". It", ".\nIt") + "\n\nMore.")


def test_a_url_with_a_fragment_keeps_it_and_an_old_directive_is_replaced() -> None:
    assert article_link("https://a.example/p#dosing", "Take it.") == "https://a.example/p#dosing:~:text=Take%20it."
    assert article_link("https://a.example/p#:~:text=old", "New.") == "https://a.example/p#:~:text=New."


def test_query_strings_are_kept_as_they_are() -> None:
    assert (
        article_link("https://a.example/p?id=3&x=y", "Rest well.")
        == "https://a.example/p?id=3&x=y#:~:text=Rest%20well."
    )


@pytest.mark.parametrize("url", ["", "javascript:alert(1)", "data:text/html,hi", "ftp://a.example/x", "//a.example"])
def test_only_http_and_https_urls_get_a_link(url: str) -> None:
    assert article_link(url, "Some words.") == ""


def test_a_quote_without_words_links_to_the_page_itself() -> None:
    assert article_link("https://a.example/p", "  ** ") == "https://a.example/p"


# --------------------------------------------------------------------------------------------------- the API field


@pytest.fixture
def asthma_client(make_settings: Callable[..., Settings], fake_index_dir: Path, tmp_path: Path) -> TestClient:
    """The asthma test knowledge base: inhalers.md has a URL in sources.toml, triggers.md has none."""
    folder = Path(shutil.copytree(ASTHMA, tmp_path / "asthma"))
    index_root = tmp_path / "index"
    shutil.copytree(fake_index_dir / DEFAULT_KB, index_root / DEFAULT_KB, symlinks=True)
    build_index(folder, index_root / "asthma", FakeEmbedder())
    settings = make_settings(index_dir=index_root, knowledge_bases={"asthma": folder}, model_name=FakeEmbedder.name)
    service = KbotService.load(settings, embedder=FakeEmbedder())
    return TestClient(create_app(settings, service))


def _quotes(client: TestClient, question: str) -> list[dict[str, object]]:
    response = client.post("/v1/ask", json={"question": question, "kb": "asthma"})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "answered", body["status"]
    quotes: list[dict[str, object]] = body["quotes"]
    return quotes


def test_a_quote_from_a_source_with_a_url_links_into_its_page(asthma_client: TestClient) -> None:
    with asthma_client as client:
        quotes = _quotes(client, "What does a reliever inhaler do for the airways?")
    linked = [q for q in quotes if q["source_file"] == "inhalers.md"]
    assert linked, "the inhaler question quotes inhalers.md"
    article = (ASTHMA / "inhalers.md").read_text(encoding="utf-8")
    for quote in linked:
        link = str(quote["link"])
        assert link.startswith("https://asthma.example/inhalers#:~:text=")
        assert _matches(link, article)


def test_a_quote_from_a_source_without_a_url_has_no_link(asthma_client: TestClient) -> None:
    with asthma_client as client:
        quotes = _quotes(client, "What are common asthma triggers like pollen and smoke?")
    unlinked = [q for q in quotes if q["source_file"] == "triggers.md"]
    assert unlinked, "the triggers question quotes triggers.md"
    assert all(q["link"] == "" for q in unlinked)
