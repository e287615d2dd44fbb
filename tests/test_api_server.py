"""The real server process: started on a free loopback port, asked a question over HTTP, then stopped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from kbot.api.schemas import AnswerOut
from kbot.api.server import export_settings
from kbot.config import Settings
from kbot.embedding import FakeEmbedder

ROOT = Path(__file__).resolve().parents[1]
SECRET = "MY-PRIVATE-DIAGNOSIS-7781"
READY_WITHIN_S = 120  # a generous bound on a loaded CI machine; the benchmark measures the real cold start


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(index_dir: Path, log: Path, **env: str) -> Iterator[str]:
    """``python -m kbot.api.server`` (what ``kbot serve`` runs) on a free port; yields its base URL once ready."""
    port = free_port()
    environ = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "KBOT_INDEX_DIR": str(index_dir),
        "KBOT_SEEDS_DIR": str(ROOT / "seeds"),
        "KBOT_WEB_DIR": str(ROOT / "web"),
        "KBOT_VAR_DIR": str(log.parent / "var"),  # its database of answers and feedback
        "KBOT_READER": "false",  # as conftest's make_settings: the tests' indexes are built for no reader
        **env,
    }
    command = [sys.executable, "-m", "kbot.api.server", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("w") as out:
        process = subprocess.Popen(command, env=environ, cwd=log.parent, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_WITHIN_S
        while True:
            assert process.poll() is None, f"the server exited:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"not ready within {READY_WITHIN_S} s:\n{log.read_text()}"
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        yield base
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def ask_over_http(base: str) -> None:
    with httpx.Client(base_url=base, timeout=30) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        response = client.post("/v1/ask", json={"question": f"Is ketamine an opioid? {SECRET}"})
        assert response.status_code == 200, response.text
        assert response.headers["x-request-id"]
        answer = AnswerOut.model_validate(response.json())
        assert answer.text.endswith(answer.notice)
        sources = client.get("/v1/sources").json()["sources"]
        for quote in answer.quotes:
            assert quote.source_id in {s["id"] for s in sources}
        assert client.get("/v1/ask", params={"question": SECRET}).status_code == 405


def check_log(log: Path) -> None:
    text = log.read_text()
    assert "request_id=" in text and "path=/v1/ask status=200" in text
    assert SECRET not in text, "neither the question nor a URL's query string is logged"


@pytest.mark.server
def test_the_server_answers_over_http(fake_index_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    with running_server(fake_index_dir, log, KBOT_MODEL_NAME=FakeEmbedder.name) as base:
        ask_over_http(base)
    check_log(log)


@pytest.mark.server
def test_the_server_answers_with_the_real_model(real_index_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    with running_server(real_index_dir, log) as base:
        ask_over_http(base)
        answer = httpx.post(f"{base}/v1/ask", json={"question": "Is ketamine an opioid?"}, timeout=30).json()
        assert answer["status"] == "answered"
    check_log(log)


def test_exported_settings_read_back_the_same(make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    settings = make_settings(
        cors_origins=["https://clinic.example"],
        api_keys=["k1"],
        api_keys_file=tmp_path / "keys.txt",
        trust_forwarded_for=True,
        batch_wait_ms=3.5,
        min_dense_score=0.5,
    )
    environ: dict[str, str] = {}
    export_settings(settings, environ)
    saved = dict(os.environ)
    try:
        os.environ.update(environ)
        assert Settings(_env_file=None) == settings  # type: ignore[call-arg]
    finally:
        os.environ.clear()
        os.environ.update(saved)
