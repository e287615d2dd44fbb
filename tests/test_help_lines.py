"""The help lines a crisis reply shows first match its emergency (988 for suicide, Poison Control and 911 for an
overdose, 911 for someone not breathing); every line is always shown."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from kbot.config import US_HELP_LINES, HelpLine, load_settings
from kbot.domain import Status
from kbot.errors import InvalidSettings
from kbot.safety import SafetyGate, Verdict, order_help_lines
from kbot.service import KbotService

LINE_988, LINE_911, POISON = (line.name for line in US_HELP_LINES)


@pytest.fixture(scope="module")
def gate() -> SafetyGate:
    return SafetyGate.from_file()


@pytest.mark.parametrize(
    ("question", "emergency", "first"),
    [
        ("I took 40 tylenol", "overdose", [POISON, LINE_911]),
        ("I want to kill myself", "suicide", [LINE_988]),
        ("my dad is not breathing", "breathing", [LINE_911]),
        ("my daughter swallowed a battery", "poisoning", [POISON, LINE_911]),
        ("i cut myself again tonight", "self_harm", [LINE_988]),
        ("how many of my pills would kill me", "lethality", [LINE_988]),
        ("my grandma collapsed and wont wake up", "unresponsive", [LINE_911]),
        ("i think im having a stroke", "medical", [LINE_911]),
    ],
)
def test_the_lines_for_the_emergency_come_first(
    gate: SafetyGate, question: str, emergency: str, first: list[str]
) -> None:
    verdict = gate.classify(question)
    assert (verdict.kind, verdict.emergency) == ("crisis", emergency), verdict
    ordered = order_help_lines(US_HELP_LINES, verdict)
    assert [line.name for line in ordered[: len(first)]] == first
    assert sorted(ordered, key=US_HELP_LINES.index) == US_HELP_LINES  # none lost, none repeated


def test_without_an_emergency_or_topics_the_configured_order_stays() -> None:
    assert order_help_lines(US_HELP_LINES, Verdict("ok", "")) == US_HELP_LINES
    plain = [HelpLine(name=line.name, action=line.action) for line in US_HELP_LINES]
    assert order_help_lines(plain, Verdict("crisis", "x", emergency="poisoning")) == plain


def test_the_most_specific_line_comes_first() -> None:
    wide = HelpLine(name="wide", action="a", topics=["overdose", "breathing"])
    narrow = HelpLine(name="narrow", action="b", topics=["overdose"])
    assert order_help_lines([wide, narrow], Verdict("crisis", "x", emergency="overdose")) == [narrow, wide]


def test_the_service_orders_a_crisis_reply_and_keeps_every_line(fake_service: KbotService) -> None:
    overdose = fake_service.ask("I took 40 tylenol")
    assert overdose.status is Status.CRISIS
    assert [r.name for r in overdose.resources] == [POISON, LINE_911, LINE_988]
    assert overdose.text.startswith("Call Poison Control")
    suicide = fake_service.ask("I want to kill myself")
    assert [r.name for r in suicide.resources] == [LINE_988, LINE_911, POISON]
    assert fake_service.ask("my dad is not breathing").resources[0].name == LINE_911


def test_help_lines_take_topics_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    line = {"name": "Samaritans", "action": "Call 116 123", "phone": "116 123", "topics": ["suicide", "self_harm"]}
    monkeypatch.setenv("KBOT_HELP_LINES", json.dumps([line]))
    assert load_settings().help_lines[0].topics == ["suicide", "self_harm"]
    monkeypatch.setenv("KBOT_HELP_LINES", json.dumps([line | {"topics": ["sadness"]}]))
    with pytest.raises(InvalidSettings, match="KBOT_HELP_LINES"):
        load_settings()


def test_the_readme_example_for_the_uk_loads_and_orders(monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    example = re.search(r"export KBOT_HELP_LINES='(\[.*?\])'", readme, re.DOTALL)
    assert example, "the README shows how to set the help lines for another region"
    monkeypatch.setenv("KBOT_HELP_LINES", example.group(1))
    lines = load_settings().help_lines
    poisoning = Verdict("crisis", "x", emergency="poisoning")
    assert [line.name for line in order_help_lines(lines, poisoning)] == ["NHS 111", "Emergency services", "Samaritans"]
