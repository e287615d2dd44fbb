"""Who is calling, and may they: per-clinic API keys and per-caller rate limits.

``RateLimiter`` is in-process: with several workers each process keeps its own counters, so the effective limit is
up to ``workers × rate_limit_per_minute``. With ``KBOT_REDIS_URL`` set, ``kbot.api.shared`` keeps one count for every
worker and replica instead (see the README's Several replicas).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from kbot.config import Settings
from kbot.errors import KbotError

API_KEY_HEADER = "X-API-Key"


def load_api_keys(settings: Settings) -> frozenset[str]:
    """The accepted keys: ``settings.api_keys`` plus one key per line of ``settings.api_keys_file`` (# comments)."""
    keys = {k.strip() for k in settings.api_keys if k.strip()}
    if settings.api_keys_file is not None:
        keys |= _read_key_file(settings.api_keys_file)
    return frozenset(keys | set(load_key_scopes(settings)))


def load_key_scopes(settings: Settings) -> dict[str, frozenset[str]]:
    """Keys limited to some knowledge bases (``KBOT_API_KEY_SCOPES``): a clinic's key reads only its own. A key not
    listed there may use every knowledge base."""
    return {k.strip(): frozenset(kbs) for k, kbs in settings.api_key_scopes.items() if k.strip()}


def _read_key_file(path: Path) -> set[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise KbotError(
            f"Cannot read the API key file {path}: {exc.strerror or exc}",
            fix="Create the file with one key per line, or unset KBOT_API_KEYS_FILE",
        ) from exc
    return {line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")}


class KeyChecker:
    """Checks X-API-Key against the accepted keys, in constant time per key. No keys configured: nothing required."""

    def __init__(self, keys: Iterable[str]) -> None:
        self._keys = tuple(k.encode() for k in keys)

    @property
    def required(self) -> bool:
        return bool(self._keys)

    def is_valid(self, key: str | None) -> bool:
        if key is None:
            return False
        given = key.encode()
        found = False
        for k in self._keys:
            found |= hmac.compare_digest(given, k)
        return found


def key_fingerprint(key: str) -> str:
    """A short, non-reversible name for a key: safe to keep in memory and in logs."""
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def client_address(peer: str | None, forwarded_for: str | None, trust_forwarded_for: bool) -> str:
    """The caller's address. Behind a trusted proxy, the right-most X-Forwarded-For entry is the one the proxy saw
    (entries further left are written by the client and can be forged)."""
    if trust_forwarded_for and forwarded_for:
        last = forwarded_for.split(",")[-1].strip()
        if last:
            return last
    return peer or "unknown"


def caller_id(valid_key: str | None, address: str) -> str:
    """Who is calling, for their rate limit and their share of the answer cache: the client's address, within their
    API key when they sent a valid one. A clinic's key is public (it is in the widget's page), so a key alone would
    let one script use up every patient's budget, and let anyone see from a cache hit what others asked."""
    where = "addr:" + address
    return f"key:{key_fingerprint(valid_key)} {where}" if valid_key is not None else where


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int = 0  # whole seconds until one more request is allowed


class Limiter(Protocol):
    """What the API's guard asks before a /v1/ request: the in-process limiter, or the one shared through Redis."""

    per_minute: int

    async def acquire(self, caller: str) -> Decision: ...


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """A token bucket per caller: ``per_minute`` requests in a burst, refilled at ``per_minute / 60`` per second.

    Buckets that have refilled completely carry no information and are dropped, so memory stays bounded by the number
    of callers seen within about a minute (and at most ``max_callers``).
    """

    def __init__(
        self, per_minute: int, clock: Callable[[], float] = time.monotonic, max_callers: int = 100_000
    ) -> None:
        self.per_minute = per_minute
        self._rate = per_minute / 60.0
        self._clock = clock
        self._max_callers = max_callers
        self._buckets: dict[str, _Bucket] = {}
        self._next_sweep = 0.0

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    async def acquire(self, caller: str) -> Decision:
        return self.hit(caller)

    def hit(self, caller: str) -> Decision:
        if not self.enabled:
            return Decision(True)
        now = self._clock()
        self._sweep(now)
        bucket = self._buckets.get(caller)
        if bucket is None:
            bucket = self._buckets[caller] = _Bucket(float(self.per_minute), now)
        bucket.tokens = min(float(self.per_minute), bucket.tokens + (now - bucket.stamp) * self._rate)
        bucket.stamp = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return Decision(True)
        return Decision(False, retry_after=max(1, math.ceil((1.0 - bucket.tokens) / self._rate - 1e-9)))

    def _sweep(self, now: float) -> None:
        if now < self._next_sweep and len(self._buckets) < self._max_callers:
            return
        self._next_sweep = now + 60.0
        full_after = 60.0  # seconds for an empty bucket to refill
        for caller in [c for c, b in self._buckets.items() if now - b.stamp >= full_after]:
            del self._buckets[caller]
        if len(self._buckets) >= self._max_callers:  # still full: forget the longest-idle half
            by_age = sorted(self._buckets, key=lambda c: self._buckets[c].stamp)
            for caller in by_age[: len(by_age) - self._max_callers // 2]:
                del self._buckets[caller]
