"""Several knowledge bases in one real server process: `kbot ingest --kb` while questions stream in is served within
seconds with no failed request and no restart, and a knowledge base with a damaged index leaves the other serving.
The fake model keeps these fast; the real model is served by test_api_server.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from kbot.embedding import FakeEmbedder
from kbot.folder import read_source_text
from kbot.index import build_index, current_build
from test_api_server import running_server
from test_cli import kbot_command

ROOT = Path(__file__).resolve().parents[1]
ASTHMA = ROOT / "tests" / "kbs" / "asthma"
NEW_SENTENCE = "Thunderstorms can set off a severe asthma attack in people with hay fever."
NEW_QUESTION = "can thunderstorms set off asthma"
SERVED_WITHIN_S = 10  # the bound; KBOT_RELOAD_INTERVAL is 0.5 s here
# The fake model's cosines are lower than the real one's: thresholds it can answer with (as conftest's make_settings)
FAKE_ENV = {
    "KBOT_MODEL_NAME": FakeEmbedder.name,
    "KBOT_READER": "false",
    "KBOT_MIN_DENSE_SCORE": "0.55",
    "KBOT_MIN_COVERAGE": "0.60",
    "KBOT_MIN_COVERAGE_DENSE": "0.20",
    "KBOT_RATE_LIMIT_PER_MINUTE": "0",
    "KBOT_CACHE_SIZE": "0",
    "KBOT_RELOAD_INTERVAL": "0.5",
}


def _two_kbs(tmp_path: Path, fake_index_dir: Path) -> tuple[Path, Path, dict[str, str]]:
    asthma = Path(shutil.copytree(ASTHMA, tmp_path / "asthma"))
    index_root = tmp_path / "index"
    shutil.copytree(fake_index_dir / "default", index_root / "default", symlinks=True)
    build_index(asthma, index_root / "asthma", FakeEmbedder())
    env = {**FAKE_ENV, "KBOT_KNOWLEDGE_BASES": json.dumps({"asthma": str(asthma)})}
    return asthma, index_root, env


def _ask(client: httpx.Client, question: str, kb: str = "asthma") -> httpx.Response:
    return client.post("/v1/ask", json={"question": question, "kb": kb})


@pytest.mark.server
def test_reingesting_a_knowledge_base_is_served_without_a_restart_or_a_failed_request(
    tmp_path: Path, fake_index_dir: Path
) -> None:
    asthma, index_root, env = _two_kbs(tmp_path, fake_index_dir)
    failures: list[str] = []
    answered = 0
    stop = threading.Event()

    def stream(base: str) -> None:  # a patient after another, on the knowledge base being rebuilt, bounded in time
        nonlocal answered
        with httpx.Client(base_url=base, timeout=30) as client:
            deadline = time.monotonic() + 120
            while not stop.is_set() and time.monotonic() < deadline:
                response = _ask(client, "what does an inhaler do")
                if response.status_code != 200 or response.json()["status"] != "answered":
                    failures.append(f"{response.status_code} {response.text[:200]}")
                answered += 1
                time.sleep(0.02)

    with running_server(index_root, tmp_path / "server.log", **env) as base:
        before = httpx.get(f"{base}/v1/kbs").json()["knowledge_bases"]
        streamer = threading.Thread(target=stream, args=(base,))
        streamer.start()
        try:
            path = asthma / "triggers.md"
            path.write_text(read_source_text(path) + f"\n## Thunderstorms\n\n{NEW_SENTENCE}\n", encoding="utf-8")
            cli_env = {k: v for k, v in os.environ.items() if not k.startswith("KBOT_")}
            cli_env.update(env, HF_HUB_OFFLINE="1", KBOT_INDEX_DIR=str(index_root), KBOT_SEEDS_DIR=str(ROOT / "seeds"))
            ingest = subprocess.run(
                [*kbot_command(), "ingest", "--kb", "asthma"], env=cli_env, capture_output=True, text=True, timeout=300
            )
            assert ingest.returncode == 0, ingest.stderr
            ingested_at = time.monotonic()
            with httpx.Client(base_url=base, timeout=30) as client:
                while True:
                    quotes = _ask(client, NEW_QUESTION).json()["quotes"]
                    if quotes and quotes[0]["text"] == NEW_SENTENCE:
                        break
                    assert time.monotonic() - ingested_at < SERVED_WITHIN_S, "the new build was not served in time"
                    time.sleep(0.1)
            time.sleep(1)  # a little more traffic after the swap
        finally:
            stop.set()
            streamer.join(timeout=60)
        after = httpx.get(f"{base}/v1/kbs").json()["knowledge_bases"]
    assert not failures, failures[:5]
    assert answered > 20
    build = current_build(index_root / "asthma")
    assert build is not None
    assert after[1]["name"] == "asthma" and after[1]["build"] == build.name != before[1]["build"]
    assert after[0] == before[0]  # the other knowledge base was not touched
    log = (tmp_path / "server.log").read_text()
    assert f"knowledge base 'asthma': serving build {build.name}" in log


@pytest.mark.server
def test_a_damaged_knowledge_base_leaves_the_other_serving(tmp_path: Path, fake_index_dir: Path) -> None:
    _, index_root, env = _two_kbs(tmp_path, fake_index_dir)
    build = current_build(index_root / "asthma")
    assert build is not None
    (build / "sentences.npy").write_bytes(b"damaged")
    with running_server(index_root, tmp_path / "server.log", **env) as base, httpx.Client(base_url=base) as client:
        ready = client.get("/readyz").json()
        broken = _ask(client, "what does an inhaler do")
        working = _ask(client, "What are the side effects?", kb="default")
    assert ready["status"] == "degraded" and ready["knowledge_bases"]["asthma"]["error"] == "index_corrupt"
    assert broken.status_code == 503 and broken.json()["error"]["code"] == "kb_unavailable"
    assert str(index_root) not in broken.text
    assert working.status_code == 200 and working.json()["status"] == "answered"
