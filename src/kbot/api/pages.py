"""The chat page, the demo page, the widget's files and the chat panel that the widget frames.

Routes: ``GET /`` (the chat page of the knowledge base ``default``), ``GET /kb/{name}`` (the chat page of another
knowledge base), ``GET /panel`` (the chat panel, framed by the widget on a clinic's site; ``?kb=NAME``),
``GET /demo`` (a sample clinic page that embeds the widget), ``GET /widget.js`` (the embed script) and
``GET /static/{path}`` (the widget's JavaScript and CSS). Templates and files come from ``settings.web_dir``.

Every page is rendered by Jinja2 with autoescaping and sent with a Content-Security-Policy that allows only kbot's
own scripts and styles (no inline scripts); the panel's ``frame-ancestors`` lists the sites allowed to frame it.

Each knowledge base's page shows its own title, intro, starter questions, sources, help lines and notice (its kb.toml,
else the deployment's settings). The app factory keeps its runtime in ``app.state.kbot``: its ``settings``, and its
``service`` once loaded.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from kbot.config import HelpLine, Settings
from kbot.errors import KbotError
from kbot.knowledge_base import DEFAULT_KB, folder_of
from kbot.profile import Profile, load_profile

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)
GET_HEAD = ["GET", "HEAD"]  # HEAD too, for uptime checks and caches (FastAPI's @get answers HEAD with 405)

MAX_STARTERS = 4
MAX_TITLE_CHARS = 80
MAX_STARTER_CHARS = 200

_ORIGIN = re.compile(r"^https?://(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:\d{1,5})?$")
_HEX_COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
# A CSP host-source (scheme, optional "*." wildcard, host, optional port), or 'self'.
_FRAME_ANCESTOR = re.compile(r"^(?:'self'|(?:https?://)?(?:\*\.)?[a-z0-9.-]+(?::(?:\d{1,5}|\*))?)$")

_STATIC_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
_CACHE = "public, max-age=300"
MAX_STATIC_PATH = 200  # characters: web/static/'s names are short, and the OS refuses names over 255 bytes


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.kbot.settings
    return settings


def _knowledge_base(request: Request, name: str) -> tuple[Profile, list[dict[str, str]]]:
    """A knowledge base's kb.toml and its articles for "about these sources" (links only when http(s)); no articles
    while the service is still loading or the knowledge base cannot answer. 404 when no knowledge base has that name."""
    try:
        folder = folder_of(_settings(request), name)
    except KbotError:
        raise HTTPException(status_code=404, detail="Not found") from None
    service = request.app.state.kbot.service
    try:
        kb = service.kb(name) if service is not None else None
    except KbotError:
        kb = None
    if kb is not None:
        return kb.profile, [{**asdict(meta), "url": http_url(meta.url)} for meta in kb.sources()]
    try:
        return load_profile(folder), []
    except KbotError:
        return Profile(), []


def http_url(value: str) -> str:
    """``value`` if it is an http(s) URL, else "" (a javascript: or data: link must never become a link)."""
    return value if urlsplit(value).scheme in ("http", "https") and urlsplit(value).netloc else ""


def tel_digits(phone: str) -> str:
    return re.sub(r"[^0-9+]", "", phone)


def help_line_data(lines: list[HelpLine]) -> list[dict[str, str]]:
    """The help lines for chat.js, which shows them before the error text whenever the API fails."""
    return [line.model_dump(include={"name", "action", "phone", "sms"}) for line in lines]


def long_date(iso: str) -> str:
    """ "2024-08-22" as "August 22, 2024", as chat.js shows a source's date (Intl, "en", dateStyle long); any other
    text as it is."""
    try:
        day = date.fromisoformat(iso)
    except (TypeError, ValueError):
        return iso
    return f"{day:%B} {day.day}, {day.year}"


@lru_cache(maxsize=8)
def _templates(web_dir: Path) -> Environment:
    env = Environment(
        loader=FileSystemLoader(web_dir / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["long_date"] = long_date
    return env


def _render(request: Request, name: str, csp: str, **context: Any) -> HTMLResponse:
    settings = _settings(request)
    root = request.scope.get("root_path", "").rstrip("/")
    html = _templates(settings.web_dir.resolve()).get_template(name).render(root=root, **context)
    return HTMLResponse(html, headers=_page_headers(csp))


def _page_headers(csp: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }


def content_security_policy(frame_ancestors: list[str] | None = None, frame_src: str = "'none'") -> str:
    """Only kbot's own scripts, styles and API; ``frame_ancestors`` are the sites (besides kbot) that may frame it."""
    ancestors = ["'self'", *valid_frame_ancestors(frame_ancestors or [])]
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            f"frame-src {frame_src}",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors " + " ".join(dict.fromkeys(ancestors)),
        ]
    )


def valid_frame_ancestors(entries: list[str]) -> list[str]:
    """The entries that are CSP host-sources; anything else (which could inject a directive) is dropped and logged."""
    kept = []
    for entry in entries:
        value = entry.strip().rstrip("/").lower()
        if _FRAME_ANCESTOR.match(value):
            kept.append(value)
        else:
            log.warning("Ignoring frame_ancestors entry %r: expected an origin such as https://clinic.example", entry)
    return kept


def parse_origin(value: str) -> str:
    """``value`` as a lower-case origin (scheme://host[:port]) if it is one, else ""."""
    value = value.strip().rstrip("/").lower()
    return value if _ORIGIN.match(value) else ""


def parse_colour(value: str) -> str:
    return value if _HEX_COLOUR.match(value) else ""


def clean_starters(values: list[str]) -> list[str]:
    starters = [" ".join(v.split())[:MAX_STARTER_CHARS] for v in values]
    return [s for s in starters if s][:MAX_STARTERS]


@router.api_route("/", methods=GET_HEAD, response_class=HTMLResponse)
def chat_page(request: Request) -> HTMLResponse:
    return _chat_page(request, DEFAULT_KB)


@router.api_route("/kb/{name}", methods=GET_HEAD, response_class=HTMLResponse)
def kb_chat_page(request: Request, name: str) -> HTMLResponse:
    return _chat_page(request, name)


def _chat_page(request: Request, name: str) -> HTMLResponse:
    settings = _settings(request)
    profile, sources = _knowledge_base(request, name)
    lines: list[HelpLine] = profile.help_lines or settings.help_lines
    return _render(
        request,
        "chat.html",
        content_security_policy(),
        title=profile.title,
        intro=profile.intro,
        attribution=profile.attribution,
        starters=clean_starters(profile.starters),
        sources=sources,
        help_lines=[(line, tel_digits(line.phone)) for line in lines],
        help_line_data=help_line_data(lines),
        notice=profile.notice or settings.notice,
        max_chars=settings.max_question_chars,
        kb="" if name == DEFAULT_KB else name,
    )


@router.api_route("/panel", methods=GET_HEAD, response_class=HTMLResponse)
def panel(
    request: Request,
    host: str = "",
    title: str = "",
    color: str = "",
    kb: str = DEFAULT_KB,
    q: Annotated[list[str] | None, Query()] = None,
) -> HTMLResponse:
    """The chat panel framed by the widget. ``host`` is the embedding page's origin, the only one it talks to; the
    title and starters are the widget's when it sets them, else the knowledge base's."""
    settings = _settings(request)
    profile, _ = _knowledge_base(request, kb)
    return _render(
        request,
        "panel.html",
        content_security_policy(settings.frame_ancestors),
        title=" ".join(title.split())[:MAX_TITLE_CHARS] or profile.title,
        host=parse_origin(host),
        colour=parse_colour(color),
        starters=clean_starters(q or []) or clean_starters(profile.starters),
        notice=profile.notice or settings.notice,
        max_chars=settings.max_question_chars,
        help_line_data=help_line_data(profile.help_lines or settings.help_lines),
        kb="" if kb == DEFAULT_KB else kb,
    )


@router.api_route("/demo", methods=GET_HEAD, response_class=HTMLResponse)
def demo(request: Request, kb: str = DEFAULT_KB) -> HTMLResponse:
    """A plain sample clinic page with the widget embedded exactly as the README tells clinics to do it, answering
    from the knowledge base ``kb``."""
    endpoint = str(request.base_url).rstrip("/")
    profile, _ = _knowledge_base(request, kb)
    csp = content_security_policy(frame_src="'self'")
    return _render(request, "demo.html", csp, endpoint=endpoint, kb=kb, title=profile.title)


@router.api_route("/widget.js", methods=GET_HEAD)
def widget_js(request: Request) -> Response:
    return _static_file(_settings(request), "widget.js", cross_origin=True)


@router.api_route("/static/{path:path}", methods=GET_HEAD)
def static_file(request: Request, path: str) -> Response:
    return _static_file(_settings(request), path, cross_origin=path == "widget.js")


def _static_file(settings: Settings, path: str, cross_origin: bool = False) -> Response:
    """A file under web/static/ of a known type; 404 for anything else, including paths that climb out of it, hold a
    NUL byte or are longer than any file name there (the file system would refuse them with an error, not a 404)."""
    target = _static_path(settings.web_dir / "static", path)
    if target is None:
        raise HTTPException(status_code=404, detail="Not found")
    headers = {"Cache-Control": _CACHE, "X-Content-Type-Options": "nosniff"}
    if cross_origin:  # loaded by <script> tags on clinics' pages, including pages that set COEP
        headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return FileResponse(target, media_type=_STATIC_TYPES[target.suffix], headers=headers)


def _static_path(folder: Path, path: str) -> Path | None:
    if len(path) > MAX_STATIC_PATH or "\0" in path:
        return None
    try:
        base = folder.resolve()
        target = (base / path).resolve()
        found = target.suffix in _STATIC_TYPES and target.is_relative_to(base) and target.is_file()
    except (OSError, ValueError):  # a name the file system refuses (too long for it, say)
        return None
    return target if found else None
