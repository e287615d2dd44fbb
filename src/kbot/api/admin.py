"""``GET /admin/report``: the curator's report as an HTML page, behind the admin key (KBOT_ADMIN_KEY, sent in the
X-Admin-Key header): 401 without the header, 403 with a wrong key or when no admin key is set."""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import HTMLResponse

from kbot.api.app import ApiError, Runtime
from kbot.errors import KbotError, UnknownKnowledgeBase
from kbot.knowledge_base import NAME_PATTERN

log = logging.getLogger("kbot.api")
ADMIN_KEY_HEADER = "X-Admin-Key"
router = APIRouter(include_in_schema=False)


def _check(runtime: Runtime, key: str | None) -> None:
    expected = runtime.settings.admin_key
    if key is None:
        raise ApiError(
            401,
            "missing_admin_key",
            f"Send the admin key in the {ADMIN_KEY_HEADER} header",
            headers={"WWW-Authenticate": f'ApiKey header="{ADMIN_KEY_HEADER}"'},
        )
    if not expected:
        raise ApiError(403, "admin_off", "The admin pages are off: kbot's operator turns them on with KBOT_ADMIN_KEY")
    if not hmac.compare_digest(key.encode(), expected.encode()):
        raise ApiError(403, "invalid_admin_key", f"The {ADMIN_KEY_HEADER} header holds a key kbot does not accept")


@router.get("/admin/report", response_class=HTMLResponse)
async def admin_report(
    request: Request,
    kb: Annotated[str, Query(pattern=NAME_PATTERN)] = "default",
    since: Annotated[str, Query(max_length=8)] = "30d",
    x_admin_key: Annotated[str | None, Header(alias=ADMIN_KEY_HEADER)] = None,
) -> HTMLResponse:
    runtime: Runtime = request.app.state.kbot
    _check(runtime, x_admin_key)
    service = runtime.service
    page, policy = await asyncio.to_thread(_render, runtime, kb, since, service.embedder.embed if service else None)
    return HTMLResponse(page, headers={"Content-Security-Policy": policy, "Cache-Control": "no-store"})


def _render(runtime: Runtime, kb: str, since: str, embed: object) -> tuple[str, str]:
    from kbot.report import InvalidPeriod, build_report, parse_since
    from kbot.report.render import html, plot

    try:
        period = parse_since(since)
        if runtime.store is not None and runtime.store.ready:
            runtime.store.flush()  # this worker's own latest answers and votes are in it
        report = build_report(runtime.settings, kb, period, embed)  # type: ignore[arg-type]
    except InvalidPeriod as exc:
        raise ApiError(422, "invalid_request", f"since: {exc.message}") from None
    except UnknownKnowledgeBase:
        raise ApiError(
            404, "kb_not_found", f"There is no knowledge base named {kb!r}; GET /v1/kbs lists them"
        ) from None
    except KbotError as exc:
        raise ApiError(503, "report_failed", f"The report cannot be made: {exc.message}") from None
    except Exception as exc:
        log.error("the report could not read the database: %s", type(exc).__name__)
        raise ApiError(503, "store_unavailable", "The database cannot be read right now; see the server log") from None
    return html(report, plot(report))
