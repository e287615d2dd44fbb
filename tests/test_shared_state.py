"""Rate limits and the answer cache shared through a real Redis (KBOT_REDIS_URL): two `kbot serve` processes share
one limit and one cache; a new index build never serves an old answer; Redis holds no question text; and with Redis
down every question is still answered (never a 500). Fake model throughout; needs Debian's redis-server
(scripts/test installs it)."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import redis
from fastapi.testclient import TestClient

from kbot.api import create_app
from kbot.api.batching import CachedAsker, MicroBatcher
from kbot.api.shared import RedisHealth, SharedAnswerCache, decode_answer, encode_answer
from kbot.config import Settings, load_settings
from kbot.domain import Answer, ClinicContact, GlossaryEntry, Quote, SourceMeta, SourceRef, Status
from kbot.embedding import FakeEmbedder
from kbot.errors import InvalidSettings
from kbot.service import KbotService
from test_api_server import free_port, running_server

pytestmark = pytest.mark.redis
SECRET = "MY-PRIVATE-DIAGNOSIS-4417"
LIMIT = 5


@contextmanager
def redis_server(folder: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A real redis-server on a free loopback port, in ``folder``, persisting nothing; stopped afterwards."""
    server = shutil.which("redis-server")
    assert server, "redis-server is missing: run scripts/install-redis (Debian's redis-server package)"
    port = free_port()
    command = [server, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(folder), "--save", ""]
    process = subprocess.Popen([*command, "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    client = redis.Redis(port=port, socket_timeout=1)
    deadline = time.monotonic() + 20
    try:
        while True:
            assert process.poll() is None, "redis-server exited at start"
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not answer within 20 s"
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0", process
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as (url, _):
        yield url


@pytest.fixture
def store(redis_url: str) -> redis.Redis:
    """A client of the test Redis, emptied before each test."""
    client = redis.Redis.from_url(redis_url)
    client.flushall()
    return client


def _everything_in(store: redis.Redis) -> bytes:
    """Every key and every string value Redis holds (the limiter's sorted sets are keys and timestamps)."""
    out = b""
    for key in store.scan_iter():
        out += key + b"\n"
        if store.type(key) == b"string":
            out += store.get(key) or b""
    return out


# ------------------------------------------------------------------------------------- two real server processes


@pytest.fixture(scope="module")
def two_servers(fake_index_dir: Path, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    folder = tmp_path_factory.mktemp("servers")
    env = {"KBOT_MODEL_NAME": FakeEmbedder.name, "KBOT_REDIS_URL": redis_url}
    env |= {"KBOT_RATE_LIMIT_PER_MINUTE": str(LIMIT), "KBOT_MIN_DENSE_SCORE": "0.55", "KBOT_MIN_COVERAGE": "0.6"}
    with (
        running_server(fake_index_dir, folder / "a.log", **env) as a,
        running_server(fake_index_dir, folder / "b.log", **env) as b,
    ):
        yield [a, b]


@pytest.mark.server
def test_two_server_processes_share_one_rate_limit(two_servers: list[str], store: redis.Redis) -> None:
    statuses = [httpx.get(f"{two_servers[i % 2]}/v1/sources", timeout=10).status_code for i in range(LIMIT)]
    assert statuses == [200] * LIMIT
    for base in two_servers:  # the next request is over the limit, whichever process it reaches
        refused = httpx.get(f"{base}/v1/sources", timeout=10)
        assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(refused.headers["retry-after"]) <= 60


@pytest.mark.server
def test_a_second_process_serves_the_first_ones_answer_from_redis(
    two_servers: list[str], store: redis.Redis, tmp_path_factory: pytest.TempPathFactory
) -> None:
    question = {"question": f"What are the side effects? {SECRET}"}
    first = httpx.post(f"{two_servers[0]}/v1/ask", json=question, timeout=30)
    second = httpx.post(f"{two_servers[1]}/v1/ask", json=question, timeout=30)
    assert first.status_code == second.status_code == 200
    one, two = first.json(), second.json()
    assert one.pop("answer_id") != two.pop("answer_id")  # each answer sent has its own id, a cached one included
    assert two == one  # the asker's own wording is put back
    assert SECRET not in _everything_in(store).decode("utf-8", "replace"), "Redis holds no question text"
    assert store.keys("kbot:answer:default:*"), "the answer was cached in Redis, under its knowledge base"
    server_b = httpx.get(f"{two_servers[1]}/readyz", timeout=10).json()
    assert server_b["redis"] == {"status": "ok", "errors": 0}


# ------------------------------------------------------------------------------------- the cache, keyed by build


def _answer(text: str) -> Answer:
    meta = SourceMeta("a", "a.md", "Title", "Publisher", url="https://a.example/x", do_not_quote=("never",))
    quote = Quote(text, "a", "a.md", 0, len(text), 0.9, 1, ("b",), "https://a.example/x#:~:text=x")
    refs = (SourceRef(1, meta),)
    return Answer(Status.ANSWERED, "the question", (quote,), refs, "Notice.", f"“{text}” [1]\n\nNotice.")


def test_an_answer_is_stored_without_its_question_and_read_back_whole() -> None:
    answer = dataclasses.replace(
        _answer("Mild."),
        question=SECRET,
        evidence={"dense": 0.7},
        follow_ups=("What is it?",),
        glossary=(GlossaryEntry("term", "A term is a word.", "a", 0, 17),),
        contact=ClinicContact(phone="555-0100"),
    )
    raw = encode_answer(answer)
    assert SECRET.encode() not in raw
    assert decode_answer(raw) == dataclasses.replace(answer, question="")


def _asker(redis_url: str, calls: list[str]) -> CachedAsker:
    """One worker's asker over a model that answers each question with a new text (so a cache hit shows)."""

    def ask_batch(questions: Sequence[str], kbs: Sequence[str]) -> list[Answer]:
        calls.extend(questions)
        return [_answer(f"Answer number {len(calls)}.") for _ in questions]

    batcher = MicroBatcher(ask_batch, max_batch=4, wait_ms=0)
    batcher.start()
    return CachedAsker(batcher, 16, SharedAnswerCache(redis_url, RedisHealth(), fingerprint="f"))


def test_workers_share_answers_of_one_build_and_a_new_build_never_serves_an_old_answer(
    redis_url: str, store: redis.Redis
) -> None:
    async def scenario() -> list[tuple[str, bool]]:
        calls: list[str] = []
        one, two = _asker(redis_url, calls), _asker(redis_url, calls)
        seen = []
        for asker, build in ((one, "b1"), (two, "b1"), (two, "b2"), (one, "b2")):
            answer, cached = await asker.ask("Is it safe?", "default", caller="addr:1", build=build)
            seen.append((answer.quotes[0].text, cached))
        other_caller, cached = await two.ask("Is it safe?", "default", caller="addr:2", build="b2")
        seen.append((other_caller.quotes[0].text, cached))
        for asker in (one, two):
            await asker.batcher.stop()
        return seen

    assert asyncio.run(scenario()) == [
        ("Answer number 1.", False),
        ("Answer number 1.", True),  # another worker, same build: from Redis
        ("Answer number 2.", False),  # a new build: never the old answer
        ("Answer number 2.", True),
        ("Answer number 3.", False),  # another caller: never someone else's cached answer
    ]


# ------------------------------------------------------------------------------------------------ Redis down


@pytest.fixture
def fake_app(make_settings: Callable[..., Settings], fake_index_dir: Path) -> Callable[..., TestClient]:
    def make(**overrides: object) -> TestClient:
        settings = make_settings(index_dir=fake_index_dir, model_name=FakeEmbedder.name, **overrides)
        return TestClient(create_app(settings, KbotService.load(settings, embedder=FakeEmbedder())))

    return make


def test_with_redis_unreachable_questions_are_answered_and_the_worker_limits_on_its_own(
    fake_app: Callable[..., TestClient],
) -> None:
    closed = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    with fake_app(redis_url=closed, rate_limit_per_minute=3) as client:
        asks = [client.post("/v1/ask", json={"question": "What are the side effects?"}) for _ in range(4)]
        statuses = [response.status_code for response in asks]
        ready = client.get("/readyz").json()
    assert statuses == [200, 200, 200, 429]
    assert ready["redis"]["status"] == "unavailable" and ready["redis"]["errors"] >= 1


def test_when_redis_stops_the_answers_go_on(
    fake_app: Callable[..., TestClient], tmp_path_factory: pytest.TempPathFactory
) -> None:
    with (
        redis_server(tmp_path_factory.mktemp("redis")) as (url, process),
        fake_app(redis_url=url, rate_limit_per_minute=50) as client,
    ):
        assert client.post("/v1/ask", json={"question": "Is it addictive?"}).status_code == 200
        assert client.get("/readyz").json()["redis"] == {"status": "ok", "errors": 0}
        process.terminate()
        process.wait(timeout=10)
        after = client.post("/v1/ask", json={"question": "What are the side effects?"})
        assert after.status_code == 200 and after.json()["status"] in ("answered", "no_answer")
        assert client.get("/readyz").json()["redis"]["status"] == "unavailable"


def test_a_worker_connects_at_start_so_that_the_first_question_does_not_pay_for_it(
    fake_app: Callable[..., TestClient], redis_url: str, store: redis.Redis
) -> None:
    with fake_app(redis_url=redis_url, rate_limit_per_minute=50) as client:
        before_any_request = [key.decode() for key in store.scan_iter()]
        assert client.get("/readyz").json()["redis"] == {"status": "ok", "errors": 0}
    assert [key for key in before_any_request if "warm-up" in key], before_any_request


@pytest.mark.parametrize("url", ["localhost:6379", "http://cache:6379", "redis://"])
def test_a_redis_url_that_is_not_one_is_a_clear_settings_error(url: str) -> None:
    with pytest.raises(InvalidSettings, match="KBOT_REDIS_URL"):
        load_settings(redis_url=url)


def test_without_a_redis_url_readyz_says_nothing_of_redis(fake_app: Callable[..., TestClient]) -> None:
    with fake_app() as client:
        assert "redis" not in client.get("/readyz").json()
