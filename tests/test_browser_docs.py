"""/docs and /redoc in a real browser under their Content-Security-Policy: both still render the API, with no
violation reported, and neither can be framed by another site. (Headers alone are checked in test_api.py.)"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, expect

from kbot.api import create_app
from kbot.config import Settings
from kbot.embedding import FakeEmbedder
from kbot.service import KbotService
from test_browser import LOCAL_HOSTS, WAIT_MS, HostPages, KbotServer, browser, free_port, host, open_session, playwright

pytestmark = [pytest.mark.browser, pytest.mark.server]
__all__ = ["browser", "host", "playwright"]  # fixtures shared with test_browser.py


@pytest.fixture(scope="module")
def kbot(make_settings: Callable[..., Settings], fake_index_dir: Path, fake_service: KbotService) -> Iterator[str]:
    settings = make_settings(index_dir=fake_index_dir, model_name=FakeEmbedder.name)
    server = KbotServer(create_app(settings, service=fake_service), free_port())
    server.start()
    yield server.url
    server.stop()


@pytest.mark.parametrize(("page", "shows"), [("/docs", ".opblock-summary-path"), ("/redoc", "[data-section-id]")])
def test_docs_render_under_their_policy(browser: Browser, kbot: str, page: str, shows: str) -> None:
    session = open_session(browser)
    tab = session.page()
    problems: list[str] = []
    tab.on("console", lambda m: _note_violation(m, problems))
    tab.goto(kbot + page)
    expect(tab.locator(shows).first).to_be_visible(timeout=WAIT_MS)
    expect(tab.get_by_text("/v1/ask").first).to_be_attached()
    session.context.close()
    assert problems == []


def _note_violation(message: ConsoleMessage, problems: list[str]) -> None:
    """A violation of kbot's own policy by kbot's own page. The policy also blocks what the UIs would fetch from
    elsewhere (ReDoc's logo from its CDN): that is the policy working, and no part of the docs."""
    if "Content Security Policy" not in message.text and "Refused to" not in message.text:
        return
    urls = re.findall(r"'(https?://[^']+)'", message.text)
    if not urls or any(urlsplit(u).hostname in LOCAL_HOSTS for u in urls):
        problems.append(message.text)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_another_site_cannot_frame_the_docs(browser: Browser, kbot: str, host: HostPages, page: str) -> None:
    host.pages["/framed-docs"] = f'<!doctype html><title>x</title><iframe src="{kbot}{page}"></iframe>'
    session = open_session(browser)
    tab = session.page()
    with tab.expect_console_message(lambda m: "frame-ancestors" in m.text, timeout=WAIT_MS):
        tab.goto(host.origin + "/framed-docs")
    assert tab.frame_locator("iframe").locator("#swagger-ui, redoc").count() == 0
    session.context.close()
