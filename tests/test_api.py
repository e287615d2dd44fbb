"""Contract tests of the HTTP API through TestClient: each endpoint and status, bad input, readiness, logs."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kbot.api import create_app
from kbot.api.schemas import NOT_BLANK_PATTERN, AnswerOut, ErrorResponse, SourceDetail, SourceList
from kbot.config import Settings
from kbot.domain import Answer
from kbot.embedding import FakeEmbedder
from kbot.errors import IndexCorrupt, IndexMissing, IndexStale
from kbot.service import KbotService

QUESTION = "Is ketamine an opioid?"
SECRET = "MY-PRIVATE-DIAGNOSIS-7781"  # stands for a patient's health information: must never be echoed or logged


@pytest.fixture(scope="module")
def settings(make_settings: Callable[..., Settings], fake_index_dir: Path) -> Settings:
    return make_settings(index_dir=fake_index_dir, model_name=FakeEmbedder.name)


@pytest.fixture(scope="module")
def client(settings: Settings, fake_service: KbotService) -> Iterator[TestClient]:
    with TestClient(create_app(settings, fake_service)) as c:
        yield c


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The uniform error shape, with the request id of the response header."""
    assert response.status_code == status, response.text
    body = ErrorResponse.model_validate(response.json()).error
    assert body.code == code
    assert body.message
    assert body.request_id == response.headers["x-request-id"]
    return response.json()["error"]  # type: ignore[no-any-return]


# --- POST /v1/ask ----------------------------------------------------------------------------------------------------


def test_ask_returns_the_same_answer_object_as_the_service(client: TestClient, fake_service: KbotService) -> None:
    response = client.post("/v1/ask", json={"question": QUESTION})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-request-id"]
    body = response.json()
    AnswerOut.model_validate(body)
    expected = fake_service.ask(QUESTION).to_dict()
    assert body.pop("answer_id") != expected.pop("answer_id")  # random, one per answer given
    assert body == expected
    assert body["text"].endswith(body["notice"])


def test_quotes_are_verbatim_spans_of_their_source(client: TestClient, fake_service: KbotService) -> None:
    body = client.post("/v1/ask", json={"question": "Does ketamine act on opioid receptors in the brain?"}).json()
    assert body["status"] == "answered", body["status"]
    for quote in body["quotes"]:
        document = fake_service.kb().document(quote["source_id"])
        assert document is not None
        assert document.text[quote["start"] : quote["end"]] == quote["text"]


@pytest.mark.parametrize(
    ("question", "status"),
    [
        ("I want to kill myself tonight", "crisis"),
        ("How many milligrams of ketamine should I take?", "declined"),
        ("What is the capital of Mongolia?", "no_answer"),
    ],
)
def test_every_status_has_the_answer_shape(client: TestClient, question: str, status: str) -> None:
    body = client.post("/v1/ask", json={"question": question}).json()
    AnswerOut.model_validate(body)
    assert body["status"] == status
    assert body["message"]
    assert body["text"].endswith(body["notice"])
    if status == "crisis":
        assert body["resources"] and not body["quotes"]


def test_html_in_a_question_is_data_not_markup(client: TestClient) -> None:
    question = '<script>alert("x")</script><b>Is ketamine</b> an opioid?'
    response = client.post("/v1/ask", json={"question": question})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.json()["question"] == question


def test_repeated_questions_come_from_the_cache_with_the_callers_wording(settings: Settings, fake_service: Any) -> None:
    with TestClient(create_app(settings, fake_service)) as c:
        batcher = c.app.state.kbot.asker.batcher  # type: ignore[attr-defined]
        first = c.post("/v1/ask", json={"question": "Is ketamine addictive?"}).json()
        asked = batcher.questions
        again = c.post("/v1/ask", json={"question": "  is KETAMINE   addictive? "}).json()
        assert batcher.questions == asked  # not encoded again
        assert again["question"] == "is KETAMINE   addictive?"
        assert {**again, "question": first["question"], "answer_id": first["answer_id"]} == first
        assert again["answer_id"] != first["answer_id"]  # a cached answer is a new answer: its own id


def test_the_cache_is_each_callers_own(make_settings: Callable[..., Settings], fake_service: Any) -> None:
    """A cache hit is much faster than a miss: one caller's hit must never tell them what another caller asked."""
    settings = make_settings(model_name=FakeEmbedder.name, trust_forwarded_for=True, api_keys=["clinic-a"])
    with TestClient(create_app(settings, fake_service), headers={"X-API-Key": "clinic-a"}) as c:
        batcher = c.app.state.kbot.asker.batcher  # type: ignore[attr-defined]

        def ask(address: str) -> str:
            response = c.post(
                "/v1/ask", json={"question": "Is ketamine addictive?"}, headers={"X-Forwarded-For": address}
            )
            assert response.status_code == 200
            return response.json()["status"]

        ask("203.0.113.1")
        asked = batcher.questions
        assert ask("203.0.113.2") == ask("203.0.113.1")  # the same answer for both callers...
        assert batcher.questions == asked + 1  # ...but the second caller's was computed, not taken from the first's
        ask("203.0.113.2")
        assert batcher.questions == asked + 1  # each caller's own repeats are cached


# --- bad input -------------------------------------------------------------------------------------------------------

JSON = {"content-type": "application/json"}
BAD_INPUT: list[tuple[str, bytes, dict[str, str], int, str]] = [
    ("empty question", b'{"question": ""}', JSON, 422, "invalid_question"),
    ("whitespace only", b'{"question": " \\n\\t "}', JSON, 422, "invalid_question"),
    ("over 1000 characters", b'{"question": "' + SECRET.encode() * 60 + b'"}', JSON, 422, "invalid_question"),
    ("number", b'{"question": 7781}', JSON, 422, "invalid_question"),
    ("list", b'{"question": ["' + SECRET.encode() + b'"]}', JSON, 422, "invalid_question"),
    ("null", b'{"question": null}', JSON, 422, "invalid_question"),
    ("missing field", b'{"q": "' + SECRET.encode() + b'"}', JSON, 422, "invalid_question"),
    ("empty object", b"{}", JSON, 422, "invalid_question"),
    ("not JSON", b"question=" + SECRET.encode(), JSON, 422, "invalid_json"),
    ("truncated JSON", b'{"question": "' + SECRET.encode(), JSON, 422, "invalid_json"),
    ("not UTF-8", b'{"question": "\xff\xfe' + SECRET.encode() + b'"}', JSON, 422, "invalid_json"),
    ("JSON array", b'["' + SECRET.encode() + b'"]', JSON, 422, "invalid_request"),
    ("JSON string", b'"' + SECRET.encode() + b'"', JSON, 422, "invalid_request"),
    ("no body", b"", JSON, 422, "invalid_request"),
    (
        "text/plain body",
        b'{"question": "' + SECRET.encode() + b'"}',
        {"content-type": "text/plain"},
        422,
        "invalid_request",
    ),
    (
        "form body",
        b"question=" + SECRET.encode(),
        {"content-type": "application/x-www-form-urlencoded"},
        422,
        "invalid_request",
    ),
    ("body over the cap", b'{"question": "' + b"a" * 9000 + b'"}', JSON, 413, "body_too_large"),
]


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"), [b[1:] for b in BAD_INPUT], ids=[b[0] for b in BAD_INPUT]
)
def test_bad_input_gets_a_clear_json_error_that_never_echoes_it(
    client: TestClient, body: bytes, headers: dict[str, str], status: int, code: str
) -> None:
    response = client.post("/v1/ask", content=body, headers=headers)
    error = assert_error(response, status, code)
    assert SECRET not in response.text
    if status == 422 and code != "invalid_json":
        assert error["fields"], "a 422 names the rejected field"


@pytest.mark.parametrize("name", ["history", f"My name is Zelda 555-867-5309 {SECRET}"])
def test_an_unknown_field_is_refused_without_its_name_or_value(
    client: TestClient, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kbot")
    response = client.post("/v1/ask", json={"question": QUESTION, name: SECRET})
    error = assert_error(response, 422, "invalid_request")
    assert list(error["fields"]) == ["body"]
    assert "does not accept" in error["fields"]["body"]
    assert name not in response.text and SECRET not in response.text
    assert name not in caplog.text and SECRET not in caplog.text


@pytest.mark.parametrize(
    "body",
    [
        b'{"question": "Is ketamine an opioid?", "question": "' + SECRET.encode() + b'"}',
        b'{"question": "' + SECRET.encode() + b'", "question": "Is ketamine an opioid?"}',
        b'{"question": "a", "' + SECRET.encode() + b'": 1, "' + SECRET.encode() + b'": 2}',
    ],
    ids=["question twice", "question twice, the harmless one last", "unknown field twice"],
)
def test_a_field_named_twice_is_refused(client: TestClient, body: bytes) -> None:
    response = client.post("/v1/ask", content=body, headers=JSON)
    error = assert_error(response, 422, "invalid_request")
    assert error["fields"] == {"body": "names the same field more than once: send each field once"}
    assert SECRET not in response.text


def test_the_length_cap_comes_from_the_settings(make_settings: Callable[..., Settings], fake_service: Any) -> None:
    app = create_app(make_settings(max_question_chars=20), fake_service)
    with TestClient(app) as c:
        assert c.post("/v1/ask", json={"question": "x" * 20}).status_code == 200
        error = assert_error(c.post("/v1/ask", json={"question": "x" * 21}), 422, "invalid_question")
        assert error["fields"] == {"question": "must be at most 20 characters"}
        schema = c.get("/openapi.json").json()["components"]["schemas"]["AskRequest"]
        assert schema["properties"]["question"]["maxLength"] == 20


def test_a_streamed_body_over_the_cap_is_refused(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"question": "'
        for _ in range(20):
            yield b"a" * 1000
        yield b'"}'

    assert_error(client.post("/v1/ask", content=chunks(), headers=JSON), 413, "body_too_large")


def test_questions_are_not_accepted_in_urls(client: TestClient) -> None:
    response = client.get("/v1/ask", params={"question": SECRET})
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "POST"
    assert SECRET not in response.text


# --- sources ---------------------------------------------------------------------------------------------------------


def test_sources_list_every_source_with_its_metadata(client: TestClient, fake_service: KbotService) -> None:
    response = client.get("/v1/sources")
    assert response.status_code == 200
    listed = SourceList.model_validate(response.json()).sources
    assert [s.id for s in listed] == [m.id for m in fake_service.kb().sources()]
    assert {s.kind for s in listed} <= {"editorial", "clinic_marketing"}


def test_one_source_has_its_kept_blocks_with_offsets(client: TestClient, fake_service: KbotService) -> None:
    source_id = fake_service.kb().sources()[0].id
    response = client.get(f"/v1/sources/{source_id}")
    assert response.status_code == 200
    detail = SourceDetail.model_validate(response.json())
    document = fake_service.kb().document(source_id)
    assert document is not None
    assert detail.source.id == source_id
    assert [b.index for b in detail.blocks] == [b.index for b in document.kept_blocks]
    for block in detail.blocks:
        assert document.text[block.start : block.end] == block.text


def test_an_unknown_source_is_404(client: TestClient) -> None:
    assert_error(client.get("/v1/sources/no_such_source"), 404, "source_not_found")


def test_an_unknown_path_is_404_in_the_error_shape(client: TestClient) -> None:
    assert_error(client.get("/v1/nothing-here"), 404, "not_found")


# --- health, readiness and loading -----------------------------------------------------------------------------------


def test_health_and_readiness_when_loaded(client: TestClient, fake_service: KbotService) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    kb = fake_service.kb()
    ready = client.get("/readyz").json()
    assert ready.pop("store")["status"] == "ok"
    assert ready == {
        "status": "ready",
        "sources": len(kb.sources()),
        "knowledge_bases": {
            "default": {"status": "ready", "sources": len(kb.sources()), "build": kb.build, "error": None}
        },
    }


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_answer_head(client: TestClient, path: str) -> None:
    response = client.head(path)
    assert response.status_code == 200
    assert response.content == b""


def test_while_loading_healthz_answers_and_the_rest_is_503(settings: Settings, fake_service: KbotService) -> None:
    release = threading.Event()

    def slow_load(_: Settings) -> KbotService:
        release.wait(10)
        return fake_service

    with TestClient(create_app(settings, loader=slow_load)) as c:
        assert c.get("/healthz").status_code == 200
        for response in (c.get("/readyz"), c.post("/v1/ask", json={"question": QUESTION}), c.get("/v1/sources")):
            assert_error(response, 503, "not_ready")
            assert response.headers["retry-after"] == "5"
        release.set()
        wait_until_loaded(c)
        assert c.post("/v1/ask", json={"question": QUESTION}).json()["status"] == "answered"


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (IndexMissing("No index has been built in /srv/secret-path/index yet.", "kbot ingest"), "index_missing"),
        (IndexStale("The sources changed since the index was built: a.txt changed.", "kbot ingest"), "index_stale"),
        (
            IndexCorrupt("The index file /srv/secret-path/index/x.npy is missing or damaged.", "kbot ingest"),
            "index_corrupt",
        ),
    ],
)
def test_an_unusable_index_says_how_to_fix_it(
    settings: Settings, error: Exception, code: str, caplog: pytest.LogCaptureFixture
) -> None:
    def failing_load(_: Settings) -> KbotService:
        raise error

    caplog.set_level(logging.INFO, logger="kbot")
    with TestClient(create_app(settings, loader=failing_load)) as c:
        wait_until_loaded(c)
        for response in (c.get("/readyz"), c.post("/v1/ask", json={"question": QUESTION})):
            body = assert_error(response, 503, code)
            assert "/tmp" not in body["message"]  # a server's paths are never in a response, only in its log
            assert body["fix"] == "kbot ingest"
            assert "/srv/secret-path" not in response.text and "a.txt" not in response.text
    assert error.message in caplog.text and "kbot ingest" in caplog.text  # type: ignore[attr-defined]


def wait_until_loaded(client: TestClient) -> None:
    """Until loading has ended, whether the service is ready (200) or failed to load (its own error)."""
    deadline = time.monotonic() + 10
    while _loading(client.get("/readyz")) and time.monotonic() < deadline:
        time.sleep(0.02)


def _loading(response: Any) -> bool:
    return response.status_code == 503 and response.json()["error"]["code"] == "not_ready"


@pytest.mark.parametrize("files", [[], {"corpus.jsonl": 7}])
def test_a_damaged_manifest_says_to_rebuild_and_shows_no_server_path(
    make_settings: Callable[..., Settings],
    fake_index_dir: Path,
    tmp_path: Path,
    files: object,
    caplog: pytest.LogCaptureFixture,
) -> None:
    index_dir = tmp_path / "index"
    shutil.copytree(fake_index_dir, index_dir, symlinks=True)
    manifest = index_dir / "default" / "current" / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "files": files}), encoding="utf-8")
    settings = make_settings(index_dir=index_dir, model_name=FakeEmbedder.name)
    caplog.set_level(logging.INFO, logger="kbot")
    with TestClient(create_app(settings, loader=lambda s: KbotService.load(s, embedder=FakeEmbedder()))) as c:
        wait_until_loaded(c)
        responses = [c.get("/readyz"), c.post("/v1/ask", json={"question": QUESTION})]
    assert_error(responses[0], 503, "no_knowledge_base")
    body = assert_error(responses[1], 503, "kb_unavailable")
    assert "damaged" in body["message"] and body["fix"].startswith("kbot ingest")
    assert not any(str(tmp_path) in r.text for r in responses)
    assert "of the wrong type" in caplog.text and "Traceback" not in caplog.text


# --- request ids and logs --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("clinic-req.42:a", True), ("has spaces", False), ("x" * 65, False), ("<script>", False)],
)
def test_a_safe_incoming_request_id_is_kept(client: TestClient, sent: str, kept: bool) -> None:
    response = client.post("/v1/ask", json={"question": ""}, headers={"X-Request-ID": sent})
    returned = response.headers["x-request-id"]
    assert (returned == sent) is kept
    assert response.json()["error"]["request_id"] == returned


def _log_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "kbot.api"]


@pytest.mark.parametrize("log_questions", [False, True])
def test_logs_carry_id_status_latency_outcome_and_questions_only_when_asked(
    make_settings: Callable[..., Settings],
    fake_service: KbotService,
    caplog: pytest.LogCaptureFixture,
    log_questions: bool,
) -> None:
    caplog.set_level(logging.INFO, logger="kbot")
    with TestClient(create_app(make_settings(log_questions=log_questions), fake_service)) as c:
        response = c.post("/v1/ask", json={"question": f"Is ketamine an opioid? {SECRET}"})
        c.get("/v1/ask", params={"question": SECRET})
    rid = response.headers["x-request-id"]
    line = next(line for line in _log_lines(caplog) if rid in line)
    assert f"request_id={rid}" in line and "status=200" in line and "latency_ms=" in line
    assert f"outcome={response.json()['status']}" in line
    assert (SECRET in line) is log_questions
    assert not any(SECRET in line and "method=GET" in line for line in _log_lines(caplog)), "query strings not logged"


@pytest.mark.parametrize(
    ("bf16", "native", "said"),
    [
        (None, False, "float32: this CPU has no native"),
        (True, False, "KBOT_BF16 is on, but this CPU only emulates"),
        (None, True, "bfloat16 on a CPU with native"),
        (False, True, "float32 on a CPU with native"),
    ],
)
def test_the_log_says_what_the_models_compute_in(
    make_settings: Callable[..., Settings],
    fake_service: KbotService,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    bf16: bool | None,
    native: bool,
    said: str,
) -> None:
    monkeypatch.setattr("kbot.embedding.native_bf16", lambda: native)
    caplog.set_level(logging.INFO, logger="kbot")
    with TestClient(
        create_app(make_settings(bf16=bf16, reader=True, reader_int8=True), loader=lambda _: fake_service)
    ) as c:
        wait_until_loaded(c)
    [line] = [r for r in caplog.records if "bfloat16" in r.getMessage()]
    emulated = bool(bf16) and not native
    assert said in line.getMessage()
    assert line.levelno == (logging.WARNING if emulated else logging.INFO)
    assert ("reader's layers in int8" in line.getMessage()) == (not emulated)


FORGED = "2026-12-05 06:00:00,000 ERROR kbot.api request_id=0 method=GET path=/ status=500"


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/x%0a" + FORGED.replace(" ", "%20"), "(unknown)"),  # a newline that would start a forged log line
        ("/x%00%0d%1b[31m" + SECRET, "(unknown)"),  # NUL, carriage return and a terminal escape
        ("/v1/sources/" + SECRET, "/v1/sources/{source_id}"),
        ("/static/" + SECRET + ".js", "/static/{path:path}"),
        ("/v1/sources?" + SECRET, "/v1/sources"),
    ],
)
def test_the_log_names_the_route_never_the_path_as_sent(
    client: TestClient, path: str, logged: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kbot")
    rid = client.get(path).headers["x-request-id"]
    (line,) = [line for line in _log_lines(caplog) if rid in line]
    assert f" path={logged} " in line
    assert SECRET not in caplog.text and "2026-12-05" not in caplog.text
    assert not any(c in line for c in "\n\r\x00\x1b")


def test_a_request_refused_before_routing_is_logged_with_its_route(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kbot")
    response = client.post("/v1/ask", content=b"x" * 10_000, headers={"content-type": "application/json"})
    assert response.status_code == 413
    (line,) = [line for line in _log_lines(caplog) if response.headers["x-request-id"] in line]
    assert " path=/v1/ask status=413 " in line


class _Broken:
    """A service whose model call fails with a message quoting the question."""

    def __init__(self, real: KbotService) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def ask_batch(self, questions: Sequence[str], kbs: Sequence[str]) -> list[Answer]:
        raise RuntimeError(f"cannot encode {questions[0]!r}")


def test_an_internal_failure_is_a_json_500_that_withholds_the_question(
    settings: Settings, fake_service: KbotService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kbot")
    with TestClient(create_app(settings, _Broken(fake_service)), raise_server_exceptions=False) as c:  # type: ignore[arg-type]
        response = c.post("/v1/ask", json={"question": SECRET})
    assert_error(response, 500, "internal_error")
    assert SECRET not in response.text
    assert "RuntimeError" in caplog.text
    assert SECRET not in caplog.text


# --- OpenAPI and docs ------------------------------------------------------------------------------------------------


def test_openapi_has_an_example_for_every_endpoint_and_status(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    expected = {"/v1/ask", "/v1/sources", "/v1/sources/{source_id}", "/healthz", "/readyz"}
    assert expected <= set(spec["paths"])
    for path in expected:
        for method, operation in spec["paths"][path].items():
            for status, response in operation["responses"].items():
                content = response.get("content", {}).get("application/json", {})
                assert "example" in content or content.get("examples"), f"{method} {path} {status} has no example"
    ask = spec["paths"]["/v1/ask"]["post"]["responses"]
    assert {"200", "401", "413", "422", "429", "500", "503"} <= set(ask)
    assert "HTTPValidationError" not in spec["components"]["schemas"], "FastAPI's echoing 422 is not documented"


@pytest.mark.parametrize(
    ("page", "assets"), [("/docs", ("swagger-ui-bundle.js", "swagger-ui.css")), ("/redoc", ("redoc.standalone.js",))]
)
def test_interactive_docs_load_their_assets_from_kbot_not_a_cdn(
    client: TestClient, page: str, assets: tuple[str, ...]
) -> None:
    html = client.get(page)
    assert html.status_code == 200
    assert "/openapi.json" in html.text
    for asset in assets:
        assert f'"/static-offline-docs/{asset}"' in html.text
        served = client.get(f"/static-offline-docs/{asset}")
        assert served.status_code == 200 and len(served.content) > 10_000
    assert not re.search(r"""(?:src|href)=["']?https?://""", html.text), "a script or style from another host"


def _policy(response: Any) -> dict[str, str]:
    directives = [d.strip().split(" ", 1) for d in response.headers["content-security-policy"].split(";")]
    return {d[0]: d[1] if len(d) > 1 else "" for d in directives}


@pytest.mark.parametrize("page", ["/docs", "/redoc", "/docs/oauth2-redirect"])
def test_interactive_docs_have_a_policy_and_cannot_be_framed(client: TestClient, page: str) -> None:
    response = client.get(page)
    policy = _policy(response)
    assert policy["frame-ancestors"] == "'none'" and response.headers["x-frame-options"] == "DENY"
    assert policy["default-src"] == "'none'"
    assert "unsafe-inline" not in policy["script-src"] and "http" not in policy["script-src"]
    for inline in re.findall(r"<script>(.*?)</script>", response.text, flags=re.DOTALL):  # allowed by hash only
        digest = base64.b64encode(hashlib.sha256(inline.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy["script-src"]


@pytest.mark.parametrize("path", ["/v1/sources", "/healthz", "/openapi.json", "/no-such-page"])
def test_api_responses_load_nothing_and_cannot_be_framed(client: TestClient, path: str) -> None:
    policy = _policy(client.get(path))
    assert policy["default-src"] == "'none'" and policy["frame-ancestors"] == "'none'"


def test_the_schemas_not_blank_pattern_is_exactly_what_strip_keeps() -> None:
    """The published pattern and the server's check agree on every code point (a bare \\S did not, on U+0085)."""
    pattern = re.compile(NOT_BLANK_PATTERN)
    disagree = [hex(c) for c in range(0x110000) if bool(pattern.fullmatch(chr(c))) == chr(c).isspace()]
    assert not disagree
