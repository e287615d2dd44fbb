"""In a real browser, an answer about an emergency shows the help lines in a compact box first, above the quotes,
with the same call and text links as a crisis reply; an ordinary answer shows no such box. Reuses the servers, the
browser and the helpers of test_browser.py (Debian's Chromium, the real model, a cross-origin panel)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from kbot.config import Settings
from test_browser import (  # noqa: F401  (fixtures are found by name)
    QUESTION,
    HostPages,
    Session,
    ask,
    assert_accessible,
    browser,
    desktop,
    host,
    kbot,
    kbot_settings,
    open_widget,
    playwright,
    shot,
)

pytestmark = [pytest.mark.browser, pytest.mark.server]

NOT_BREATHING = "What should you do if someone is not breathing?"


def test_an_answer_about_an_emergency_shows_the_help_lines_first(request: pytest.FixtureRequest) -> None:
    session: Session = request.getfixturevalue("desktop")
    site: HostPages = request.getfixturevalue("host")
    settings: Settings = request.getfixturevalue("kbot_settings")
    request.getfixturevalue("kbot")  # kbot serving the panel
    page = session.page()
    frame = open_widget(page, site.origin + "/")
    reply = ask(frame, NOT_BREATHING, "answered")
    box = reply.locator(".kbot-danger")
    expect(box).to_be_visible()
    expect(box.locator(".kbot-danger-title")).to_have_text("If someone is in danger now")
    expect(box.locator(".kbot-help-line")).to_have_count(len(settings.help_lines))
    hrefs = box.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert "tel:988" in hrefs and "sms:988" in hrefs and "tel:911" in hrefs
    order = reply.evaluate(
        "r => [...r.children].map(e => e.classList.contains('kbot-quote') ? 'quote' : e.className.split(' ')[0])"
    )
    first_quote = order.index("quote")
    assert order.index("kbot-danger") < first_quote < order.index("kbot-sources-title"), order
    assert order[-1] == "kbot-notice", "the notice stays last"
    assert_accessible(frame, "the chat panel with the help lines beside an answer")
    shot(page, "desktop-widget-emergency-answer")

    ordinary = ask(frame, QUESTION, "answered")
    expect(ordinary.locator("blockquote").first).to_be_visible()
    expect(ordinary.locator(".kbot-danger")).to_have_count(0)
