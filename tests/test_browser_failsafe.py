"""When the chat can't open or kbot can't answer, a patient still gets a close button and the help lines, in a real
browser (Debian's Chromium driven by Playwright), at desktop and phone sizes:

- the panel blocked by kbot's frame-ancestors (a clinic page on a loopback port not in KBOT_FRAME_ANCESTORS);
- the panel blocked by the clinic page's own Content-Security-Policy (frame-src without kbot);
- kbot stopped before the launcher is tapped;
- kbot stopped during a conversation (an answer, then the server stopped, then a crisis question).

In the first three the widget shows its own small panel (help lines from the script tag, no server needed); in the
last the panel's reply shows the help lines before the error text. kbot runs here with the fake embedder: these tests
are about what happens when kbot is NOT answering. Reuses the browser and helpers of test_browser.py.
"""

from __future__ import annotations

import html
import http.server
import json
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Frame, Page, Route, expect

from kbot.api import create_app
from kbot.config import Settings
from kbot.embedding import FakeEmbedder
from kbot.service import KbotService
from test_browser import (  # noqa: F401  (fixtures are found by name)
    LAUNCHER,
    PANEL,
    PHONE,
    WAIT_MS,
    KbotServer,
    Session,
    assert_accessible,
    browser,
    desktop,
    focused,
    free_port,
    panel_frame,
    phone,
    playwright,
    shot,
)

pytestmark = [pytest.mark.browser, pytest.mark.server]

FALLBACK_WAIT_MS = 20_000  # the widget gives the panel 4 s; generous on a shared CPU, never a pass/fail threshold
QUESTION = "Is ketamine an opioid?"
CRISIS = "I want to end my life"
SIZES = ["desktop", "phone"]
ASTHMA = Path(__file__).resolve().parent / "kbs" / "asthma"


class Site:
    """A clinic's site on its own loopback port: path -> (HTML, extra response headers)."""

    def __init__(self) -> None:
        self.pages: dict[str, tuple[str, dict[str, str]]] = {}
        pages = self.pages

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body, headers = pages.get(self.path.split("?")[0], ("not found", {}))
                self.send_response(200 if body != "not found" else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def add(self, path: str, body: str, **headers: str) -> str:
        self.pages[path] = (body, {k.replace("_", "-"): v for k, v in headers.items()})
        return self.origin + path

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def clinic_page(kbot_url: str, **attributes: str) -> str:
    """A plain clinic page with kbot's one tag; each of ``attributes`` becomes data-kbot-NAME (_ written as -)."""
    extra = "".join(f' data-kbot-{name.replace("_", "-")}="{html.escape(value)}"' for name, value in attributes.items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Riverside Family Clinic</title></head>
<body><main><h1>Riverside Family Clinic</h1><p>Open Monday to Friday, nine to five.</p></main>
<script src="{kbot_url}/widget.js" data-kbot-endpoint="{kbot_url}"
        data-kbot-title="Ask the clinic"{extra} async></script>
</body></html>"""


@pytest.fixture(scope="module")
def listed() -> Iterator[Site]:
    site = Site()
    yield site
    site.stop()


@pytest.fixture(scope="module")
def unlisted() -> Iterator[Site]:
    site = Site()
    yield site
    site.stop()


@pytest.fixture(scope="module")
def failsafe_settings(make_settings: Callable[..., Settings], fake_index_dir: Path, listed: Site) -> Settings:
    return make_settings(
        index_dir=fake_index_dir,
        model_name=FakeEmbedder.name,
        frame_ancestors=[listed.origin],
        knowledge_bases={"asthma": ASTHMA},  # a second knowledge base the widget can name (its panel is all it needs)
    )


@pytest.fixture
def kbot(failsafe_settings: Settings, fake_service: KbotService) -> Iterator[KbotServer]:
    """A kbot of its own for each test, which the test may stop."""
    server = KbotServer(create_app(failsafe_settings, service=fake_service), free_port())
    server.start()
    yield server
    server.stop()  # a second stop is harmless


@pytest.fixture(params=SIZES)
def session(request: pytest.FixtureRequest) -> Session:
    size: Session = request.getfixturevalue(request.param)
    return size


@pytest.fixture
def on_desktop(request: pytest.FixtureRequest) -> Session:
    size: Session = request.getfixturevalue("desktop")
    return size


def size_of(page: Page) -> str:
    return "phone" if page.viewport_size == PHONE else "desktop"


# --- what every failure must still give ---------------------------------------------------------------------------


def expect_fallback(page: Page, reason: str = "timeout") -> None:
    """The widget's own panel: visible, with a visible close button and the help lines (988 first), no iframe shown."""
    panel = page.locator(PANEL)
    expect(panel).to_have_attribute("data-state", "fallback", timeout=FALLBACK_WAIT_MS)
    expect(page.get_by_role("dialog", name="Ask the clinic")).to_be_visible()  # a labelled dialog
    fallback = panel.locator(".fallback")
    expect(fallback).to_be_visible()
    expect(fallback).to_have_attribute("data-reason", reason)
    expect(fallback.locator(".help-line")).to_have_count(3)
    expect(fallback.locator(".help-name").first).to_have_text("988 Suicide & Crisis Lifeline")
    expect(fallback.locator('a[href="tel:988"]')).to_be_in_viewport()
    expect(fallback.locator('a[href="sms:988"]')).to_be_visible()
    expect(fallback.locator('a[href="tel:911"]')).to_be_visible()
    expect(panel.locator("button.close")).to_be_in_viewport()
    expect(panel.locator("button.close")).to_have_accessible_name("Close chat")
    expect(page.locator("kbot-widget iframe")).to_be_hidden()
    expect(page.locator("kbot-widget [role=status]")).to_have_text(re.compile("can't open"))


def expect_escape_and_close_work(page: Page) -> None:
    """Escape closes and gives focus back to the launcher; opened again the help lines are there at once, and the
    visible close button closes too."""
    panel, launcher = page.locator(PANEL), page.locator(LAUNCHER)
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(launcher).to_have_attribute("aria-expanded", "false")
    assert focused(page) == "widget:launcher", "focus returns to the launcher"
    launcher.click()
    expect(panel.locator(".fallback")).to_be_visible(timeout=1_000)  # at once, while it tries again behind them
    panel.locator("button.close").click()
    expect(panel).to_be_hidden()
    assert focused(page) == "widget:launcher"


def open_launcher(page: Page, url: str) -> None:
    page.goto(url)
    page.locator(LAUNCHER).click()
    expect(page.locator(PANEL)).to_be_visible()
    assert focused(page) == "widget:close", "focus is on the widget's own close button until the panel is ready"


# --- the panel blocked --------------------------------------------------------------------------------------------


def test_blocked_by_kbots_frame_ancestors(session: Session, kbot: KbotServer, unlisted: Site) -> None:
    page = session.page()
    contact = unlisted.origin + "/contact"
    url = unlisted.add("/", clinic_page(kbot.url, contact=contact))
    open_launcher(page, url)
    expect_fallback(page)
    assert any(urlsplit(u).path == "/panel" for u in session.requests), "the panel was asked for, and refused"
    link = page.locator(PANEL).get_by_role("link", name="Contact the clinic")
    expect(link).to_have_attribute("href", contact)
    assert_accessible(page, "the widget's own panel when the chat is blocked")
    shot(page, f"{size_of(page)}-widget-blocked")
    expect_escape_and_close_work(page)


def test_blocked_by_the_clinic_pages_own_csp(session: Session, kbot: KbotServer, listed: Site) -> None:
    page = session.page()
    policy = f"default-src 'self'; script-src 'self' {kbot.url}; style-src 'self'; frame-src 'self'"
    url = listed.add("/strict", clinic_page(kbot.url), Content_Security_Policy=policy)
    page.goto(url)
    page.evaluate(
        """() => { window.__blocked = [];
            document.addEventListener('securitypolicyviolation', e => window.__blocked.push(e.effectiveDirective)); }"""
    )
    page.locator(LAUNCHER).click()
    expect_fallback(page)
    assert "frame-src" in page.evaluate("() => window.__blocked"), "the page's CSP, not kbot, blocked the panel"
    expect(page.locator(PANEL).get_by_role("link", name="Contact the clinic")).to_have_count(0)  # none configured
    expect_escape_and_close_work(page)


# --- kbot stopped -------------------------------------------------------------------------------------------------


def test_kbot_stopped_before_the_launcher_is_tapped(session: Session, kbot: KbotServer, listed: Site) -> None:
    page = session.page()
    page.goto(listed.add("/", clinic_page(kbot.url)))
    expect(page.locator(LAUNCHER)).to_be_visible()
    kbot.stop()
    page.locator(LAUNCHER).click()
    expect_fallback(page)
    shot(page, f"{size_of(page)}-widget-kbot-down")
    expect_escape_and_close_work(page)


def send(frame: Frame | Page, question: str) -> None:
    frame.locator("#kbot-input").fill(question)
    frame.locator("#kbot-input").press("Enter")


def expect_help_lines_before_the_error(target: Frame | Page, settings: Settings) -> None:
    """The failed turn: the help lines first and in view (988 one tap away), then what went wrong."""
    error = target.locator(".kbot-error").last
    expect(error).to_be_visible(timeout=WAIT_MS)
    expect(error.locator(".kbot-help-line")).to_have_count(len(settings.help_lines))
    expect(error.locator('a[href="tel:988"]')).to_be_in_viewport()
    expect(error.locator('a[href="sms:988"]')).to_be_visible()
    expect(error.locator(".kbot-error-text")).to_contain_text("can't be reached")
    assert error.evaluate("e => [...e.children].map(c => c.className)") == ["kbot-danger", "kbot-error-box"]
    expect(target.locator(".kbot-announcer")).to_contain_text("988")


def test_kbot_stopped_during_a_conversation_in_the_widget(
    session: Session, kbot: KbotServer, listed: Site, failsafe_settings: Settings
) -> None:
    page = session.page()
    page.goto(listed.add("/", clinic_page(kbot.url)))
    page.locator(LAUNCHER).click()
    frame = panel_frame(page)
    with page.expect_request("**/v1/ask") as asked:
        send(frame, QUESTION)
    expect(frame.locator(".kbot-reply")).to_have_count(1, timeout=WAIT_MS)
    expect(frame.locator(".kbot-reply")).to_have_attribute("data-status", "answered")
    assert asked.value.post_data_json == {"question": QUESTION}, "no kb unless the tag names one"

    kbot.stop()
    send(frame, CRISIS)
    expect_help_lines_before_the_error(frame, failsafe_settings)
    expect(frame.locator(".kbot-reply")).to_have_count(1)
    shot(page, f"{size_of(page)}-widget-kbot-stopped-mid-conversation")

    page.keyboard.press("Escape")  # focus is in the panel's question box: the panel asks the widget to close
    expect(page.locator(PANEL)).to_be_hidden()
    assert focused(page) == "widget:launcher"
    page.locator(LAUNCHER).click()
    frame = panel_frame(page)
    close = frame.locator("[data-kbot-close]")
    expect(close).to_be_in_viewport()
    close.click()
    expect(page.locator(PANEL)).to_be_hidden()
    assert focused(page) == "widget:launcher"


def test_kbot_stopped_during_a_conversation_on_the_chat_page(
    session: Session, kbot: KbotServer, failsafe_settings: Settings
) -> None:
    page = session.page()
    page.goto(kbot.url + "/")
    send(page, QUESTION)
    expect(page.locator(".kbot-reply")).to_have_attribute("data-status", "answered", timeout=WAIT_MS)
    kbot.stop()
    send(page, CRISIS)
    expect_help_lines_before_the_error(page, failsafe_settings)
    assert_accessible(page, "the chat page with help lines before the error")
    shot(page, f"{size_of(page)}-chat-page-kbot-stopped")


# --- the panel's own report, and the tag's configuration ----------------------------------------------------------


def test_a_panel_that_fails_to_start_says_so_and_the_widget_shows_the_help_lines(
    on_desktop: Session, kbot: KbotServer, listed: Site
) -> None:
    page = on_desktop.page()

    def broken_chat_js(route: Route) -> None:  # chat.js that throws where it would say "ready"
        body = route.fetch().text()
        assert 'toHost("ready");' in body
        route.fulfill(body=body.replace('toHost("ready");', 'throw new Error("kbot test: the panel cannot start");'))

    page.route(re.compile(r"/static/chat\.js$"), broken_chat_js)
    open_launcher(page, listed.add("/", clinic_page(kbot.url)))
    expect_fallback(page, reason="error")  # reported by the panel, not the widget's timeout


def test_help_lines_and_contact_from_the_tag_are_checked_and_shown_as_text(
    on_desktop: Session, kbot: KbotServer, unlisted: Site
) -> None:
    lines = [
        {"name": "Samaritans <b>UK</b>", "action": "Call free on 116 123", "phone": "116 123"},
        {"name": "Clinic line", "action": "Call the front desk", "phone": "javascript:alert(1)", "sms": "0800 FLOWERS"},
        "not a line",
        {"name": "", "action": ""},
    ]
    page = on_desktop.page()
    warnings: list[str] = []
    page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
    tag = clinic_page(kbot.url, help_lines=json.dumps(lines), contact="javascript:alert(1)")
    open_launcher(page, unlisted.add("/uk", tag))
    panel = page.locator(PANEL)
    expect(panel).to_have_attribute("data-state", "fallback", timeout=FALLBACK_WAIT_MS)
    expect(panel.locator(".help-name")).to_have_text(["Samaritans <b>UK</b>", "Clinic line"])
    assert panel.locator(".fallback b").count() == 0, "names are text, never markup"
    hrefs = panel.locator(".fallback a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert hrefs == ["tel:116123"], "links only from numbers written with digits; no javascript: contact link"
    assert any("data-kbot-contact" in w for w in warnings)
    assert on_desktop.dialogs == []

    page = on_desktop.page()
    open_launcher(page, unlisted.add("/typo", clinic_page(kbot.url, help_lines="[{name: 'no quotes'}]")))
    expect_fallback(page)  # an unreadable list falls back to the default lines: never a panel without any


def test_the_tag_names_the_knowledge_base_the_panel_asks(on_desktop: Session, kbot: KbotServer, listed: Site) -> None:
    page = on_desktop.page()
    bodies: list[Any] = []

    def capture(route: Route) -> None:  # kbot's side of "kb" is not this test's: see the body, then fail the call
        bodies.append(route.request.post_data_json)
        route.abort()

    page.route("**/v1/ask", capture)
    page.goto(listed.add("/kb", clinic_page(kbot.url, kb="asthma")))
    with page.expect_request(re.compile(r"/panel\?")) as opened:
        page.locator(LAUNCHER).click()
    assert parse_qs(urlsplit(opened.value.url).query)["kb"] == ["asthma"]
    frame = panel_frame(page)
    send(frame, QUESTION)
    expect(frame.locator(".kbot-error")).to_be_visible(timeout=WAIT_MS)
    assert bodies == [{"question": QUESTION, "kb": "asthma"}]

    page = on_desktop.page()
    page.goto(listed.add("/bad-kb", clinic_page(kbot.url, kb="../secrets")))
    with page.expect_request(re.compile(r"/panel\?")) as opened:
        page.locator(LAUNCHER).click()
    assert "kb" not in parse_qs(urlsplit(opened.value.url).query), "a malformed name is never passed on"
