# ruff: noqa: F811  (pytest fixtures imported from test_browser.py are found by name, and redefined as arguments)
"""What patients see (issue 17), in a real browser: Debian's Chromium driven by Playwright against kbot with the real
model and index, the widget on a second origin. Reuses the servers, the browser and the helpers of test_browser.py.
Screenshots of each state go to test-artifacts/screenshots/, or to docs/screenshots/ (linked from the README) with
UPDATE_SCREENSHOTS=1."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Frame, Page, expect

from test_browser import (  # noqa: F401  (fixtures are found by name)
    CRISIS,
    LAUNCHER,
    PANEL,
    QUESTION,
    HostPages,
    KbotServer,
    Session,
    ask,
    assert_accessible,
    browser,
    desktop,
    host,
    kbot,
    kbot_settings,
    open_session,
    open_widget,
    panel_frame,
    phone,
    playwright,
)

pytestmark = [pytest.mark.browser, pytest.mark.server]

ROOT = Path(__file__).resolve().parents[1]
# The README's pictures are refreshed only on request (UPDATE_SCREENSHOTS=1): a test run leaves the tree clean.
DOCS_SHOTS = ROOT / ("docs" if os.environ.get("UPDATE_SCREENSHOTS") == "1" else "test-artifacts") / "screenshots"
WIDTHS = [1280, 390, 320]


def doc_shot(page: Page, name: str) -> None:
    DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(300)
    page.screenshot(path=str(DOCS_SHOTS / f"{name}.png"), scale="css")


def widget_page(kbot_url: str, attributes: str = "", body: str = "") -> str:
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Clinic</title></head>
<body><main><h1>Riverside clinic</h1>{body}<p style="height:3000px">Long page.</p>
<a id="ask-link" href="#">Ask our assistant</a></main>
<script src="{kbot_url}/widget.js" data-kbot-endpoint="{kbot_url}" {attributes} async></script></body></html>"""


def test_a_pronoun_led_sentence_never_opens_the_answer(desktop: Session, kbot: KbotServer) -> None:
    page = desktop.page()
    page.goto(kbot.url + "/")
    for question in ("can ketamine make u addicted", "Is ketamine addictive?"):
        reply = ask(page, question, "answered")
        first = reply.locator("blockquote").first.inner_text()
        assert not first.startswith("He "), first
        assert "He is not convinced" not in first or "Duman" in first.split("He is not convinced")[0]
    doc_shot(page, "chat-answer-1280")


@pytest.mark.parametrize("width", WIDTHS)
def test_citation_focus_is_never_hidden_by_the_notice(browser: Browser, kbot: KbotServer, width: int) -> None:
    session = open_session(
        browser, viewport={"width": width, "height": 700 if width > 400 else 640}, reduced_motion="reduce"
    )
    page = session.page()
    page.goto(kbot.url + "/")
    reply = ask(page, QUESTION, "answered")
    for cite in reply.locator(".kbot-quote .kbot-cite").all():
        cite.click()
        target = page.evaluate_handle("document.activeElement")
        assert target.evaluate("e => e.classList.contains('kbot-source')")
        page.wait_for_timeout(200)
        box = target.evaluate(
            "e => { const r = e.getBoundingClientRect(); return [r.left + 4, r.top + 4, r.bottom - 4]; }"
        )
        log = page.locator(".kbot-log").bounding_box()
        assert log is not None and log["y"] <= box[1] and box[2] <= log["y"] + log["height"], "focus inside the view"
        on_top = page.evaluate(f"document.elementFromPoint({box[0]}, {box[1]}).closest('.kbot-source') !== null")
        assert on_top, f"at {width}px something covers the focused source"
    expect(reply.locator(".kbot-notice")).to_have_css("position", "static")
    assert page.locator(".kbot-footer-notice").count() == 1
    doc_shot(page, f"chat-citation-focus-{width}")
    session.context.close()


def test_textarea_grows_counts_near_the_limit_and_enter_sends(desktop: Session, kbot: KbotServer) -> None:
    page = desktop.page()
    page.goto(kbot.url + "/")
    box = page.locator("#kbot-input")
    limit = int(box.get_attribute("data-max-chars") or "0")
    height = box.bounding_box()["height"]  # type: ignore[index]
    box.fill("first line")
    box.press("Shift+Enter")
    box.type("second line")
    assert box.input_value() == "first line\nsecond line", "Shift+Enter makes a new line, it does not send"
    assert box.bounding_box()["height"] > height  # type: ignore[index]
    expect(page.locator(".kbot-counter")).to_have_text("")
    box.fill("a" * (limit - 10))
    box.dispatch_event("input")
    expect(page.locator(".kbot-counter")).to_have_text("10 characters left")
    box.fill("a" * (limit + 5))
    box.dispatch_event("input")
    expect(page.locator(".kbot-counter")).to_have_text("5 characters too many: please shorten your question")
    expect(box).to_have_attribute("aria-invalid", "true")
    doc_shot(page, "chat-textarea-over-limit")
    box.press("Enter")
    assert page.locator(".kbot-turn").count() == 0 and len(box.input_value()) == limit + 5, "nothing cut, not sent"
    box.fill(QUESTION)
    box.press("Enter")
    expect(page.locator(".kbot-reply")).to_have_count(1)


def test_the_conversation_survives_a_reload_and_another_page_then_clears(
    desktop: Session, kbot: KbotServer, host: HostPages
) -> None:
    page = desktop.page()
    page.goto(kbot.url + "/")
    ask(page, QUESTION, "answered")
    page.reload()
    expect(page.locator(".kbot-reply")).to_have_count(1)
    expect(page.locator(".kbot-question")).to_contain_text(QUESTION)
    doc_shot(page, "chat-restored-after-reload")
    page.locator(".kbot-clear").click()  # (here the page and the panel share one site, 127.0.0.1, and one storage)
    expect(page.locator(".kbot-reply")).to_have_count(0)
    expect(page.locator("#kbot-input")).to_be_focused()
    # the widget on two pages of one clinic's site: the panel keeps the conversation across them
    host.pages["/one"] = widget_page(kbot.url)
    host.pages["/two"] = widget_page(kbot.url)
    frame = open_widget(page, host.origin + "/one")
    ask(frame, QUESTION, "answered")
    frame = open_widget(page, host.origin + "/two")
    expect(frame.locator(".kbot-reply")).to_have_count(1)
    frame.locator(".kbot-clear").click()
    expect(frame.locator(".kbot-reply")).to_have_count(0)
    expect(frame.locator(".kbot-starters")).to_be_visible()
    frame = open_widget(page, host.origin + "/one")
    expect(frame.locator(".kbot-reply")).to_have_count(0)


def test_print_shows_the_whole_conversation_with_sources_and_notice(desktop: Session, kbot: KbotServer) -> None:
    page = desktop.page()
    page.goto(kbot.url + "/")
    for question in (QUESTION, "Is ketamine addictive?", "What are the side effects of ketamine?"):
        ask(page, question, "answered")
    page.emulate_media(media="print")
    assert page.locator(".kbot-log").evaluate("e => getComputedStyle(e).overflowY") == "visible"
    assert page.locator(".kbot-log").evaluate("e => e.scrollHeight <= e.clientHeight + 1"), "nothing scrolled away"
    expect(page.locator(".kbot-form")).to_be_hidden()
    expect(page.locator(".kbot-sources").first).to_be_visible()
    expect(page.locator(".kbot-notice").last).to_be_visible()


def test_a_crisis_is_announced_assertively_and_an_answer_politely(desktop: Session, kbot: KbotServer) -> None:
    page = desktop.page()
    page.goto(kbot.url + "/")
    reply = ask(page, CRISIS, "crisis")
    urgent = page.locator(".kbot-announcer-urgent")
    expect(urgent).to_have_attribute("aria-live", "assertive")
    expect(urgent).to_contain_text("988")
    expect(reply.locator(".kbot-call").first).to_be_in_viewport()
    doc_shot(page, "chat-crisis-1280")
    answered = ask(page, QUESTION, "answered")
    polite = page.locator(".kbot-announcer")
    first_quote = answered.locator("blockquote").first.inner_text()
    expect(polite).to_contain_text(first_quote.strip("“”")[:60])
    notice = answered.locator(".kbot-notice").inner_text()
    assert notice not in polite.inner_text(), "the notice is not read out every time"
    expect(urgent).to_have_text("")


def test_window_kbot_opens_closes_and_asks(desktop: Session, kbot: KbotServer, host: HostPages) -> None:
    host.pages["/api"] = widget_page(kbot.url)
    page = desktop.page()
    page.goto(host.origin + "/api")
    page.wait_for_function("() => window.kbot && typeof window.kbot.open === 'function'")
    page.evaluate("window.kbot.open()")
    expect(page.locator(PANEL)).to_be_visible()
    frame = panel_frame(page)
    expect(page.locator(LAUNCHER)).to_have_attribute("aria-expanded", "true")
    expect(page.locator(LAUNCHER)).to_contain_text("Close chat")
    page.evaluate("window.kbot.close()")
    expect(page.locator(PANEL)).to_be_hidden()
    page.evaluate(f"window.kbot.ask({QUESTION!r})")
    expect(frame.locator(".kbot-reply").last).to_have_attribute("data-status", "answered", timeout=60_000)
    doc_shot(page, "widget-open-desktop")


def test_z_index_and_offset_put_the_launcher_over_or_clear_of_a_cookie_banner(
    desktop: Session, kbot: KbotServer, host: HostPages
) -> None:
    banner = (
        '<div id="cookies" style="position:fixed;left:0;right:0;bottom:0;height:90px;z-index:2147483647;'
        'background:#333;color:#fff">We use cookies.</div>'
    )
    covered = (
        "() => { const r = document.querySelector('kbot-widget').shadowRoot.querySelector('.launcher')"
        ".getBoundingClientRect(); const e = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);"
        " return e && e.id === 'cookies'; }"
    )
    for path, attributes, hidden in (
        ("/banner", "", True),
        ("/banner-z", 'data-kbot-z-index="2147483647"', False),
        ("/banner-offset", 'data-kbot-offset="110 24"', False),
    ):
        host.pages[path] = widget_page(kbot.url, attributes, banner)
        page = desktop.page()
        page.goto(host.origin + path)
        page.locator(LAUNCHER).wait_for()
        assert page.evaluate(covered) is hidden, (path, attributes)
        if path == "/banner-offset":
            doc_shot(page, "widget-offset-over-cookie-banner")
        page.close()


def test_on_a_phone_focus_stays_in_the_panel_and_the_page_does_not_scroll(
    phone: Session, kbot: KbotServer, host: HostPages
) -> None:
    host.pages["/phone"] = widget_page(kbot.url)
    page = phone.page()
    frame: Frame = open_widget(page, host.origin + "/phone")
    assert page.evaluate("getComputedStyle(document.documentElement).overflow") == "hidden"
    assert page.evaluate("document.querySelector('main').inert") is True
    for _ in range(12):
        page.keyboard.press("Tab")
        inside = frame.evaluate("() => document.hasFocus() && document.activeElement !== document.body")
        assert inside, "Tab left the full-screen panel"
    for _ in range(6):
        page.keyboard.press("Shift+Tab")
        assert frame.evaluate("() => document.hasFocus()")
    ask(frame, QUESTION, "answered")
    assert_accessible(frame, "the phone panel with an answer")
    doc_shot(page, "widget-phone-answer")
    frame.locator(".kbot-close").click()
    # the panel tells the page it closed by a message: wait (bounded) for the page to scroll again
    page.wait_for_function("getComputedStyle(document.documentElement).overflow !== 'hidden'", timeout=5_000)
    assert page.evaluate("document.querySelector('main').inert") is False


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_nothing_on_the_chat_page_with_an_answer(browser: Browser, kbot: KbotServer, scheme: str) -> None:
    session = open_session(browser, viewport={"width": 1280, "height": 800}, color_scheme=scheme)
    page = session.page()
    page.goto(kbot.url + "/")
    reply = ask(page, "what does ketamine do to the brain", "answered")
    term = reply.locator(".kbot-term").first
    if term.count():
        term.click()
        expect(reply.locator(".kbot-definition").first).to_be_visible()
    expect(reply.locator(".kbot-suggest-label")).to_contain_text("You could also ask")
    assert_accessible(page, f"the chat page with an answer ({scheme})")
    doc_shot(page, f"chat-follow-ups-glossary-{scheme}")
    ask(page, "when is the clinic open this week", "no_answer")
    assert_accessible(page, f"the chat page with a contact reply ({scheme})")
    session.context.close()
