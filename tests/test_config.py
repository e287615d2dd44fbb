"""Settings from the environment: a bad KBOT_* value is a clear error naming the variable, never a traceback."""

from __future__ import annotations

import pytest

from kbot.config import US_HELP_LINES, load_settings
from kbot.errors import InvalidSettings


def test_defaults_load_with_the_us_help_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KBOT_HELP_LINES", raising=False)
    assert load_settings().help_lines == US_HELP_LINES


@pytest.mark.parametrize(
    ("variable", "value", "why"),
    [
        ("KBOT_HELP_LINES", "[]", "at least 1 item"),  # a crisis reply must always have somewhere to send people
        ("KBOT_HELP_LINES", "not json", "KBOT_HELP_LINES"),
        ("KBOT_RATE_LIMIT_PER_MINUTE", "abc", "valid integer"),
        ("KBOT_CORS_ORIGINS", "https://clinic.example", "KBOT_CORS_ORIGINS"),  # lists are JSON
    ],
)
def test_a_bad_value_names_its_variable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str, why: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(InvalidSettings) as raised:
        load_settings()
    assert variable in raised.value.message
    assert why in raised.value.message


def test_overrides_are_validated_too() -> None:
    with pytest.raises(InvalidSettings, match="KBOT_MAX_QUOTES"):
        load_settings(max_quotes="many")
