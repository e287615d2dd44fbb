"""The widget, the panel and the chat page in a real browser: Debian's Chromium driven by Playwright, against kbot
(the real model and index) served by uvicorn on 127.0.0.1, embedded in a sample clinic page served from a SECOND origin
so the panel is a genuinely cross-origin iframe.

Needs /usr/bin/chromium (scripts/install-browser). Screenshots go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import http.server
import re
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Frame, Page, Playwright, expect, sync_playwright

from kbot.api import create_app
from kbot.config import Settings
from kbot.service import KbotService

pytestmark = [pytest.mark.browser, pytest.mark.server]

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
WAIT_MS = 60_000  # the real model on a shared CPU: generous, and never a pass/fail threshold
WCAG_22_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}}
QUESTION = "Is ketamine an opioid?"
CRISIS = "I want to kill myself"
XSS = "<img src=x onerror=alert(1)>"
LAUNCHER = "kbot-widget button.launcher"
PANEL = "kbot-widget .panel"


# --- servers ------------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class KbotServer:
    """kbot's app under uvicorn in a background thread on 127.0.0.1; can be stopped and started again."""

    def __init__(self, app: Any, port: int) -> None:
        self.app, self.port = app, port
        self.url = f"http://127.0.0.1:{port}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 60
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"kbot did not start on {self.url}")
            time.sleep(0.05)

    def stop(self) -> None:
        assert self._server is not None and self._thread is not None
        self._server.should_exit = True
        self._thread.join(timeout=30)


class HostPages:
    """The sample clinic's site: a second origin serving pages (path -> HTML) that embed kbot's widget."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages.get(self.path.split("?")[0])
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write((body or "not found").encode())

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self._httpd.server_address[1])
        self.origin = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture(scope="module")
def host() -> Iterator[HostPages]:
    pages = HostPages()
    yield pages
    pages.stop()


@pytest.fixture(scope="module")
def kbot_settings(make_settings: Callable[..., Settings], real_index_dir: Path, host: HostPages) -> Settings:
    return make_settings(index_dir=real_index_dir, frame_ancestors=[host.origin], cors_origins=[host.origin])


@pytest.fixture(scope="module")
def kbot(kbot_settings: Settings, real_service: KbotService, host: HostPages) -> Iterator[KbotServer]:
    server = KbotServer(create_app(kbot_settings, service=real_service), free_port())
    server.start()
    with urllib.request.urlopen(server.url + "/demo") as response:  # the demo page, exactly as kbot serves it
        host.pages["/"] = response.read().decode()
    yield server
    server.stop()


# --- the browser --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: run scripts/install-browser (never `playwright install`)")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
    yield browser
    browser.close()


@dataclass
class Session:
    """A browser context that records every request and every dialog, and blocks anything not on loopback."""

    context: BrowserContext
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def page(self) -> Page:
        page = self.context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        return page

    def hosts(self) -> set[str]:
        return {urlsplit(u).hostname or "" for u in self.requests}


def open_session(browser: Browser, **options: Any) -> Session:
    context = browser.new_context(**options)
    session = Session(context)
    context.on("request", lambda r: session.requests.append(r.url))

    def only_loopback(route: Any) -> None:
        if urlsplit(route.request.url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            route.abort()

    context.route("**/*", only_loopback)
    return session


@pytest.fixture
def desktop(browser: Browser) -> Iterator[Session]:
    session = open_session(browser, viewport=DESKTOP)
    yield session
    session.context.close()
    assert session.hosts() <= LOCAL_HOSTS, f"requests left loopback: {session.hosts() - LOCAL_HOSTS}"


@pytest.fixture
def phone(browser: Browser) -> Iterator[Session]:
    session = open_session(browser, viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    yield session
    session.context.close()
    assert session.hosts() <= LOCAL_HOSTS, f"requests left loopback: {session.hosts() - LOCAL_HOSTS}"


# --- helpers ------------------------------------------------------------------------------------------------------


def open_widget(page: Page, url: str) -> Frame:
    page.goto(url)
    page.locator(LAUNCHER).click()
    return panel_frame(page)


def panel_frame(page: Page) -> Frame:
    frame = page.locator("kbot-widget iframe").element_handle().content_frame()
    assert frame is not None
    frame.locator("#kbot-input").wait_for()
    frame.wait_for_function("() => document.activeElement && document.activeElement.id === 'kbot-input'")
    return frame


def ask(frame: Frame | Page, question: str, status: str | None = None) -> Any:
    """Types the question and sends it with Enter; returns the new reply once it is shown."""
    replies = frame.locator(".kbot-reply")
    before = replies.count()
    frame.locator("#kbot-input").fill(question)
    frame.locator("#kbot-input").press("Enter")
    expect(replies).to_have_count(before + 1, timeout=WAIT_MS)
    reply = replies.nth(before)
    if status is not None:
        expect(reply).to_have_attribute("data-status", status)
    return reply


def focused(page: Page, frame: Frame | None = None) -> str:
    """What has keyboard focus: "widget:launcher", "panel:<class or id>" inside the iframe, or the host's tag."""
    where = page.evaluate(
        """() => {
            const a = document.activeElement;
            if (!a || a.tagName !== 'KBOT-WIDGET') return a ? a.tagName.toLowerCase() : '';
            const s = a.shadowRoot.activeElement;
            if (!s) return 'widget';
            return s.tagName === 'IFRAME' ? 'iframe' : 'widget:' + s.className.split(' ')[0];
        }"""
    )
    if where == "iframe" and frame is not None:
        return "panel:" + frame.evaluate(
            "() => { const e = document.activeElement; return e.className.split(' ')[0] || e.id || e.tagName; }"
        )
    return str(where)


def assert_accessible(target: Page | Frame, label: str) -> None:
    results = Axe().run(target, options={**WCAG_22_AA, "iframes": False})
    bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, f"{label}: " + results.generate_report()


def shot(page: Page, name: str, full_page: bool = False) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(400)  # let the reply's scroll settle, for a readable picture (not an assertion)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def norm(text: str) -> str:
    return " ".join(text.split())


# --- the widget on a clinic's page --------------------------------------------------------------------------------


def test_widget_answers_with_quotes_citations_sources_and_the_notice(
    desktop: Session, kbot: KbotServer, host: HostPages, real_service: KbotService
) -> None:
    page = desktop.page()
    frame = open_widget(page, host.origin + "/")
    assert urlsplit(frame.url).port == kbot.port and urlsplit(page.url).port == host.port, "panel is cross-origin"
    expected = real_service.ask(QUESTION).to_dict()
    assert expected["status"] == "answered"

    reply = ask(frame, QUESTION, "answered")

    quotes = reply.locator("blockquote")
    assert [norm(t) for t in quotes.all_inner_texts()] == [norm(q["text"]) for q in expected["quotes"]]
    markers = reply.locator(".kbot-quote-caption > .kbot-cite").all_inner_texts()
    assert markers == [f"[{q['citation']}]" for q in expected["quotes"]]
    sources = reply.locator(".kbot-sources > li")
    expect(sources).to_have_count(len(expected["sources"]))
    for item, source in zip(sources.all(), expected["sources"], strict=True):
        expect(item).to_contain_text(source["publisher"])
        expect(item).to_contain_text(source["title"])
    notice = reply.locator(".kbot-notice")
    expect(notice).to_have_text(expected["notice"])
    assert reply.evaluate("r => r.lastElementChild.classList.contains('kbot-notice')")
    expect(frame.locator(".kbot-footer-notice")).to_be_in_viewport()  # the footer's notice: always in view
    expect(frame.locator(".kbot-announcer")).to_contain_text(expected["quotes"][0]["text"])
    expect(frame.locator(".kbot-announcer")).not_to_contain_text(expected["notice"])  # the answer, not the notice
    assert {kbot.port, host.port} <= {urlsplit(u).port for u in desktop.requests}
    shot(page, "desktop-widget-answer")


def test_show_in_context_highlights_the_quote_in_its_paragraph(
    desktop: Session, kbot: KbotServer, host: HostPages, real_service: KbotService
) -> None:
    page = desktop.page()
    frame = open_widget(page, host.origin + "/")
    quote = real_service.ask(QUESTION).quotes[0]
    reply = ask(frame, QUESTION, "answered")
    button = reply.locator(".kbot-context-btn").first
    with page.expect_response(re.compile(r"/v1/sources/")) as response:
        button.click()
    assert response.value.status == 200
    expect(button).to_have_attribute("aria-expanded", "true")
    context = reply.locator(".kbot-context").first
    expect(context.locator("mark")).not_to_have_count(0)
    assert norm(" ".join(context.locator("mark").all_inner_texts())) == norm(quote.text)
    paragraph = norm(context.locator(".kbot-context-text").first.inner_text())
    assert norm(quote.text) in paragraph or paragraph in norm(quote.text)
    document = real_service.kb().document(quote.source_id)
    assert document is not None
    assert any(norm(b.text) == paragraph for b in document.kept_blocks), "the surrounding paragraph, verbatim"
    button.click()
    expect(context).to_be_hidden()
    expect(button).to_have_attribute("aria-expanded", "false")


def test_crisis_reply_shows_the_help_lines_first_as_call_and_text_links(
    desktop: Session, kbot: KbotServer, host: HostPages, kbot_settings: Settings
) -> None:
    page = desktop.page()
    frame = open_widget(page, host.origin + "/")
    reply = ask(frame, CRISIS, "crisis")
    expect(reply.locator("blockquote")).to_have_count(0)
    lines = reply.locator(".kbot-help-line")
    expect(lines).to_have_count(len(kbot_settings.help_lines))
    expect(lines.first).to_contain_text(kbot_settings.help_lines[0].name)
    hrefs = reply.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert "tel:988" in hrefs and "sms:988" in hrefs and "tel:911" in hrefs
    order = reply.evaluate(
        "r => [...r.querySelectorAll('.kbot-help-lines, .kbot-message, .kbot-notice')].map(e => e.className)"
    )
    assert order[0] == "kbot-help-lines" and order[-1] == "kbot-notice", "help lines first, the notice last"
    size = float(reply.locator(".kbot-call").first.evaluate("a => parseFloat(getComputedStyle(a).fontSize)"))
    body = float(frame.evaluate("() => parseFloat(getComputedStyle(document.body).fontSize)"))
    assert size > body, "the help lines are large"
    expect(frame.locator(".kbot-announcer-urgent")).to_contain_text("988")  # a crisis interrupts (assertive)
    shot(page, "desktop-widget-crisis")


def test_markup_typed_as_a_question_is_shown_as_text_and_runs_nothing(
    desktop: Session, kbot: KbotServer, host: HostPages
) -> None:
    page = desktop.page()
    frame = open_widget(page, host.origin + "/")
    ask(frame, XSS)
    expect(frame.locator(".kbot-question").last).to_have_text("You asked: " + XSS)
    ask(frame, "<script>window.__pwned = 1</script> is ketamine an opioid?")
    assert frame.locator("img").count() == 0
    assert frame.evaluate("() => window.__pwned") is None
    assert desktop.dialogs == []
    assert not [u for u in desktop.requests if urlsplit(u).path.endswith("/x")], "the <img> was never created"


def test_keyboard_only_open_ask_navigate_and_close(desktop: Session, kbot: KbotServer, host: HostPages) -> None:
    page = desktop.page()
    page.goto(host.origin + "/")
    for _ in range(20):
        page.keyboard.press("Tab")
        if focused(page) == "widget:launcher":
            break
    assert focused(page) == "widget:launcher"
    page.keyboard.press("Enter")
    frame = panel_frame(page)
    assert focused(page, frame) == "panel:kbot-input"
    page.keyboard.type(QUESTION)
    page.keyboard.press("Enter")
    expect(frame.locator(".kbot-reply")).to_have_count(1, timeout=WAIT_MS)
    assert focused(page, frame) == "panel:kbot-input", "focus stays in the box after sending"

    order = [focused(page, frame)]  # walk the Tab order backwards from the send button to the launcher
    page.keyboard.press("Tab")
    order.append(focused(page, frame))
    while order[-1] != "widget:launcher" and len(order) < 60:
        page.keyboard.press("Shift+Tab")
        order.append(focused(page, frame))
    forward = list(reversed(dict.fromkeys(order[1:])))
    for stop in [
        "widget:launcher",
        "panel:kbot-close",
        "panel:kbot-cite",
        "panel:kbot-context-btn",
        "panel:kbot-input",
    ]:
        assert stop in forward, f"{stop} is not in the Tab order {forward}"
    assert (
        forward.index("panel:kbot-cite") < forward.index("panel:kbot-context-btn") < forward.index("panel:kbot-input")
    )
    assert order[1] == "panel:kbot-send"

    for _ in range(len(order)):  # forward again, to the first "Show in context"
        page.keyboard.press("Tab")
        if focused(page, frame) == "panel:kbot-context-btn":
            break
    page.keyboard.press("Enter")
    expect(frame.locator(".kbot-context mark").first).to_be_visible()
    page.keyboard.press("Shift+Tab")
    assert focused(page, frame) == "panel:kbot-cite"
    page.keyboard.press("Enter")
    assert focused(page, frame) == "panel:kbot-source", "a citation marker takes you to its source"

    page.keyboard.press("Escape")
    expect(page.locator(PANEL)).to_be_hidden()
    assert focused(page) == "widget:launcher", "focus returns to the launcher"
    expect(page.locator(LAUNCHER)).to_have_attribute("aria-expanded", "false")
    page.keyboard.press("Enter")
    frame = panel_frame(page)
    expect(frame.locator(".kbot-reply")).to_have_count(1)  # the conversation is still there


def test_only_kbot_can_close_the_panel_and_only_listed_sites_can_frame_it(
    desktop: Session, kbot: KbotServer, host: HostPages
) -> None:
    page = desktop.page()
    open_widget(page, host.origin + "/")
    page.evaluate("() => window.postMessage({kbot: 1, type: 'close'}, '*')")  # forged: wrong source
    page.wait_for_timeout(300)  # give a forged message time to act, if it could
    expect(page.locator(PANEL)).to_be_visible()

    other = desktop.page()  # the same page from http://localhost:<port>: an origin not in frame_ancestors
    other.goto(f"http://localhost:{host.port}/")
    other.locator(LAUNCHER).click()
    frame = other.locator("kbot-widget iframe").element_handle().content_frame()
    assert frame is not None
    frame.wait_for_url(lambda url: not url.startswith("about:"))
    frame.wait_for_load_state()
    assert not frame.url.startswith(kbot.url), f"CSP frame-ancestors must refuse an unlisted site: {frame.url}"
    assert frame.locator("#kbot-input").count() == 0


def test_source_links_are_made_only_for_http_urls(desktop: Session, kbot: KbotServer, host: HostPages) -> None:
    page = desktop.page()

    def with_urls(route: Any) -> None:  # the real answer, with one web and one javascript: URL put in
        response = route.fetch()
        body = response.json()
        body["sources"][0]["url"] = "https://example.org/article"
        if len(body["sources"]) > 1:
            body["sources"][1]["url"] = "javascript:alert(1)"
        route.fulfill(response=response, json=body)

    page.route("**/v1/ask", with_urls)
    frame = open_widget(page, host.origin + "/")
    reply = ask(frame, QUESTION, "answered")
    links = reply.locator(".kbot-sources a")
    expect(links).to_have_count(1)
    expect(links.first).to_have_attribute("href", "https://example.org/article")
    expect(links.first).to_have_attribute("rel", "noopener noreferrer")
    assert "javascript:" not in reply.evaluate("r => r.innerHTML")
    links.first.focus()
    assert focused(page, frame) == "panel:kbot-source-link"


@pytest.mark.parametrize("question", ["What is the capital of France?", "How much ketamine should I take?"])
def test_no_answer_and_declined_offer_suggestions_that_ask(
    desktop: Session, kbot: KbotServer, host: HostPages, real_service: KbotService, question: str
) -> None:
    expected = real_service.ask(question).to_dict()
    assert expected["status"] in ("no_answer", "declined") and expected["suggestions"]
    page = desktop.page()
    frame = open_widget(page, host.origin + "/")
    reply = ask(frame, question, expected["status"])
    expect(reply.locator(".kbot-message")).to_have_text(expected["message"])
    buttons = reply.locator("button.kbot-chip")
    assert buttons.all_inner_texts() == expected["suggestions"]
    buttons.first.click()
    expect(frame.locator(".kbot-reply")).to_have_count(2, timeout=WAIT_MS)
    expect(frame.locator(".kbot-question").last).to_have_text("You asked: " + expected["suggestions"][0])
    expect(frame.locator(".kbot-reply").last).to_have_attribute("data-status", "answered")


def test_starter_questions_on_an_empty_chat_ask_when_clicked(
    desktop: Session, kbot: KbotServer, host: HostPages
) -> None:
    page = desktop.page()
    frame = open_widget(page, host.origin + "/")
    starters = frame.locator(".kbot-starters button")
    expect(starters).not_to_have_count(0)
    first = starters.first.inner_text()
    starters.first.click()
    expect(frame.locator(".kbot-question")).to_have_text(["You asked: " + first])
    expect(frame.locator(".kbot-reply")).to_have_count(1, timeout=WAIT_MS)
    expect(frame.locator(".kbot-starters")).to_be_hidden()


def test_widget_options_colour_position_starters_and_key(desktop: Session, kbot: KbotServer, host: HostPages) -> None:
    tag = f'<script src="{kbot.url}/widget.js"\n          data-kbot-endpoint="{kbot.url}"'
    assert tag in host.pages["/"]
    host.pages["/options"] = host.pages["/"].replace(
        tag,
        tag + ' data-kbot-color="#ffd23f" data-kbot-position="left" data-kbot-api-key="clinic-key-1"'
        ' data-kbot-starters="Is ketamine addictive?|Can ketamine be used for pain?"',
    )
    page = desktop.page()
    page.goto(host.origin + "/options")
    launcher = page.locator(LAUNCHER)
    assert launcher.evaluate("b => getComputedStyle(b).color") == "rgb(17, 17, 17)", "dark text on a light accent"
    box = launcher.bounding_box()
    assert box is not None and box["x"] < DESKTOP["width"] / 2
    with page.expect_request(re.compile(r"/panel\?")) as panel_request:
        launcher.click()
    assert "clinic-key-1" not in panel_request.value.url, "the key travels in the fragment, never to a server"
    frame = panel_frame(page)
    assert frame.locator(".kbot-starters button").all_inner_texts() == [
        "Is ketamine addictive?",
        "Can ketamine be used for pain?",
    ]
    assert "clinic-key-1" not in frame.url
    header = frame.locator(".kbot-header")
    assert header.evaluate("h => getComputedStyle(h).backgroundColor") == "rgb(255, 210, 63)"
    assert header.evaluate("h => getComputedStyle(h).color") == "rgb(17, 17, 17)"
    with page.expect_request(re.compile(r"/v1/ask")) as ask_request:
        ask(frame, QUESTION)
    assert ask_request.value.headers.get("x-api-key") == "clinic-key-1"


def test_widget_works_under_a_strict_csp_on_kbots_own_demo_page(desktop: Session, kbot: KbotServer) -> None:
    page = desktop.page()
    with page.expect_response(kbot.url + "/demo") as demo:
        page.goto(kbot.url + "/demo")
    assert "'unsafe-inline'" not in demo.value.headers["content-security-policy"]
    launcher = page.locator(LAUNCHER)
    assert launcher.evaluate("b => getComputedStyle(b).position") == "fixed", "the launcher's styles applied"
    frame = open_widget(page, kbot.url + "/demo")
    ask(frame, QUESTION, "answered")


def test_phone_panel_is_full_screen_with_large_enough_input_and_targets(
    phone: Session, kbot: KbotServer, host: HostPages
) -> None:
    page = phone.page()
    frame = open_widget(page, host.origin + "/")
    # the panel may still be sliding into place: wait (bounded) until it rests at the top, then measure it
    page.locator(PANEL).evaluate(
        "e => new Promise(done => { let n = 0; const rest = () => e.getBoundingClientRect().y === 0 || ++n > 300 ? "
        "done() : requestAnimationFrame(rest); rest(); })"
    )
    assert page.locator(PANEL).bounding_box() == {"x": 0, "y": 0, **PHONE}
    size = frame.locator("#kbot-input").evaluate("i => parseFloat(getComputedStyle(i).fontSize)")
    assert size >= 16, "iOS zooms into inputs under 16px"
    reply = ask(frame, QUESTION, "answered")
    expect(reply.locator(".kbot-notice")).to_have_count(1)  # in the reply's flow; the footer's is always in view
    for target in frame.locator("button:visible, a:visible").all():
        box = target.bounding_box()
        assert box is not None and box["width"] >= 24 and box["height"] >= 24, target.evaluate("e => e.outerHTML")
    shot(page, "phone-widget-answer")
    ask(frame, CRISIS, "crisis")
    shot(page, "phone-widget-crisis")
    frame.locator("[data-kbot-close]").click()
    expect(page.locator(PANEL)).to_be_hidden()


def test_widget_and_panel_pass_axe_wcag_22_aa(desktop: Session, kbot: KbotServer, host: HostPages) -> None:
    page = desktop.page()
    frame = open_widget(page, host.origin + "/")
    ask(frame, QUESTION, "answered")
    ask(frame, CRISIS, "crisis")
    ask(frame, "What is the capital of France?")
    frame.locator(".kbot-context-btn").first.click()
    expect(frame.locator(".kbot-context mark").first).to_be_visible()
    assert_accessible(page, "the clinic page with the widget open")
    assert_accessible(frame, "the chat panel (inside the iframe)")


# --- the chat page ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_chat_page_answers_inline_and_lists_the_sources(
    request: pytest.FixtureRequest, kbot: KbotServer, real_service: KbotService, size: str
) -> None:
    session: Session = request.getfixturevalue(size)
    page = session.page()
    page.goto(kbot.url + "/")
    expect(page.locator(".about-item")).to_have_count(len(real_service.kb().sources()))
    reply = ask(page, QUESTION, "answered")
    expect(reply.locator(".kbot-notice")).to_have_count(1)  # in the reply's flow; the footer's is always in view
    assert_accessible(page, f"the chat page ({size})")
    shot(page, f"{size}-chat-page")
    shot(page, f"{size}-chat-page-full", full_page=True)


def test_api_docs_work_offline_and_try_it_out_asks_kbot(desktop: Session, kbot: KbotServer) -> None:
    """A clinic's developer on /docs: Swagger UI from kbot itself (the fixture fails on any request off loopback),
    and "Try it out" on POST /v1/ask with the documented example gets a real answer."""
    page = desktop.page()
    page.goto(kbot.url + "/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("kbot API")
    ask_op = page.locator(".opblock-post").filter(has_text="/v1/ask").first
    ask_op.locator(".opblock-summary").click()
    ask_op.get_by_role("button", name="Try it out").click()
    ask_op.get_by_role("button", name="Execute").click()
    live = ask_op.locator(".live-responses-table tr.response")
    expect(live.locator(".response-col_status").first).to_have_text("200", timeout=WAIT_MS)
    expect(live.locator(".microlight").first).to_contain_text('"status": "answered"')
    shot(page, "desktop-api-docs")


def test_chat_page_reflows_at_200_percent_text(desktop: Session, kbot: KbotServer) -> None:
    page = desktop.page()
    page.goto(kbot.url + "/")
    page.evaluate("() => { document.documentElement.style.fontSize = '200%'; }")
    reply = ask(page, QUESTION, "answered")
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"), "no sideways scrolling"
    assert page.locator(".kbot-log").evaluate("l => l.scrollWidth <= l.clientWidth")
    expect(page.locator(".kbot-send")).to_be_visible()
    expect(reply.locator(".kbot-notice")).to_be_visible()


@pytest.mark.parametrize(("motion", "animation"), [("reduce", "none"), ("no-preference", "kbot-blink")])
def test_typing_indicator_respects_reduced_motion(
    browser: Browser, kbot: KbotServer, motion: str, animation: str
) -> None:
    context = browser.new_context(viewport=DESKTOP, reduced_motion=motion)  # type: ignore[arg-type]
    page = context.new_page()
    page.goto(kbot.url + "/")
    name = page.evaluate(
        """() => {
            const dots = document.createElement('span'); dots.className = 'kbot-dots';
            const dot = document.createElement('span'); dots.append(dot); document.body.append(dots);
            return getComputedStyle(dot).animationName;
        }"""
    )
    context.close()
    assert name == animation


def test_unreachable_api_shows_a_clear_message_and_retry_that_works(
    desktop: Session, kbot_settings: Settings, real_service: KbotService
) -> None:
    server = KbotServer(create_app(kbot_settings, service=real_service), free_port())
    server.start()
    page = desktop.page()
    page.goto(server.url + "/")
    page.locator("#kbot-input").wait_for()
    server.stop()
    page.locator("#kbot-input").fill(QUESTION)
    page.locator("#kbot-input").press("Enter")
    error = page.locator(".kbot-error")
    expect(error).to_contain_text("can't be reached")
    expect(page.locator(".kbot-announcer")).to_contain_text("can't be reached")
    retry = error.get_by_role("button", name="Try again")
    server.start()
    try:
        retry.click()
        expect(page.locator(".kbot-reply")).to_have_count(1, timeout=WAIT_MS)
        expect(page.locator(".kbot-error")).to_have_count(0)
        expect(page.locator(".kbot-question")).to_have_count(1)  # the same turn, not a second question
    finally:
        server.stop()
