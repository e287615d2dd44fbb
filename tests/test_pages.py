"""The web pages and widget files through TestClient: what each page contains, its headers (CSP above all), the
panel's parameters, and the static files. The behaviour in a browser is tested in test_browser.py."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kbot.api import create_app
from kbot.api.pages import (
    MAX_STARTERS,
    clean_starters,
    content_security_policy,
    http_url,
    parse_colour,
    parse_origin,
    valid_frame_ancestors,
)
from kbot.config import HelpLine, Settings
from kbot.domain import SourceMeta
from kbot.embedding import FakeEmbedder
from kbot.errors import IndexMissing
from kbot.profile import Profile, load_profile
from kbot.service import KbotService

ROOT = Path(__file__).resolve().parents[1]
CLINIC = "https://clinic.example"
PAGES = ["/", "/panel", "/demo"]
SEEDS = Path(__file__).resolve().parents[1] / "seeds"
DEFAULT_STARTERS = load_profile(SEEDS).starters  # the knowledge base's own, from seeds/kb.toml


@pytest.fixture(scope="module")
def settings(make_settings: Callable[..., Settings], fake_index_dir: Path) -> Settings:
    return make_settings(index_dir=fake_index_dir, model_name=FakeEmbedder.name, frame_ancestors=[CLINIC])


@pytest.fixture(scope="module")
def client(settings: Settings, fake_service: KbotService) -> Iterator[TestClient]:
    with TestClient(create_app(settings, fake_service)) as c:
        yield c


class Page(HTMLParser):
    """The parts of a page these tests look at: every tag with its attributes, and each script's inline text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.script_text: list[str] = []
        self._in_script = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        self._in_script = tag == "script"
        if self._in_script:
            self.script_text.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.script_text[-1] += data

    def find(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        return [a for t, a in self.tags if t == tag and all(a.get(k.replace("_", "-")) == v for k, v in attrs.items())]

    def chat(self) -> dict[str, str]:
        (root,) = [a for t, a in self.tags if a.get("id") == "kbot-chat"]
        return root

    def starters(self) -> list[str]:
        return [a["data-question"] for a in self.find("button") if "data-question" in a]


def csp(response: Any) -> dict[str, str]:
    directives = [d.strip().split(" ", 1) for d in response.headers["content-security-policy"].split(";")]
    return {d[0]: d[1] if len(d) > 1 else "" for d in directives}


# --- the chat page ------------------------------------------------------------------------------------------------


def test_chat_page_lists_every_source_and_the_notice(client: TestClient, fake_service: KbotService) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = Page(response.text)
    about = response.text[response.text.index("About these sources") :]
    for meta in fake_service.kb().sources():
        assert meta.title in about
        assert meta.publisher in about
    assert fake_service.settings.notice in response.text
    assert page.chat()["data-mode"] == "page"
    assert page.starters() == list(DEFAULT_STARTERS)
    box = page.find("textarea", id="kbot-input")[0]  # a growing textarea that counts down, never cuts silently
    assert box["data-max-chars"] == str(fake_service.settings.max_question_chars) and "maxlength" not in box
    assert response.text.count(fake_service.settings.notice) == 1, "the notice once per view: the chat's footer"
    assert page.find("label", **{"for": "kbot-input"})


def test_chat_page_links_the_help_lines(client: TestClient, settings: Settings) -> None:
    links = {a["href"] for a in Page(client.get("/").text).find("a") if a.get("href", "").startswith("tel:")}
    assert links == {"tel:" + "".join(c for c in line.phone if c.isdigit()) for line in settings.help_lines}


@dataclass
class CatalogOnly:
    """A service with just a catalogue, for pages that only list sources (asking is never reached here)."""

    metas: Sequence[SourceMeta]
    settings: Settings
    profile: Profile = field(default_factory=Profile)

    def kb(self, name: str = "default") -> CatalogOnly:  # a knowledge base of its own
        return self

    def sources(self) -> list[SourceMeta]:
        return list(self.metas)

    def refresh(self) -> list[str]:
        return []

    def ask_batch(self, questions: Sequence[str], kbs: Sequence[str]) -> list[Any]:
        raise AssertionError("the page tests never ask")


def test_chat_page_escapes_source_metadata_and_links_only_http(settings: Settings) -> None:
    metas = [
        SourceMeta("a", "a.txt", "<script>alert(1)</script>", "Pub <b>one</b>", url="javascript:alert(1)"),
        SourceMeta("b", "b.txt", "Plain title", "Pub two", url="https://example.org/b", updated="2024-08-22"),
    ]
    with TestClient(create_app(settings, CatalogOnly(metas, settings))) as c:  # type: ignore[arg-type]
        html = c.get("/").text
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Pub &lt;b&gt;one&lt;/b&gt;" in html
    hrefs = [a.get("href", "") for a in Page(html).find("a")]
    assert "javascript:alert(1)" not in hrefs
    assert "https://example.org/b" in hrefs
    assert '<time datetime="2024-08-22">' in html


def test_chat_page_while_the_index_is_missing_still_renders(settings: Settings) -> None:
    def missing(_: Settings) -> KbotService:
        raise IndexMissing("no index", fix="kbot index")

    with TestClient(create_app(settings, loader=missing)) as c:
        response = c.get("/")
    assert response.status_code == 200
    assert "once kbot has finished starting" in response.text


# --- headers and scripts ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_pages_allow_only_kbots_own_scripts(client: TestClient, path: str) -> None:
    response = client.get(path)
    policy = csp(response)
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["connect-src"] == "'self'"
    assert "unsafe" not in response.headers["content-security-policy"]
    page = Page(response.text)
    scripts = page.find("script")
    assert scripts, "every page runs kbot's JavaScript"
    assert all(s.get("src") for s in scripts)
    assert all(not text.strip() for text in page.script_text), "no inline scripts: the CSP would block them"
    assert not [a for _, a in page.tags if any(k.startswith("on") for k in a)], "no inline event handlers"
    assert not [a for _, a in page.tags if "style" in a], "no inline styles: the CSP would block them"


@pytest.mark.parametrize(
    ("path", "ancestors"), [("/", ["'self'"]), ("/demo", ["'self'"]), ("/panel", ["'self'", CLINIC])]
)
def test_only_listed_sites_may_frame_a_page(client: TestClient, path: str, ancestors: list[str]) -> None:
    assert csp(client.get(path))["frame-ancestors"].split() == ancestors


def test_frame_ancestors_cannot_inject_a_directive() -> None:
    policy = content_security_policy(["https://ok.example", "https://x.example; script-src *", "https://*.ok.example"])
    assert "script-src *" not in policy
    assert policy.endswith("frame-ancestors 'self' https://ok.example https://*.ok.example")


@pytest.mark.parametrize(
    ("entry", "kept"),
    [
        ("https://clinic.example", True),
        ("https://clinic.example:8443/", True),
        ("https://*.clinic.example", True),
        ("http://127.0.0.1:8765", True),
        ("'self'", True),
        ("https://a.example https://b.example", False),
        ("https://a.example;", False),
        ("*", False),
        ("'unsafe-inline'", False),
    ],
)
def test_valid_frame_ancestors(entry: str, kept: bool) -> None:
    assert bool(valid_frame_ancestors([entry])) is kept


# --- the panel's parameters ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        (CLINIC, CLINIC),
        ("https://Clinic.Example:8443/", "https://clinic.example:8443"),
        ("http://127.0.0.1:8001", "http://127.0.0.1:8001"),
        ("https://clinic.example/page", ""),
        ("javascript:alert(1)", ""),
        ("null", ""),
        ('https://a.example" onload="alert(1)', ""),
        ("", ""),
    ],
)
def test_panel_talks_only_to_a_well_formed_host_origin(client: TestClient, host: str, expected: str) -> None:
    page = Page(client.get("/panel", params={"host": host}).text)
    assert page.chat()["data-host"] == expected
    assert parse_origin(host) == expected


def test_panel_shows_the_title_and_starters_it_is_given_as_text(client: TestClient) -> None:
    title = "<img src=x onerror=alert(1)> Ask us"
    starters = ["First?", "<script>alert(2)</script>", "Third?", "Fourth?", "Fifth?"]
    response = client.get("/panel", params={"host": CLINIC, "title": title, "q": starters})
    page = Page(response.text)
    assert "<img src=x" not in response.text
    assert "&lt;img src=x onerror=alert(1)&gt; Ask us</h1>" in response.text
    assert page.starters() == starters[:MAX_STARTERS]
    assert not page.find("img")
    assert page.chat()["data-mode"] == "panel"


def test_panel_without_parameters_uses_the_defaults(client: TestClient) -> None:
    page = Page(client.get("/panel").text)
    assert page.starters() == list(DEFAULT_STARTERS)
    assert page.chat()["data-host"] == ""
    assert page.find("button", **{"data-kbot-close": ""})


@pytest.mark.parametrize(
    ("colour", "expected"),
    [("#0b5fad", "#0b5fad"), ("#FFF", "#FFF"), ("red", ""), ("#12345", ""), ("#0b5fad;x", ""), ("", "")],
)
def test_panel_accepts_only_hex_colours(client: TestClient, colour: str, expected: str) -> None:
    assert Page(client.get("/panel", params={"color": colour}).text).chat()["data-colour"] == expected
    assert parse_colour(colour) == expected


@pytest.mark.parametrize("path", ["/", "/panel"])
def test_chat_carries_the_help_lines_for_when_the_api_fails(client: TestClient, settings: Settings, path: str) -> None:
    """chat.js shows these before the error text when no answer comes, so they must be in the page itself."""
    lines = json.loads(Page(client.get(path).text).chat()["data-help-lines"])
    assert lines == [line.model_dump(exclude={"topics"}) for line in settings.help_lines]
    assert any(line["phone"] == "988" for line in lines)


@pytest.mark.parametrize("path", ["/", "/panel"])
def test_a_knowledge_bases_own_help_lines_are_the_ones_shown_when_the_api_fails(settings: Settings, path: str) -> None:
    own = [HelpLine(name="Samaritans", action="Call Samaritans free on 116 123", phone="116 123")]
    service = CatalogOnly([], settings, Profile(help_lines=own))
    with TestClient(create_app(settings, service)) as c:  # type: ignore[arg-type]
        lines = json.loads(Page(c.get(path).text).chat()["data-help-lines"])
    assert lines == [line.model_dump(exclude={"topics"}) for line in own]


def test_help_lines_in_the_page_are_escaped(make_settings: Callable[..., Settings], fake_index_dir: Path) -> None:
    evil = [{"name": "<script>alert(1)</script>", "action": "Call 'now' & \"then\"", "phone": "1", "sms": ""}]
    settings = make_settings(index_dir=fake_index_dir, model_name=FakeEmbedder.name, help_lines=evil)
    with TestClient(create_app(settings, CatalogOnly([], settings))) as c:  # type: ignore[arg-type]
        html = c.get("/panel").text
    assert "<script>alert(1)</script>" not in html
    assert json.loads(Page(html).chat()["data-help-lines"]) == evil


def test_clean_starters_squeezes_space_and_drops_blanks() -> None:
    assert clean_starters(["  Is   ketamine\nan opioid? ", " ", "x" * 500]) == ["Is ketamine an opioid?", "x" * 200]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.org/a", "https://example.org/a"),
        ("http://example.org", "http://example.org"),
        ("javascript:alert(1)", ""),
        ("JavaScript:alert(1)", ""),
        ("data:text/html,<b>", ""),
        ("//example.org", ""),
        ("", ""),
    ],
)
def test_http_url(url: str, expected: str) -> None:
    assert http_url(url) == expected


# --- the demo page and the files ----------------------------------------------------------------------------------


def test_demo_embeds_the_widget_with_one_tag_as_the_readme_says(client: TestClient) -> None:
    page = Page(client.get("/demo").text)
    (tag,) = page.find("script")
    assert tag["src"] == "http://testserver/widget.js"
    assert tag["data-kbot-endpoint"] == "http://testserver"
    assert tag["data-kbot-title"]
    assert "async" in tag


@pytest.mark.parametrize("path", PAGES)
def test_every_file_a_page_loads_is_served(client: TestClient, path: str) -> None:
    page = Page(client.get(path).text)
    urls = [s["src"] for s in page.find("script")] + [link["href"] for link in page.find("link", rel="stylesheet")]
    assert urls
    for url in urls:
        response = client.get(url.removeprefix("http://testserver"))
        assert response.status_code == 200, url
        kind = "text/javascript" if url.endswith(".js") else "text/css"
        assert response.headers["content-type"].startswith(kind)
        assert response.headers["x-content-type-options"] == "nosniff"


def test_every_widget_attribute_is_documented_in_the_readme_and_the_scripts_header(settings: Settings) -> None:
    widget = (settings.web_dir / "static" / "widget.js").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    names = re.findall(r"data\.kbot(\w+)", widget)  # dataset.kbotHelpLines reads data-kbot-help-lines
    read = {"data-kbot-" + re.sub(r"[A-Z]", lambda m: "-" + m[0].lower(), name).lstrip("-") for name in names}
    assert {"data-kbot-help-lines", "data-kbot-contact", "data-kbot-kb"} <= read
    header = widget[: widget.index("*/")]
    for attribute in read:
        assert f"| `{attribute}` |" in readme, f"{attribute} is not in the README's table of attributes"
        assert attribute in header, f"{attribute} is not in widget.js's header"


def test_the_readmes_help_lines_example_is_valid_json() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (example,) = re.findall(r"data-kbot-help-lines='([^']*)'", readme)
    lines = json.loads(example)
    assert lines and all(line["name"] and line["action"] and line["phone"] for line in lines)


def test_widget_script_may_be_loaded_by_other_sites(client: TestClient, settings: Settings) -> None:
    response = client.get("/widget.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["cross-origin-resource-policy"] == "cross-origin"
    assert response.text == (settings.web_dir / "static" / "widget.js").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "path",
    [
        "/static/../templates/chat.html",
        "/static/%2e%2e/templates/chat.html",
        "/static/..%2f..%2fpyproject.toml",
        "/static/%2e%2e/%2e%2e/src/kbot/config.py",
        "/static/missing.js",
        "/static/",
        "/static/chat.js.map",
        "/static/a%00.js",  # a NUL byte: the file system refuses the name with an error
        "/static/widget.js%00.png",
        "/static/" + "a" * 5000 + ".js",  # longer than any name the file system takes
        "/static/" + "/".join(["abc"] * 60) + ".js",
    ],
)
def test_static_serves_nothing_outside_web_static(
    client: TestClient, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kbot")
    response = client.get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert "Traceback" not in caplog.text and "unhandled" not in caplog.text


def test_static_answers_head_like_get(client: TestClient) -> None:
    for path in ("/widget.js", "/static/chat.js"):
        head, get = client.head(path), client.get(path)
        assert head.status_code == 200, path
        assert head.headers["content-type"] == get.headers["content-type"]
        assert head.content == b""
