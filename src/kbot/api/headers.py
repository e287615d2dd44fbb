"""Security headers for what the pages module does not render itself: the JSON API and the interactive docs.

Every response without a Content-Security-Policy of its own gets ``API_POLICY``: it loads nothing and may not be
framed. ``/docs`` and ``/redoc`` (FastAPI's Swagger UI and ReDoc pages, served by fastapi-offline) get
``docs_policy``: their scripts only from kbot, the one inline script Swagger UI's page starts itself with allowed by
its SHA-256 (computed from the page as sent, so a FastAPI upgrade that changes it cannot break the page), and no
framing, so a hostile site cannot overlay them ("clickjacking").
"""

from __future__ import annotations

import base64
import hashlib
import re

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = "content-security-policy"
API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def docs_policy(html: bytes) -> str:
    """The policy for a docs page: kbot's own files, the page's inline scripts by hash, inline styles (both UIs set
    styles from their scripts), the ``blob:`` workers ReDoc starts, and no framing."""
    hashes = [base64.b64encode(hashlib.sha256(body).digest()).decode() for body in _INLINE_SCRIPT.findall(html)]
    scripts = " ".join(["'self'", *(f"'sha256-{h}'" for h in hashes)])
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src {scripts}",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "worker-src 'self' blob:",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )


class SecurityHeaders:
    """Adds ``API_POLICY`` to responses that set no policy, and ``docs_policy`` (with ``X-Frame-Options: DENY`` for
    browsers that predate ``frame-ancestors``) to the pages at ``docs_paths``, whose bodies it holds until complete
    to hash their inline scripts (a few kilobytes of HTML)."""

    def __init__(self, app: ASGIApp, docs_paths: frozenset[str]) -> None:
        self.app = app
        self.docs_paths = docs_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
        elif scope["path"] in self.docs_paths:
            await self._docs(scope, receive, send)
        else:
            await self.app(scope, receive, _with_default_policy(send))

    async def _docs(self, scope: Scope, receive: Receive, send: Send) -> None:
        start: Message = {}
        body: list[bytes] = []

        async def hold(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            body.append(message.get("body", b""))
            if not message.get("more_body", False):
                headers = MutableHeaders(scope=start)
                headers[CSP] = docs_policy(b"".join(body))
                headers["X-Frame-Options"] = "DENY"
                headers["Referrer-Policy"] = "no-referrer"
                await send(start)
                await send({"type": "http.response.body", "body": b"".join(body)})

        await self.app(scope, receive, hold)


def _with_default_policy(send: Send) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            if CSP not in headers:
                headers[CSP] = API_POLICY
        await send(message)

    return wrapped
