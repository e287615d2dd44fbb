"""The thumbs under each answer, in a real Chromium: on the chat page and in the widget's cross-origin panel, with the
keyboard, checked with axe, and read back from the database. kbot runs here with the fake embedder (the widget's
rendering is what is tested, not the answers), on its own SQLite database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session as DbSession

import test_browser
from kbot.api import create_app
from kbot.config import Settings
from kbot.embedding import FakeEmbedder
from kbot.service import KbotService
from kbot.store.database import database_url
from kbot.store.tables import FeedbackRow

CRISIS, QUESTION = test_browser.CRISIS, test_browser.QUESTION
HostPages, KbotServer, Session = test_browser.HostPages, test_browser.KbotServer, test_browser.Session
ask, assert_accessible, open_widget = test_browser.ask, test_browser.assert_accessible, test_browser.open_widget
free_port = test_browser.free_port
# the fixtures: the browser, its sessions, the clinic's pages
playwright, browser = test_browser.playwright, test_browser.browser
desktop, host = test_browser.desktop, test_browser.host

pytestmark = [pytest.mark.browser, pytest.mark.server]


@pytest.fixture(scope="module")
def feedback_settings(
    make_settings: Callable[..., Settings],
    fake_index_dir: Path,
    host: HostPages,
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    return make_settings(
        index_dir=fake_index_dir,
        model_name=FakeEmbedder.name,
        var_dir=tmp_path_factory.mktemp("feedback-db"),
        frame_ancestors=[host.origin],
        cors_origins=[host.origin],
    )


@pytest.fixture(scope="module")
def server(feedback_settings: Settings, fake_service: KbotService, host: HostPages) -> Iterator[KbotServer]:
    import urllib.request

    app = create_app(feedback_settings, service=fake_service)
    running = KbotServer(app, free_port())
    running.start()
    with urllib.request.urlopen(running.url + "/demo") as response:
        host.pages["/"] = response.read().decode()
    yield running
    running.stop()


def stored_votes(server: KbotServer, settings: Settings) -> list[FeedbackRow]:
    server.app.state.kbot.store.flush()
    engine = create_engine(database_url(settings))
    with DbSession(engine) as db:
        rows = list(db.scalars(select(FeedbackRow)))
    engine.dispose()
    return rows


def test_thumbs_down_with_the_keyboard_sends_the_reason_and_comment(
    desktop: Session, server: KbotServer, feedback_settings: Settings
) -> None:
    page = desktop.page()
    page.goto(server.url + "/")
    reply = ask(page, QUESTION, "answered")
    feedback = page.locator(".kbot-feedback").first
    expect(feedback).to_contain_text("Was this helpful?")
    assert reply.locator(".kbot-notice").count() == 1  # the reply still ends with the notice; the thumbs follow it
    page.get_by_role("button", name="No", exact=True).focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("radio").first).to_be_focused()
    expect(feedback).to_contain_text("Please do not include personal health details")
    page.keyboard.press("ArrowDown")  # the next reason: it is wrong or misleading
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")  # it is out of date
    expect(page.get_by_role("radio", name="It is out of date")).to_be_checked()
    page.get_by_role("textbox", name="Anything else?").fill("The dates look old")
    assert page.get_by_role("textbox", name="Anything else?").get_attribute("maxlength") == "500"
    assert_accessible(page, "the chat page with the feedback form open")
    page.get_by_role("button", name="Send feedback").focus()
    page.keyboard.press("Enter")
    expect(feedback).to_have_text("Thank you for your feedback.")
    votes = stored_votes(server, feedback_settings)
    assert [(v.helpful, v.reason, v.comment) for v in votes] == [(False, "out_of_date", "The dates look old")]


def test_thumbs_up_in_the_widget_reaches_the_database_and_a_crisis_gets_no_thumbs(
    desktop: Session, server: KbotServer, host: HostPages, feedback_settings: Settings
) -> None:
    before = [v.helpful for v in stored_votes(server, feedback_settings)].count(True)
    page = desktop.page()
    frame = open_widget(page, host.origin + "/")
    ask(frame, CRISIS, "crisis")
    ask(frame, QUESTION, "answered")
    expect(frame.locator(".kbot-feedback")).to_have_count(1)  # under the answer, not under the help lines
    assert_accessible(frame, "the chat panel with the thumbs")
    frame.get_by_role("button", name="Yes", exact=True).click()
    expect(frame.locator(".kbot-feedback")).to_have_text("Thank you for your feedback.")
    ups = [v for v in stored_votes(server, feedback_settings) if v.helpful]
    assert len(ups) == before + 1 and all(v.reason is None and v.comment is None for v in ups)
