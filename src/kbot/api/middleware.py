"""Two small ASGI middlewares: a request id, one privacy-safe log line and a JSON 500 for every request; and a cap
on request bodies (413) and on the time they take to arrive (408). Plain ASGI, not BaseHTTPMiddleware: they add next
to nothing to each request."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import traceback
import uuid
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("kbot.api")
REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
UNKNOWN_ROUTE = "(unknown)"


def error_body(scope: Scope, code: str, message: str, **extra: Any) -> dict[str, Any]:
    """The uniform error shape. ``extra`` entries that are None are left out."""
    request_id = scope.get("state", {}).get("request_id", "")
    detail = {"code": code, "message": message, "request_id": request_id}
    detail.update({k: v for k, v in extra.items() if v is not None})
    return {"error": detail}


async def _send_json(send: Send, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
    payload = json.dumps(body).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})


class RequestContext:
    """Gives each request an id (the caller's X-Request-ID when it is a safe token, else a new one), returns it in
    the X-Request-ID header, answers unhandled errors with a JSON 500, and logs one line per request: id, method,
    the route's template (never the path as sent, nor its query string), status, latency and outcome. Question text
    only when ``log_questions`` is on."""

    def __init__(self, app: ASGIApp, log_questions: bool = False, known_paths: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.log_questions = log_questions
        self.known_paths = known_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started_at = time.perf_counter()
        state: dict[str, Any] = scope.setdefault("state", {})
        request_id = _request_id(scope)
        state["request_id"] = request_id
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID_HEADER] = request_id
                headers["X-Content-Type-Options"] = "nosniff"
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            self._log_exception(request_id, exc)
            state["outcome"] = "internal_error"
            if not response_started:
                body = error_body(scope, "internal_error", "kbot failed to handle this request; quote the request id")
                await _send_json(send_with_id, 500, body)
        finally:
            self._log(scope, state, status, (time.perf_counter() - started_at) * 1000)

    def _log(self, scope: Scope, state: dict[str, Any], status: int, latency_ms: float) -> None:
        outcome = state.get("outcome") or ("ok" if status < 400 else "error")
        route = route_template(scope, self.known_paths)
        line = (
            f"request_id={state['request_id']} method={scope['method'][:16]} path={route} "
            f"status={status} latency_ms={latency_ms:.1f} outcome={outcome}"
        )
        if "cache" in state:
            line += f" cache={state['cache']}"
        if self.log_questions and "question" in state:
            line += f" question={json.dumps(state['question'], ensure_ascii=False)}"  # quoted: no log injection
        log.info(line)

    def _log_exception(self, request_id: str, exc: Exception) -> None:
        if self.log_questions:
            log.error("request_id=%s unhandled error", request_id, exc_info=exc)
            return
        # The message of an exception may quote the question: keep only its type and where it happened.
        frames = "".join(traceback.format_tb(exc.__traceback__))
        log.error("request_id=%s unhandled %s (message withheld)\n%s", request_id, type(exc).__name__, frames)


def route_template(scope: Scope, known_paths: frozenset[str] = frozenset()) -> str:
    """The route a request went to, as declared (``/v1/sources/{source_id}``), never the path as sent: a path is
    typed by the caller (a patient may put anything in it, a newline that forges a log line included). A request
    refused before routing (a body over the cap, a CORS preflight) is named by its path only when that is one of
    ``known_paths``; anything else is ``UNKNOWN_ROUTE``."""
    path = getattr(scope.get("route"), "path", None)
    if isinstance(path, str):
        return path
    return scope["path"] if scope["path"] in known_paths else UNKNOWN_ROUTE


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate: str = value.decode("latin-1")
            if _SAFE_ID.fullmatch(candidate):
                return candidate
            break
    return uuid.uuid4().hex


class _BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    """Refuses request bodies over ``max_bytes`` with 413, whether announced by Content-Length or streamed, and bodies
    that take over ``timeout_s`` seconds to arrive with 408 (a client that sends a byte a minute must not hold a
    connection for ever).

    The body (small by construction) is read here and replayed to the app."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout_s: float = 10.0) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            if _content_length(scope) > self.max_bytes:
                raise _BodyTooLarge
            async with asyncio.timeout(self.timeout_s):
                body = await self._read(receive)
        except _BodyTooLarge:
            message = (
                f"The request body is over {self.max_bytes} bytes; a question is at most a few thousand characters"
            )
            await _refuse(scope, send, 413, "body_too_large", message)
            return
        except TimeoutError:
            await _refuse(scope, send, 408, "request_timeout", f"The body took over {self.timeout_s:g} s to arrive")
            return
        if body is None:  # the client went away
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _read(self, receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                raise _BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


async def _refuse(scope: Scope, send: Send, status: int, code: str, message: str) -> None:
    scope.setdefault("state", {})["outcome"] = code
    await _send_json(send, status, error_body(scope, code, message), {"Connection": "close"})


def _content_length(scope: Scope) -> int:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0
