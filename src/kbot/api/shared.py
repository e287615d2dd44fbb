"""What every worker and replica shares through Redis when ``KBOT_REDIS_URL`` is set: the rate limits (the ``limits``
package's moving window, kept in Redis) and the answer cache. Without it, each worker keeps its own
(``security.RateLimiter``, the LRU cache of ``batching.CachedAsker``).

Redis helps; an answer never depends on it. When it cannot be reached, a request is limited by the worker's own
limiter and answered without the shared cache; the outage is logged once, counted (``GET /readyz``'s ``redis``), and
Redis is tried again after a pause, so a dead Redis costs no request more than ``REDIS_TIMEOUT_S``.

Redis holds no question text: a cache key is a hash of the caller, the question and what shapes an answer, and a cached
answer is stored with its ``question`` blank (the asker's own wording is put back when it is served).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import math
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import redis.asyncio as aioredis
from limits import RateLimitItemPerMinute
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter

from kbot import __version__
from kbot.api.security import Decision, RateLimiter
from kbot.config import Settings
from kbot.domain import Answer, ClinicContact, GlossaryEntry, Quote, Resource, SourceMeta, SourceRef, Status
from kbot.reader import reader_id

log = logging.getLogger("kbot.api")
REDIS_TIMEOUT_S = 0.5  # the longest one Redis call may hold a request
WARM_UP_TIMEOUT_S = 3.0  # the first calls (a connection, the limiter's scripts) are made at start, with more time
WARM_UP_CALLER = "kbot:warm-up"  # the rate-limit key the warm-up spends one hit of; no caller has it
RETRY_AFTER_S = 5.0  # after a failure, how long the worker does without Redis before trying again
CACHE_TTL_S = 3600  # a cached answer's life; Redis's own maxmemory policy bounds the total (see compose.yaml)
KEY_PREFIX = "kbot"
T = TypeVar("T")


class RedisHealth:
    """Whether Redis is usable now, and how many calls to it failed since the worker started."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.errors = 0
        self._clock = clock
        self._down = False
        self._retry_at = 0.0

    @property
    def available(self) -> bool:
        return not self._down or self._clock() >= self._retry_at

    def failed(self, what: str, exc: BaseException) -> None:
        self.errors += 1
        self._retry_at = self._clock() + RETRY_AFTER_S
        if not self._down:  # one line per outage, not one per request
            self._down = True
            log.warning(
                "Redis cannot be reached (%s, %s): per-worker rate limits and no shared cache until it can",
                what,
                type(exc).__name__,
            )

    def succeeded(self) -> None:
        if self._down:
            self._down = False
            log.info("Redis can be reached again: rate limits and the answer cache are shared again")

    def state(self) -> dict[str, Any]:
        return {"status": "unavailable" if self._down else "ok", "errors": self.errors}


class _PerLoop(Generic[T]):
    """A client made on first use in each event loop (an asyncio Redis connection belongs to the loop that made it)."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._loop: asyncio.AbstractEventLoop | None = None
        self._value: T | None = None

    def get(self) -> T:
        loop = asyncio.get_running_loop()
        if self._value is None or self._loop is not loop:
            self._value, self._loop = self._make(), loop
        return self._value


class SharedRateLimiter:
    """``per_minute`` requests per caller in any 60 seconds, counted in Redis across every worker and replica."""

    def __init__(self, url: str, per_minute: int, health: RedisHealth, fallback: RateLimiter) -> None:
        self.per_minute = per_minute
        self._item = RateLimitItemPerMinute(max(per_minute, 1))
        self._health, self._fallback = health, fallback
        options: dict[str, Any] = {"socket_timeout": REDIS_TIMEOUT_S, "socket_connect_timeout": REDIS_TIMEOUT_S}
        self._limiter = _PerLoop(
            lambda: MovingWindowRateLimiter(
                RedisStorage(
                    "async+" + url, implementation="redispy", wrap_exceptions=True, key_prefix=KEY_PREFIX, **options
                )
            )
        )

    async def acquire(self, caller: str) -> Decision:
        if self.per_minute <= 0:
            return Decision(True)
        if not self._health.available:
            return self._fallback.hit(caller)
        try:
            async with asyncio.timeout(REDIS_TIMEOUT_S):
                decision = await self._hit(caller)
        except Exception as exc:  # Redis down, slow or refusing: the worker's own limiter takes over
            self._health.failed("rate limits", exc)
            return self._fallback.hit(caller)
        self._health.succeeded()
        return decision

    async def warm_up(self) -> None:
        """Connects and has Redis load the scripts of a hit and of a refusal: the first patient does not pay them."""
        if self.per_minute > 0:
            limiter = self._limiter.get()
            await limiter.hit(self._item, WARM_UP_CALLER)
            await limiter.get_window_stats(self._item, WARM_UP_CALLER)

    async def _hit(self, caller: str) -> Decision:
        limiter = self._limiter.get()
        if await limiter.hit(self._item, caller):
            return Decision(True)
        stats = await limiter.get_window_stats(self._item, caller)
        return Decision(False, retry_after=max(1, math.ceil(stats.reset_time - time.time())))


class SharedAnswerCache:
    """Answers in Redis, per knowledge base build and caller: a new build never serves an old build's answer."""

    def __init__(self, url: str, health: RedisHealth, fingerprint: str, ttl_s: int = CACHE_TTL_S) -> None:
        self._health, self._fingerprint, self._ttl = health, fingerprint, ttl_s
        self._client = _PerLoop(
            lambda: aioredis.Redis.from_url(url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S)
        )

    def key(self, caller: str, kb: str, build: str, normalised_question: str) -> str:
        digest = hashlib.sha256("\0".join((self._fingerprint, caller, normalised_question)).encode()).hexdigest()
        return f"{KEY_PREFIX}:answer:{kb}:{build}:{digest}"

    async def get(self, key: str) -> Answer | None:
        raw = await self._call("the answer cache", lambda client: client.get(key))
        if not isinstance(raw, bytes):
            return None
        try:
            return decode_answer(raw)
        except (ValueError, TypeError, KeyError):  # written by another version of kbot: a miss
            return None

    async def put(self, key: str, answer: Answer) -> None:
        await self._call("the answer cache", lambda client: client.set(key, encode_answer(answer), ex=self._ttl))

    async def warm_up(self) -> None:
        await self._client.get().ping()

    async def _call(self, what: str, command: Callable[[aioredis.Redis], Any]) -> Any:
        if not self._health.available:
            return None
        try:
            async with asyncio.timeout(REDIS_TIMEOUT_S):
                result = await command(self._client.get())
        except Exception as exc:  # Redis down or slow: answer without the shared cache
            self._health.failed(what, exc)
            return None
        self._health.succeeded()
        return result


@dataclasses.dataclass
class SharedState:
    """The Redis-backed limiter and cache of one worker, and their health."""

    health: RedisHealth
    limiter: SharedRateLimiter
    cache: SharedAnswerCache

    @classmethod
    def connect(cls, settings: Settings, url: str) -> SharedState:
        """Nothing is sent to Redis until the first request: a Redis that is down does not stop a worker starting."""
        health = RedisHealth()
        fallback = RateLimiter(settings.rate_limit_per_minute)
        limiter = SharedRateLimiter(url, settings.rate_limit_per_minute, health, fallback)
        return cls(health, limiter, SharedAnswerCache(url, health, answer_fingerprint(settings)))

    async def warm_up(self) -> None:
        """The worker's first calls to Redis, made at start with ``WARM_UP_TIMEOUT_S``: a connection and a script upload
        can take longer than a request may wait on a busy machine. A Redis that is down is noted, and start goes on."""
        try:
            async with asyncio.timeout(WARM_UP_TIMEOUT_S):
                await self.limiter.warm_up()
                await self.cache.warm_up()
        except Exception as exc:
            self.health.failed("warm-up", exc)
        else:
            self.health.succeeded()


def answer_fingerprint(settings: Settings) -> str:
    """What shapes an answer besides the question and the index build: replicas configured alike share answers."""
    shaping = settings.model_dump(
        mode="json",
        include={"model_name", "passage_sentences", "top_passages", "max_quotes", "notice", "help_lines"}
        | {"min_dense_score", "min_coverage", "min_coverage_dense"},
    )
    shaping["reader"] = reader_id(settings)  # its name and its weights' digest
    return hashlib.sha256(json.dumps([__version__, shaping], sort_keys=True).encode()).hexdigest()[:16]


def encode_answer(answer: Answer) -> bytes:
    """The answer as JSON, without the question's text."""
    return json.dumps(dataclasses.asdict(dataclasses.replace(answer, question="")), ensure_ascii=False).encode()


def decode_answer(raw: bytes) -> Answer:
    data = json.loads(raw)
    data["status"] = Status(data["status"])
    data["quotes"] = tuple(Quote(**{**q, "also_in": tuple(q["also_in"])}) for q in data["quotes"])
    data["sources"] = tuple(SourceRef(r["citation"], _meta(r["meta"])) for r in data["sources"])
    data["suggestions"] = tuple(data["suggestions"])
    data["resources"] = tuple(Resource(**r) for r in data["resources"])
    data["follow_ups"] = tuple(data["follow_ups"])
    data["glossary"] = tuple(GlossaryEntry(**g) for g in data["glossary"])
    data["contact"] = ClinicContact(**data["contact"]) if data["contact"] else None
    return Answer(**data)


def _meta(data: dict[str, Any]) -> SourceMeta:
    return SourceMeta(**{**data, "do_not_quote": tuple(data.get("do_not_quote", ()))})
