"""uvicorn's h11 protocol with the two guards a server facing the internet needs and uvicorn does not give:

* a request line and headers over ``KBOT_MAX_HEADER_BYTES`` get 431 (h11 stops reading them at that size, with
  ``h11_max_incomplete_event_size``; uvicorn would answer a plain 400);
* a connection that starts a request must send all of its headers within ``KBOT_READ_TIMEOUT_S`` seconds, or it gets
  408 and is closed (uvicorn waits forever, so a few thousand half-sent requests would stay open indefinitely).

A connection that sends nothing is closed after ``KBOT_IDLE_TIMEOUT_S``, like uvicorn's keep-alive timeout between
requests. The body's own timeout is the app's (``BodySizeLimit``), where it can answer in the API's error shape. h11,
not httptools: httptools has no header size limit at all.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import sys
import uuid
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from kbot.api.middleware import UNKNOWN_ROUTE
from kbot.config import load_settings

log = logging.getLogger("kbot.api")


@functools.cache
def read_timeout_s() -> float:
    """From the same ``KBOT_*`` environment the app reads (``kbot serve`` exports its settings there)."""
    return load_settings().read_timeout_s


class GuardedH11Protocol(H11Protocol):
    """``H11Protocol`` plus a 431 for oversized headers and one timer: idle (nothing sent yet) or read (headers
    started, not finished)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._timer: asyncio.TimerHandle | None = None
        self._reading = False  # the timer running is the read timer

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start(self.timeout_keep_alive, self._close_idle)

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE and not self._reading:  # the first bytes of a request
            self._start(read_timeout_s(), self._refuse_slow)
            self._reading = True
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the headers are in (or the request was refused)
            self._stop()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        """uvicorn calls this while it handles h11's error, which hints 431 when the headers were too large."""
        error = sys.exc_info()[1]
        if isinstance(error, h11.RemoteProtocolError) and error.error_status_hint == 431:
            limit = self.config.h11_max_incomplete_event_size
            self._refuse(431, "headers_too_large", f"The request line and headers are over {limit} bytes")
        else:
            super().send_400_response(msg)

    def _start(self, seconds: float, handler: Callable[[], None]) -> None:
        self._stop()
        self._timer = self.loop.call_later(seconds, handler)

    def _stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._reading = None, False

    def _close_idle(self) -> None:
        self._timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def _refuse_slow(self) -> None:
        self._timer, self._reading = None, False
        if not self.transport.is_closing():
            self._refuse(408, "request_timeout", f"The request's headers took over {read_timeout_s():g} s to arrive")

    def _refuse(self, status: int, code: str, message: str) -> None:
        """Answer in the API's error shape and close. The request never reached the app: this logs it instead."""
        request_id = uuid.uuid4().hex
        body = json.dumps({"error": {"code": code, "message": message, "request_id": request_id}}).encode()
        head = (
            f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nx-request-id: {request_id}\r\nx-content-type-options: nosniff\r\n"
            "connection: close\r\n\r\n"
        )
        self.transport.write(head.encode() + body)
        self.transport.close()
        log.info("request_id=%s method=- path=%s status=%d outcome=%s", request_id, UNKNOWN_ROUTE, status, code)
