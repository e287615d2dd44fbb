"""CORS, API keys and rate limits: through the app, and the small pieces on their own."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kbot.api import create_app
from kbot.api.security import KeyChecker, RateLimiter, client_address, load_api_keys
from kbot.config import Settings
from kbot.embedding import FakeEmbedder
from kbot.errors import KbotError
from kbot.service import KbotService

ASK = {"question": "Is ketamine an opioid?"}
CLINIC = "https://clinic.example"


@pytest.fixture(scope="module")
def app_for(
    make_settings: Callable[..., Settings], fake_index_dir: Path, fake_service: KbotService
) -> Callable[..., TestClient]:
    """A started TestClient for an app with the given settings (closed at the end of the test module)."""
    opened: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        settings = make_settings(index_dir=fake_index_dir, model_name=FakeEmbedder.name, **overrides)
        client = TestClient(create_app(settings, fake_service))
        client.__enter__()
        opened.append(client)
        return client

    yield make  # type: ignore[misc]
    for client in opened:
        client.__exit__(None, None, None)


# --- CORS ------------------------------------------------------------------------------------------------------------


def test_no_origin_is_allowed_by_default(app_for: Callable[..., TestClient]) -> None:
    client = app_for()
    response = client.post("/v1/ask", json=ASK, headers={"Origin": CLINIC})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers
    preflight = client.options("/v1/ask", headers={"Origin": CLINIC, "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in preflight.headers


@pytest.mark.parametrize(("origin", "allowed"), [(CLINIC, True), ("https://evil.example", False)])
def test_only_listed_origins_are_allowed(app_for: Callable[..., TestClient], origin: str, allowed: bool) -> None:
    client = app_for(cors_origins=[CLINIC])
    preflight = client.options(
        "/v1/ask",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-api-key",
        },
    )
    assert (preflight.headers.get("access-control-allow-origin") == origin) is allowed
    response = client.post("/v1/ask", json=ASK, headers={"Origin": origin})
    assert (response.headers.get("access-control-allow-origin") == origin) is allowed
    if allowed:
        assert "x-request-id" in response.headers["access-control-expose-headers"].lower()


def test_errors_carry_cors_headers_so_the_widget_can_read_them(app_for: Callable[..., TestClient]) -> None:
    client = app_for(cors_origins=[CLINIC])
    for response in (
        client.post("/v1/ask", json={"question": ""}, headers={"Origin": CLINIC}),
        client.post("/v1/ask", content=b"x" * 10_000, headers={"Origin": CLINIC, "content-type": "application/json"}),
    ):
        assert response.status_code in (413, 422)
        assert response.headers["access-control-allow-origin"] == CLINIC


# --- API keys --------------------------------------------------------------------------------------------------------


def test_without_keys_configured_no_key_is_needed(app_for: Callable[..., TestClient]) -> None:
    assert app_for().post("/v1/ask", json=ASK).status_code == 200


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "missing_api_key"),
        ({"X-API-Key": "wrong"}, 401, "invalid_api_key"),
        ({"X-API-Key": "key-from-settings"}, 200, None),
        ({"X-API-Key": "key-from-file"}, 200, None),
    ],
)
def test_keys_from_settings_and_file_are_required_on_v1(
    app_for: Callable[..., TestClient], tmp_path: Path, headers: dict[str, str], status: int, code: str | None
) -> None:
    key_file = tmp_path / "keys.txt"
    key_file.write_text("# clinic A\nkey-from-file\n\n", encoding="utf-8")
    client = app_for(api_keys=["key-from-settings"], api_keys_file=key_file)
    for response in (client.post("/v1/ask", json=ASK, headers=headers), client.get("/v1/sources", headers=headers)):
        assert response.status_code == status
        if code is not None:
            assert response.json()["error"]["code"] == code
            assert response.headers["www-authenticate"].startswith("ApiKey")
    assert client.get("/healthz").status_code == 200  # probes need no key
    assert client.get("/readyz").status_code == 200


def test_load_api_keys_reads_settings_and_file(make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    key_file = tmp_path / "keys.txt"
    key_file.write_text("  a-key  \n# a comment\n\nb-key\n", encoding="utf-8")
    assert load_api_keys(make_settings(api_keys=["c-key", " "], api_keys_file=key_file)) == {"a-key", "b-key", "c-key"}


def test_a_missing_key_file_is_a_clear_error(make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    with pytest.raises(KbotError, match="Cannot read the API key file"):
        load_api_keys(make_settings(api_keys_file=tmp_path / "absent.txt"))


@pytest.mark.parametrize(("given", "valid"), [("k1", True), ("k2", True), ("k3", False), ("", False), (None, False)])
def test_key_checker(given: str | None, valid: bool) -> None:
    checker = KeyChecker(["k1", "k2"])
    assert checker.required
    assert checker.is_valid(given) is valid
    assert not KeyChecker([]).required


# --- rate limits -----------------------------------------------------------------------------------------------------


def test_over_the_limit_is_429_with_retry_after(app_for: Callable[..., TestClient]) -> None:
    client = app_for(rate_limit_per_minute=3)
    statuses = [client.post("/v1/ask", json=ASK).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = client.get("/v1/sources")
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert int(limited.headers["retry-after"]) >= 1
    assert client.get("/healthz").status_code == 200  # probes are not limited


def test_each_api_key_has_its_own_budget(app_for: Callable[..., TestClient]) -> None:
    client = app_for(rate_limit_per_minute=2, api_keys=["clinic-a", "clinic-b"])
    a = [client.get("/v1/sources", headers={"X-API-Key": "clinic-a"}).status_code for _ in range(3)]
    b = [client.get("/v1/sources", headers={"X-API-Key": "clinic-b"}).status_code for _ in range(2)]
    assert a == [200, 200, 429]
    assert b == [200, 200]


CRISIS = {"question": "I want to end my life tonight"}


def from_(address: str, key: str | None = None) -> dict[str, str]:
    """Headers of a request from ``address`` (through a trusted proxy), with ``key`` when given."""
    return {"X-Forwarded-For": address, **({"X-API-Key": key} if key else {})}


def test_one_client_cannot_use_up_its_clinics_budget(app_for: Callable[..., TestClient]) -> None:
    """A widget's key is in the clinic's page: a script that has it must not lock out the clinic's patients."""
    client = app_for(rate_limit_per_minute=2, api_keys=["clinic-a"], trust_forwarded_for=True)
    script = [client.post("/v1/ask", json=ASK, headers=from_("203.0.113.66", "clinic-a")) for _ in range(3)]
    assert [r.status_code for r in script] == [200, 200, 429]
    assert "within an API key" in script[-1].json()["error"]["message"]
    patient = client.post("/v1/ask", json=ASK, headers=from_("198.51.100.7", "clinic-a"))
    assert patient.status_code == 200


@pytest.mark.parametrize("keys", [[], ["clinic-a"]])
def test_a_crisis_gets_the_help_lines_even_over_the_limit(
    app_for: Callable[..., TestClient], fake_service: KbotService, keys: list[str]
) -> None:
    client = app_for(rate_limit_per_minute=1, api_keys=keys, trust_forwarded_for=True)
    headers = from_("203.0.113.9", keys[0] if keys else None)
    assert client.post("/v1/ask", json=ASK, headers=headers).status_code == 200
    assert client.post("/v1/ask", json=ASK, headers=headers).status_code == 429  # over the limit now
    crisis = client.post("/v1/ask", json=CRISIS, headers=headers)
    assert crisis.status_code == 200
    answer = crisis.json()
    expected = fake_service.ask(CRISIS["question"]).to_dict()
    assert {**answer, "answer_id": ""} == {**expected, "answer_id": ""}  # the very reply it gets under the limit
    assert answer["status"] == "crisis" and answer["resources"]
    assert answer["text"].startswith(answer["resources"][0]["action"])  # the help lines come first
    assert answer["text"].endswith(answer["notice"])
    assert client.get("/v1/sources", headers=headers).status_code == 429  # only a crisis passes


@pytest.mark.parametrize(("trusted", "separate"), [(True, True), (False, False)])
def test_forwarded_addresses_count_only_when_trusted(
    app_for: Callable[..., TestClient], trusted: bool, separate: bool
) -> None:
    client = app_for(rate_limit_per_minute=1, trust_forwarded_for=trusted)
    first = client.get("/v1/sources", headers={"X-Forwarded-For": "203.0.113.1"})
    second = client.get("/v1/sources", headers={"X-Forwarded-For": "203.0.113.2"})
    assert first.status_code == 200
    assert (second.status_code == 200) is separate


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_allows_a_burst_then_refills() -> None:
    clock = Clock()
    limiter = RateLimiter(60, clock=clock)  # one a second
    assert all(limiter.hit("a").allowed for _ in range(60))
    refused = limiter.hit("a")
    assert not refused.allowed and refused.retry_after == 1
    assert limiter.hit("b").allowed  # another caller has its own bucket
    clock.now += 1.0
    assert limiter.hit("a").allowed
    assert not limiter.hit("a").allowed


def test_retry_after_is_the_wait_for_one_token() -> None:
    clock = Clock()
    limiter = RateLimiter(2, clock=clock)  # one every 30 s
    assert limiter.hit("a").allowed and limiter.hit("a").allowed
    assert limiter.hit("a").retry_after == 30
    clock.now += 20
    assert limiter.hit("a").retry_after == 10


def test_a_zero_limit_is_off() -> None:
    limiter = RateLimiter(0)
    assert not limiter.enabled
    assert all(limiter.hit("a").allowed for _ in range(1000))


def test_idle_callers_are_forgotten_so_memory_stays_bounded() -> None:
    clock = Clock()
    limiter = RateLimiter(10, clock=clock, max_callers=100)
    for i in range(1000):
        limiter.hit(f"caller-{i}")
    assert len(limiter._buckets) <= 100
    clock.now += 120
    limiter.hit("late")
    assert len(limiter._buckets) == 1


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        ("10.0.0.5", None, False, "10.0.0.5"),
        ("10.0.0.5", "203.0.113.9", False, "10.0.0.5"),
        ("10.0.0.5", "203.0.113.9", True, "203.0.113.9"),
        ("10.0.0.5", "1.2.3.4, 203.0.113.9", True, "203.0.113.9"),  # the left entry is the client's, forgeable
        ("10.0.0.5", " , ", True, "10.0.0.5"),
        (None, None, False, "unknown"),
    ],
)
def test_client_address(peer: str | None, forwarded: str | None, trusted: bool, expected: str) -> None:
    assert client_address(peer, forwarded, trusted) == expected
