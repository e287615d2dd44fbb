"""The HTTP API: ``create_app(settings)`` builds it; its lifespan loads the model and index once, in a thread.

Routes: POST /v1/ask, POST /v1/feedback, GET /v1/kbs, GET /v1/sources, GET /v1/sources/{id}, GET /healthz,
GET /readyz, plus the web pages' router. Every worker checks every few seconds (KBOT_RELOAD_INTERVAL) whether
`kbot ingest` swapped in a new index for a knowledge base, and serves it from then on, without a restart.
Every error has one JSON shape, ``{"error": {"code", "message", "request_id", ...}}``, and never echoes what the
caller sent: a question may be a patient's health information.
"""

# No `from __future__ import annotations` here: FastAPI reads the route signatures at runtime, and /v1/ask's request
# model is built per app (its length cap comes from the settings).
import asyncio
import contextlib
import dataclasses
import gc
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException

from kbot import __version__
from kbot.api import schemas as s
from kbot.api.batching import CachedAsker, MicroBatcher, share_cores, worker_cores
from kbot.api.headers import SecurityHeaders
from kbot.api.middleware import BodySizeLimit, RequestContext, error_body
from kbot.api.security import (
    API_KEY_HEADER,
    Decision,
    KeyChecker,
    Limiter,
    RateLimiter,
    caller_id,
    client_address,
    load_api_keys,
    load_key_scopes,
)
from kbot.api.shared import SharedState
from kbot.api.strict_json import DUPLICATE_FIELD, StrictJsonRoute
from kbot.config import Settings
from kbot.domain import Answer, new_answer_id
from kbot.errors import (
    CatalogError,
    FeedbackRefused,
    IndexCorrupt,
    IndexMissing,
    IndexStale,
    KbotError,
    UnknownKnowledgeBase,
)

if TYPE_CHECKING:
    from kbot.knowledge_base import KnowledgeBase
    from kbot.service import KbotService
    from kbot.store import Store

log = logging.getLogger("kbot.api")
Loader = Callable[[Settings], "KbotService"]
RETRY_WHILE_LOADING = "5"
WARM_UP_FALLBACK = "What is this about?"  # for a knowledge base with neither starter questions nor question headings
STORE_RETRY_S = 30.0  # seconds between tries to open a database that could not be used
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})  # fastapi-offline's interactive docs


class ApiError(Exception):
    """An error the API answers with its uniform JSON shape."""

    def __init__(self, status: int, code: str, message: str, *, fix: str = "", headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.fix = status, code, message, fix
        self.headers = headers or {}


@dataclass
class Runtime:
    """What the routes share: set up by create_app, filled in by the lifespan once the service is loaded."""

    settings: Settings
    keys: KeyChecker
    limiter: Limiter
    scopes: dict[str, frozenset[str]] = field(default_factory=dict)  # keys limited to some knowledge bases
    shared: SharedState | None = None  # rate limits and answers shared through Redis (KBOT_REDIS_URL)
    service: "KbotService | None" = None
    asker: CachedAsker | None = None
    load_error: ApiError | None = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    store: "Store | None" = None  # answers' records and feedback; opened by the lifespan

    def start(self, service: "KbotService") -> None:
        cores = worker_cores()
        lanes = self.settings.batch_lanes or cores
        batcher = MicroBatcher(
            service.ask_batch,
            max_batch=self.settings.batch_max,
            wait_ms=self.settings.batch_wait_ms,
            lanes=lanes,
            threads=share_cores(cores) if lanes > 1 else None,
        )
        batcher.start()
        self.asker = CachedAsker(batcher, self.settings.cache_size, self.shared.cache if self.shared else None)
        self.service = service

    def ready(self) -> tuple["KbotService", CachedAsker]:
        if self.service is not None and self.asker is not None:
            return self.service, self.asker
        if self.load_error is not None:
            raise self.load_error
        raise ApiError(
            503,
            "not_ready",
            "kbot is still loading its model and index; retry in a few seconds (GET /readyz says when it is ready)",
            headers={"Retry-After": RETRY_WHILE_LOADING},
        )

    def kb(self, request: Request, name: str) -> "KnowledgeBase":
        """The knowledge base ``name``, if the caller's key may use it and it can answer; else the API's error."""
        service, _ = self.ready()
        allowed: frozenset[str] | None = getattr(request.state, "kb_scope", None)
        if allowed is not None and name not in allowed:
            raise ApiError(403, "kb_forbidden", f"This API key may not use the knowledge base {name!r}")
        try:
            return service.kb(name)
        except UnknownKnowledgeBase:
            raise ApiError(
                404, "kb_not_found", f"There is no knowledge base named {name!r}; GET /v1/kbs lists them"
            ) from None
        except KbotError as exc:
            raise ApiError(
                503,
                "kb_unavailable",
                f"The knowledge base {name!r} cannot answer right now: {unavailable_reason(exc)}. "
                "The other knowledge bases still answer.",
                fix=f"kbot ingest --kb {name}",
            ) from None

    def visible(self, request: Request) -> list[str]:
        """The knowledge bases the caller's key may use, in their configured order."""
        service, _ = self.ready()
        allowed: frozenset[str] | None = getattr(request.state, "kb_scope", None)
        return [n for n in service.registry.names if allowed is None or n in allowed]


_LOAD_ERROR_CODES = {
    IndexMissing: "index_missing",
    IndexStale: "index_stale",
    IndexCorrupt: "index_corrupt",
    CatalogError: "kb_invalid",
}
_REASONS = {
    "index_missing": "its index has not been built",
    "index_stale": "its articles changed since its index was built",
    "index_corrupt": "its index is damaged",
    "kb_invalid": "its folder has a problem (an article, sources.toml or kb.toml)",
}


def error_code(exc: KbotError) -> str:
    return next((code for kind, code in _LOAD_ERROR_CODES.items() if isinstance(exc, kind)), "load_failed")


def unavailable_reason(exc: KbotError) -> str:
    """Why a knowledge base cannot answer, without the server's paths (the operator's log has the details)."""
    return _REASONS.get(error_code(exc), "it failed to load")


def create_app(settings: Settings, service: "KbotService | None" = None, *, loader: Loader | None = None) -> FastAPI:
    """The API. With ``service`` (tests), it is used as is; else the lifespan loads one with ``loader``
    (``KbotService.load`` by default) in a thread, so /healthz answers meanwhile and /readyz says 503 until done."""
    shared = SharedState.connect(settings, settings.redis_url) if settings.redis_url else None
    runtime = Runtime(
        settings,
        KeyChecker(load_api_keys(settings)),
        shared.limiter if shared else RateLimiter(settings.rate_limit_per_minute),
        load_key_scopes(settings),
        shared,
    )
    if settings.log_questions:
        log.warning("KBOT_LOG_QUESTIONS is on: question text (patients' health information) will be logged")
    app = FastAPIOffline(  # FastAPI whose /docs and /redoc load Swagger UI and ReDoc from kbot, not from a CDN
        title="kbot API",
        version=__version__,
        description=s.API_DESCRIPTION,
        lifespan=_lifespan(runtime, service, loader),
        openapi_tags=s.TAGS,
    )
    app.state.kbot = runtime
    from kbot.api.admin import router as admin_router
    from kbot.api.pages import router as pages_router

    routers = [_health_routes(runtime), _v1_routes(runtime), pages_router, admin_router]
    _add_middleware(app, settings, _fixed_paths(routers))
    app.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    for router in routers:
        app.include_router(router)
    return app


def _fixed_paths(routers: list[APIRouter]) -> frozenset[str]:
    """The routes' paths that take no parameter: how a request refused before routing may be logged."""
    paths = (getattr(r, "path", "") for router in routers for r in router.routes)
    return frozenset(p for p in paths if p and "{" not in p)


def _add_middleware(app: FastAPI, settings: Settings, fixed_paths: frozenset[str]) -> None:
    """Innermost first: the body cap, CORS, ids and logs for every request (routes logged by their template, or by
    one of ``fixed_paths``), then the security headers around everything, the JSON 500 included."""
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes, timeout_s=settings.read_timeout_s)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type", API_KEY_HEADER, "X-Request-ID"],
        expose_headers=["X-Request-ID", "Retry-After"],
    )
    app.add_middleware(RequestContext, log_questions=settings.log_questions, known_paths=fixed_paths)
    app.add_middleware(SecurityHeaders, docs_paths=DOCS_PATHS)


def _lifespan(runtime: Runtime, service: "KbotService | None", loader: Loader | None) -> Any:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime.store = await _open_store(runtime)
        if runtime.shared is not None:
            await runtime.shared.warm_up()
        if service is not None:
            runtime.start(service)
        else:
            _background(runtime, _load(runtime, loader or _default_loader))
        _background(runtime, _reload_loop(runtime))
        try:
            yield
        finally:
            for task in list(runtime.tasks):
                task.cancel()
            if runtime.asker is not None:
                await runtime.asker.batcher.stop()
            if runtime.store is not None:
                await asyncio.to_thread(runtime.store.close)

    return lifespan


async def _open_store(runtime: Runtime) -> "Store":
    """The store, migrated. If the database cannot be used yet, kbot answers anyway, /readyz says so, and the store
    is tried again every STORE_RETRY_S seconds (a database that starts after kbot is used once it is up)."""
    from kbot.store import Store

    store = Store(runtime.settings)
    if not await asyncio.to_thread(store.open):
        _background(runtime, _reopen(store))
    return store


async def _reopen(store: "Store") -> None:
    while True:
        await asyncio.sleep(STORE_RETRY_S)
        if await asyncio.to_thread(store.open):
            log.info("the database can be used now: storing answers and feedback")
            return


def _background(runtime: Runtime, work: Any) -> None:
    task = asyncio.create_task(work)
    runtime.tasks.add(task)
    task.add_done_callback(runtime.tasks.discard)


def _default_loader(settings: Settings) -> "KbotService":
    from kbot.service import KbotService

    return KbotService.load(settings)


async def _load(runtime: Runtime, loader: Loader) -> None:
    try:
        service = await asyncio.to_thread(loader, runtime.settings)
    except KbotError as exc:
        log.error("kbot cannot start: %s (to fix it: %s)", exc.message, exc.fix or "see the message")
        message = f"kbot cannot answer yet: {unavailable_reason(exc)}; the server log has the details"
        runtime.load_error = ApiError(503, error_code(exc), message, fix=exc.fix)
        return
    except Exception:
        log.exception("kbot cannot start: loading the model and index failed")
        runtime.load_error = ApiError(503, "load_failed", "kbot failed to load its model and index; see the server log")
        return
    try:
        await asyncio.to_thread(_warm_up, service, runtime.settings.batch_max)
    except Exception:
        log.exception("the warm-up question failed; serving anyway")
    # The model and index are hundreds of thousands of long-lived objects: keep them out of the garbage collector's
    # full collections, which otherwise stall the first busy second of traffic by a few hundred milliseconds.
    gc.collect()
    gc.freeze()
    runtime.start(service)
    for status in service.registry.statuses():
        log.info("knowledge base %r: %s", status.name, f"build {status.build}" if status.build else "unavailable")
    _log_precision(runtime.settings)


def _log_precision(settings: Settings) -> None:
    """Say what the models compute in: the same library answers two to three times slower on a CPU without native
    bfloat16 (bench/README.md), and bfloat16 forced on such a CPU is emulated (the reader took seven times as long)."""
    from kbot.embedding import native_bf16, uses_bf16

    native, bf16 = native_bf16(), uses_bf16(settings.bf16)
    if bf16 and not native:
        log.warning(
            "KBOT_BF16 is on, but this CPU only emulates bfloat16: the models run several times slower; unset it"
        )
        return
    reader = " (the reader's layers in int8)" if settings.reader and settings.reader_int8 else ""
    if native:
        log.info("models in %s on a CPU with native bfloat16%s", "bfloat16" if bf16 else "float32", reader)
    else:
        log.info(
            "models in float32: this CPU has no native bfloat16 (AVX512-BF16 or AMX), so answers cost two to "
            "three times what they do on one that has it%s",
            reader,
        )


def _warm_up(service: "KbotService", batch_max: int) -> None:
    """The first model calls are slow (lazy initialisation, first use of each batch size): pay for them now, with one
    question per knowledge base and then, once, a full batch of the first one's questions (batch sizes are the model's,
    not a knowledge base's), not on the first patients' questions."""
    for i, kb in enumerate(service.registry.loaded()):
        questions = [*kb.profile.starters, *(r.text for r in kb.index.sentences if r.is_question)]
        service.ask(questions[0] if questions else WARM_UP_FALLBACK, kb.name)
        if i == 0 and len(questions) > 1:
            burst = questions[:batch_max]
            service.ask_batch(burst, [kb.name] * len(burst))


async def _reload_loop(runtime: Runtime) -> None:
    """Serve every knowledge base that `kbot ingest` rebuilt, within KBOT_RELOAD_INTERVAL seconds, without a restart.
    The new index is loaded in a thread while the old one keeps answering, then swapped in whole."""
    while True:
        await asyncio.sleep(runtime.settings.reload_interval)
        service, asker = runtime.service, runtime.asker
        if service is None or asker is None:
            continue
        try:
            changed = await asyncio.to_thread(service.refresh)
        except Exception:
            log.exception("checking for rebuilt indexes failed; still serving the loaded ones")
            continue
        if changed:
            asker.forget()  # answers from the old build must not outlive it


# --- routes -------------------------------------------------------------------------------------------------------


def _health_routes(runtime: Runtime) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", response_model=s.Health, responses=s.HEALTH_RESPONSES, summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        response_model=s.Ready,
        response_model_exclude_unset=True,  # `redis` only when KBOT_REDIS_URL is set
        responses=s.READY_RESPONSES,
        summary="The model and index are loaded",
    )
    async def readyz() -> dict[str, Any]:
        service, _ = runtime.ready()
        states = {
            s.name: {
                "status": "ready" if s.ready else "unavailable",
                "sources": s.sources,
                "build": s.build,
                "error": error_code(s.error) if s.error else None,
            }
            for s in service.registry.statuses()
        }
        ready = [n for n, state in states.items() if state["status"] == "ready"]
        if not ready:
            raise ApiError(
                503, "no_knowledge_base", "No knowledge base can answer yet; the server log says why", fix="kbot ingest"
            )
        status = "ready" if len(ready) == len(states) else "degraded"
        body: dict[str, Any] = {"status": status, "sources": sum(st["sources"] for st in states.values())}
        body["knowledge_bases"] = states
        body["store"] = runtime.store.health() if runtime.store is not None else None
        return body | ({"redis": runtime.shared.health.state()} if runtime.shared else {})

    for path, probe in (("/healthz", healthz), ("/readyz", readyz)):  # HEAD too: uptime checks use it
        router.add_api_route(path, probe, methods=["HEAD"], include_in_schema=False)
    return router


KbParam = Annotated[str, Query(pattern=s.KB_NAME_PATTERN, description="The knowledge base (GET /v1/kbs lists them)")]


def _guard(runtime: Runtime, *, crisis_first: bool = False) -> Callable[..., Any]:
    """The /v1 dependency: who is calling (their API key and address), their rate limit, then their key. With
    ``crisis_first`` a caller over the limit is not refused here: the route refuses them only after the safety gate
    has found no crisis in their message, so a limit never stands between a crisis and the help lines."""
    settings = runtime.settings

    async def guard(
        request: Request,
        x_api_key: str | None = Header(None, alias=API_KEY_HEADER, description="Your clinic's key, when keys are on"),
    ) -> None:
        valid = runtime.keys.is_valid(x_api_key)
        peer = request.client.host if request.client else None
        address = client_address(peer, request.headers.get("x-forwarded-for"), settings.trust_forwarded_for)
        request.state.caller = caller_id(x_api_key if valid else None, address)
        decision = await runtime.limiter.acquire(request.state.caller)
        if not decision.allowed:
            refusal = _rate_limited(settings, decision, per_key=valid)
            if not crisis_first:
                raise refusal
            request.state.refusal = refusal
        request.state.kb_scope = runtime.scopes.get(x_api_key) if valid and x_api_key is not None else None
        if runtime.keys.required and not valid:
            missing = x_api_key is None
            raise ApiError(
                401,
                "missing_api_key" if missing else "invalid_api_key",
                f"Send your clinic's API key in the {API_KEY_HEADER} header"
                if missing
                else f"The {API_KEY_HEADER} header holds a key kbot does not know; check it with kbot's operator",
                headers={"WWW-Authenticate": f'ApiKey header="{API_KEY_HEADER}"'},
            )

    return guard


def _rate_limited(settings: Settings, decision: Decision, *, per_key: bool) -> ApiError:
    per = "client address within an API key" if per_key else "client address"
    return ApiError(
        429,
        "rate_limited",
        f"Too many requests: at most {settings.rate_limit_per_minute} a minute per {per}. "
        f"Retry after {decision.retry_after} s.",
        headers={"Retry-After": str(decision.retry_after)},
    )


def _v1_routes(runtime: Runtime) -> APIRouter:
    settings = runtime.settings
    ask_request = s.ask_request_model(settings.max_question_chars)
    router = APIRouter(prefix="/v1", responses=s.V1_RESPONSES, route_class=StrictJsonRoute)
    guarded = [Depends(_guard(runtime))]

    @router.post(
        "/ask",
        dependencies=[Depends(_guard(runtime, crisis_first=True))],
        response_model=s.AnswerOut,
        responses=s.ASK_RESPONSES,
        tags=["ask"],
        summary="Ask a question",
    )
    async def ask(body: ask_request, request: Request) -> Response:  # type: ignore[valid-type]
        """Answers by quoting the sources verbatim, with citations; every reply ends with the clinician notice.

        The question travels only in this POST body: it is never put in a URL, and not logged unless the operator
        turns KBOT_LOG_QUESTIONS on."""
        question: str = body.question  # type: ignore[attr-defined]
        if settings.log_questions:
            request.state.question = question
        try:
            kb = runtime.kb(request, body.kb)  # type: ignore[attr-defined]
        except ApiError:  # loading, or the knowledge base cannot answer: a crisis still gets the help lines
            from kbot.service import fallback_crisis

            crisis = fallback_crisis(question, settings)
            if crisis is None:
                raise
            answer, cached = crisis, False
        else:
            answer, cached = await _answer(request, question, kb.name, kb.build)
        request.state.outcome = answer.status.value
        request.state.cache = "hit" if cached else "miss"
        answer = dataclasses.replace(answer, answer_id=new_answer_id())  # each answer sent its own, cached or not
        if runtime.store is not None:
            runtime.store.record(answer, body.kb)  # type: ignore[attr-defined]  # queued: never slows the answer
        payload = json.dumps(answer.to_dict(), ensure_ascii=False).encode()
        return Response(payload, media_type="application/json", headers={"Cache-Control": "no-store"})

    @router.post(
        "/feedback",
        dependencies=guarded,
        status_code=202,
        response_model=s.FeedbackAccepted,
        responses=s.FEEDBACK_RESPONSES,
        tags=["feedback"],
        summary="Vote on an answer",
    )
    async def feedback(body: s.FeedbackRequest) -> dict[str, str]:
        """Whether an answer helped, with an optional reason and comment: one vote per answer, within
        KBOT_FEEDBACK_WINDOW_HOURS of it. The curator's report (`kbot report`) reads the votes."""
        await _vote(runtime, body)
        return {"status": "accepted"}

    @router.get("/kbs", dependencies=guarded, response_model=s.KbList, responses=s.KBS_RESPONSES, tags=["sources"])
    async def kbs(request: Request) -> dict[str, Any]:
        """The knowledge bases this caller may ask, each with its title, its number of sources and the index build
        it serves (every worker serves a new build within a few seconds of `kbot ingest`)."""
        service, _ = runtime.ready()
        visible = set(runtime.visible(request))
        return {
            "knowledge_bases": [
                {
                    "name": st.name,
                    "title": st.title,
                    "sources": st.sources,
                    "status": "ready" if st.ready else "unavailable",
                    "build": st.build,
                    "built_at": st.built_at,
                }
                for st in service.registry.statuses()
                if st.name in visible
            ]
        }

    @router.get(
        "/sources", dependencies=guarded, response_model=s.SourceList, responses=s.SOURCES_RESPONSES, tags=["sources"]
    )
    async def sources(request: Request, kb: KbParam = "default") -> dict[str, Any]:
        """The articles a knowledge base quotes, with their metadata."""
        return {"sources": [asdict(m) for m in runtime.kb(request, kb).sources()]}

    @router.get(
        "/sources/{source_id}",
        dependencies=guarded,
        response_model=s.SourceDetail,
        responses=s.SOURCE_RESPONSES,
        tags=["sources"],
    )
    async def source(request: Request, source_id: str, kb: KbParam = "default") -> dict[str, Any]:
        """One article with its cleaned blocks and their character offsets, to show a quote in context."""
        document = runtime.kb(request, kb).document(source_id)
        if document is None:
            raise ApiError(404, "source_not_found", "No source has that id; GET /v1/sources lists them")
        blocks = [
            {
                "index": b.index,
                "kind": b.kind.value,
                "start": b.start,
                "end": b.end,
                "text": b.text,
                "section": b.section,
            }
            for b in document.kept_blocks
        ]
        return {"source": asdict(document.meta), "blocks": blocks}

    async def _answer(request: Request, question: str, kb: str, build: str) -> tuple[Answer, bool]:
        """The answer from ``kb`` and whether it came from the cache (each caller's own). A caller over the rate
        limit gets the crisis reply if their message is a crisis, and else the 429 the guard held back."""
        service, asker = runtime.ready()
        refusal: ApiError | None = getattr(request.state, "refusal", None)
        if refusal is None:
            return await asker.ask(question, kb, caller=request.state.caller, build=build)
        crisis = service.crisis_answer(question, kb)
        if crisis is None:
            raise refusal
        return crisis, False

    return router


_REFUSALS = {"unknown_answer": 404, "already_voted": 409, "store_unavailable": 503}


async def _vote(runtime: Runtime, body: s.FeedbackRequest) -> None:
    from kbot.store import Vote

    if runtime.store is None:
        raise ApiError(503, "store_unavailable", "Feedback cannot be saved right now; please try again later")
    vote = Vote(body.answer_id, body.helpful, None if body.helpful else body.reason, body.comment)
    try:
        await asyncio.wrap_future(runtime.store.vote(vote))
    except FeedbackRefused as exc:
        raise ApiError(_REFUSALS.get(exc.code, 503), exc.code, exc.message) from None


# --- errors -------------------------------------------------------------------------------------------------------


def _error(request: Request, status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    headers = extra.pop("headers", None)
    request.state.outcome = code
    return JSONResponse(error_body(request.scope, code, message, **extra), status_code=status, headers=headers)


async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
    extra = {"fix": exc.fix} if exc.fix else {}
    return _error(request, exc.status, exc.code, exc.message, headers=exc.headers, **extra)


_JSON_HINT = 'send a JSON object like {"question": "What are the side effects?"} with Content-Type: application/json'


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 that says which field is wrong and why, and never echoes the rejected input (FastAPI's default does), nor
    the name of a field kbot does not know (``{"My name is Zelda 555-867-5309": 1}``): only kbot's own names."""
    errors = exc.errors()
    if any((e.get("ctx") or {}).get("error") == DUPLICATE_FIELD for e in errors):
        why = "names the same field more than once: send each field once"
        return _error(request, 422, "invalid_request", f"body: {why}", fields={"body": why})
    if any(e.get("type") == "json_invalid" for e in errors):
        return _error(request, 422, "invalid_json", f"The body is not valid JSON: {_JSON_HINT}")
    fields: dict[str, str] = {}
    for e in errors:
        loc = [str(p) for p in e.get("loc", ())]
        name = ".".join(loc[1:]) if len(loc) > 1 else loc[0] if loc else "request"
        if e.get("type") == "extra_forbidden":  # a name the caller made up, maybe from what a patient typed
            name = loc[0] if loc else "request"
        fields.setdefault(name, _describe(e))
    code = "invalid_question" if "question" in fields else "invalid_request"
    message = "; ".join(f"{name}: {why}" for name, why in fields.items())
    return _error(request, 422, code, message, fields=fields)


def _describe(error: Any) -> str:
    kind, ctx = error.get("type", ""), error.get("ctx") or {}
    if kind == "missing":
        return f"is required: {_JSON_HINT}" if tuple(error.get("loc", ())) == ("body",) else "is required"
    if kind == "string_type":
        return "must be a string"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    if kind == "extra_forbidden":
        return "holds a field kbot does not accept (its name is not repeated here; /docs lists the accepted ones)"
    if kind in ("model_attributes_type", "dict_type", "model_type"):
        return f"must be a JSON object: {_JSON_HINT}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', 'the documented values')}".replace("'", "")
    if kind == "value_error":
        return str(ctx.get("error", error.get("msg", "is not valid")))
    return str(error.get("msg", "is not valid"))


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    headers = dict(exc.headers or {})
    if exc.status_code == 404:
        return _error(request, 404, "not_found", "No such endpoint; see /docs", headers=headers)
    if exc.status_code == 405:
        message = "This endpoint does not accept that method; questions go in a POST body (see /docs)"
        return _error(request, 405, "method_not_allowed", message, headers=headers)
    if exc.status_code == 400:  # a body FastAPI could not decode (e.g. not UTF-8): bad input, like broken JSON
        return _error(request, 422, "invalid_json", f"The body could not be read: {_JSON_HINT}")
    return _error(request, exc.status_code, "http_error", str(exc.detail), headers=headers)
