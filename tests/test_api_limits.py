"""The server's limits against clients that misbehave, on a real ``kbot.api.server`` process on loopback: headers
too large (431), headers or a body sent too slowly (408), connections that send nothing (closed), and the cap on
open connections (503 beyond it, served again once they close). Bounded counts, short limits, loopback only; no
assertion on how fast anything is."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from kbot.embedding import FakeEmbedder
from test_api_server import running_server

pytestmark = pytest.mark.server

HEADER_LIMIT = 4096
MAX_CONNECTIONS = 6
WAIT_S = 30  # how long a test waits for the server to answer or close: a bound against hanging, not a threshold


@pytest.fixture(scope="module")
def server(fake_index_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int, Path]]:
    log = tmp_path_factory.mktemp("limits") / "server.log"
    settings = {
        "KBOT_MODEL_NAME": FakeEmbedder.name,
        "KBOT_MAX_HEADER_BYTES": str(HEADER_LIMIT),
        "KBOT_READ_TIMEOUT_S": "1",
        "KBOT_IDLE_TIMEOUT_S": "1",
        "KBOT_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
    }
    with running_server(fake_index_dir, log, **settings) as base:
        yield base, int(base.rsplit(":", 1)[1]), log


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT_S)
    return sock


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def healthy(base: str) -> bool:
    return httpx.get(f"{base}/healthz", timeout=WAIT_S).status_code == 200


def test_headers_over_the_limit_get_431(server: tuple[str, int, Path]) -> None:
    base, port, log = server
    with connect(port) as sock:
        # twice the limit, all of which the server reads before it answers (were it still sending, the server's
        # close would reset the connection, and the reply could be lost before this reads it)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (2 * HEADER_LIMIT))
        reply = read_all(sock)
    assert reply.startswith(b"HTTP/1.1 431 "), reply[:200]
    assert b'"code": "headers_too_large"' in reply
    headers_within = {"X-Fine": "a" * (HEADER_LIMIT // 2)}
    assert httpx.get(f"{base}/healthz", headers=headers_within, timeout=WAIT_S).status_code == 200
    assert "status=431 outcome=headers_too_large" in log.read_text()


def test_the_server_stops_reading_a_huge_header(server: tuple[str, int, Path]) -> None:
    """The issue's 150 MB header, cut down to 32 MB: the server closes the connection long before it has it all,
    instead of buffering it (more than the loopback socket buffers hold, so sending it all cannot succeed)."""
    base, port, _ = server
    chunk = b"a" * 65536
    with connect(port) as sock, pytest.raises(ConnectionError):
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
        for _ in range(32 * 1024 * 1024 // len(chunk)):
            sock.sendall(chunk)
    assert healthy(base)


def test_headers_sent_too_slowly_get_408_and_the_connection_closes(server: tuple[str, int, Path]) -> None:
    base, port, _ = server
    with connect(port) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the blank line that ends the headers
        reply = read_all(sock)
    assert reply.startswith(b"HTTP/1.1 408 "), reply[:200]
    assert b'"code": "request_timeout"' in reply
    assert healthy(base)


def test_a_body_sent_too_slowly_gets_408(server: tuple[str, int, Path]) -> None:
    _, port, _ = server
    with connect(port) as sock:
        head = b"POST /v1/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
        sock.sendall(head + b'{"question": ')  # 13 of the 100 bytes announced
        reply = read_all(sock)
    assert reply.startswith(b"HTTP/1.1 408 "), reply[:200]
    assert b'"request_timeout"' in reply and b"x-request-id" in reply.lower()


def test_a_connection_that_sends_nothing_is_closed(server: tuple[str, int, Path]) -> None:
    _, port, _ = server
    with connect(port) as sock:
        assert read_all(sock) == b""  # closed by the server, without a word


def test_connections_over_the_cap_get_503_until_some_close(server: tuple[str, int, Path]) -> None:
    base, port, _ = server
    with ExitStack() as stack:
        for _ in range(MAX_CONNECTIONS):  # half-sent requests, each holding a connection open
            stack.enter_context(connect(port)).sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        with connect(port) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert read_all(sock).startswith(b"HTTP/1.1 503 ")
    assert healthy(base)  # served again once they are gone


def test_many_half_sent_requests_are_all_closed(server: tuple[str, int, Path]) -> None:
    """The issue's 3,000 half-sent requests, scaled down: every one is answered 408 and closed, none stays open."""
    base, port, _ = server
    with ExitStack() as stack:
        socks = [stack.enter_context(connect(port)) for _ in range(MAX_CONNECTIONS - 1)]
        for sock in socks:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        replies = [read_all(sock) for sock in socks]
    assert all(r.startswith(b"HTTP/1.1 408 ") for r in replies)
    assert healthy(base)
