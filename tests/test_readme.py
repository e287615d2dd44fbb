"""The README documents what is there: every setting, every command, and curl examples that work as written."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer.core
import typer.main

from kbot.api.schemas import AnswerOut, ErrorResponse
from kbot.cli import app
from kbot.config import Settings
from kbot.embedding import FakeEmbedder
from kbot.index import build_index
from test_api_server import running_server

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCUMENTED_BASE = "http://127.0.0.1:8000"
CURL = "/usr/bin/curl"
ENDPOINTS = {"/v1/ask", "/v1/feedback", "/v1/kbs", "/v1/sources", "/v1/sources/{id}", "/healthz", "/readyz"}


def code_blocks(markdown: str) -> list[str]:
    return re.findall(r"^ *```[^\n]*\n(.*?)^ *```", markdown, flags=re.MULTILINE | re.DOTALL)


def curl_commands(markdown: str) -> list[str]:
    """Every command of a code block that starts with ``curl``, its continuation lines joined."""
    commands = []
    for block in code_blocks(markdown):
        for line in re.sub(r"\\\n\s*", " ", block).splitlines():
            if line.strip().startswith("curl "):
                commands.append(line.strip())
    return commands


def documented_status(command: str) -> int:
    """The status a trailing ``# 422 ...`` comment documents; 200 when there is none."""
    found = re.search(r"\s#\s*(\d{3})\b[^']*$", command)
    return int(found.group(1)) if found else 200


def url_path(command: str) -> str:
    """The path the command calls on the documented base URL ("" when it calls something else)."""
    found = re.search(re.escape(DOCUMENTED_BASE) + r"(/[^\s'\"]*)", command)
    return found.group(1) if found else ""


def shell_operators(command: str) -> list[str]:
    """Pipes, redirections and command separators outside quotes and comments."""
    tokens = shlex.shlex(command, posix=True, punctuation_chars=True)
    return [t for t in tokens if t and set(t) <= set("();<>|&")]


COMMANDS = curl_commands(README)


def test_every_setting_is_in_the_configuration_table() -> None:
    rows = set(re.findall(r"^\| `(KBOT_[A-Z0-9_]+)` \|", README, flags=re.MULTILINE))
    fields = {"KBOT_" + name.upper() for name in Settings.model_fields}
    assert fields - rows == set(), "settings missing from the README's configuration table"
    assert rows - fields == set(), "the configuration table lists variables that are not settings"


def test_every_variable_the_readme_names_is_a_setting() -> None:
    fields = {"KBOT_" + name.upper() for name in Settings.model_fields}
    named = set(re.findall(r"\bKBOT_[A-Z][A-Z0-9_]*\b", README))
    assert named - fields == set()


def test_every_command_is_documented_and_every_documented_command_exists() -> None:
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    registered = set(group.commands)
    assert {"ingest", "ask", "sources", "serve", "eval", "calibrate"} <= registered
    for name in registered:
        assert f"`kbot {name}" in README, f"`kbot {name}` is not in the README"
    named = set(re.findall(r"`kbot ([a-z][a-z-]*)", README))
    assert named - registered == set(), "the README names commands kbot does not have"


def test_the_readme_shows_curl_for_every_endpoint() -> None:
    paths = {re.sub(r"^/v1/sources/(?!$)[^/]+$", "/v1/sources/{id}", url_path(c)) for c in COMMANDS}
    assert paths >= ENDPOINTS


@pytest.fixture(scope="module")
def server(fake_index_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """What the README's examples run against: seeds/ as default, and a second knowledge base named "nih" (the
    test's two asthma articles stand in for the NIH folder of the worked example)."""
    folder = tmp_path_factory.mktemp("readme-server")
    shutil.copytree(fake_index_dir / "default", folder / "index" / "default", symlinks=True)
    build_index(ROOT / "tests" / "kbs" / "asthma", folder / "index" / "nih", FakeEmbedder())
    kbs = json.dumps({"nih": str(ROOT / "tests" / "kbs" / "asthma")})
    with running_server(
        folder / "index", folder / "server.log", KBOT_MODEL_NAME=FakeEmbedder.name, KBOT_KNOWLEDGE_BASES=kbs
    ) as base:
        yield base


@pytest.mark.server
@pytest.mark.parametrize("command", COMMANDS, ids=[url_path(c) + f" {documented_status(c)}" for c in COMMANDS])
def test_readme_curl_command_works_as_written(server: str, command: str) -> None:
    assert url_path(command), f"the example does not call {DOCUMENTED_BASE}, what scripts/run serves"
    assert not shell_operators(command), "keep each example a single curl command (no pipes or redirections)"
    runnable = CURL + " -sS -w '\\n%{http_code}' " + command.removeprefix("curl ").replace(DOCUMENTED_BASE, server)
    done = subprocess.run(["bash", "-c", runnable], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    body, status = done.stdout.rsplit("\n", 1)
    assert int(status) == documented_status(command), body
    data = json.loads(body)
    if int(status) >= 400:
        error = ErrorResponse.model_validate(data).error
        assert error.request_id and error.message
    elif url_path(command) == "/v1/ask":
        answer = AnswerOut.model_validate(data)
        assert answer.text.endswith(answer.notice)


def test_the_example_answer_is_a_real_answer_with_exact_quotes() -> None:
    blocks = re.findall(r"^```json\n(.*?)^```", README, flags=re.MULTILINE | re.DOTALL)
    answers = [json.loads(b) for b in blocks if '"status"' in b]
    assert answers, "the README shows an example answer"
    for data in answers:
        answer = AnswerOut.model_validate(data)
        assert answer.quotes and answer.notice in answer.text
        for quote in answer.quotes:
            with (ROOT / "seeds" / quote.source_file).open(encoding="utf-8", newline="") as f:
                assert f.read()[quote.start : quote.end] == quote.text
