"""Request bodies read strictly: a JSON object that names a field twice is refused, not read "last one wins".

Python's ``json`` keeps the last of two equal keys, so ``{"question": "a", "question": "b"}`` would be asked as "b"
while a proxy, a log or a filter in front of kbot may have looked at "a". The routes of ``StrictJsonRoute`` parse with
a hook that refuses such an object; FastAPI turns the error into a 422, which ``DUPLICATE_FIELD`` lets the app's error
handler tell apart from broken JSON. (FastAPI's documented way to change how a route reads its body: a custom
``Request`` in a custom ``APIRoute``.)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

DUPLICATE_FIELD = "a JSON object names the same field more than once"


def unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json``'s ``object_pairs_hook``: the object as a dict, or an error when a name repeats (the name itself is
    not put in the error: it may be text a patient typed)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise json.JSONDecodeError(DUPLICATE_FIELD, "", 0)
    return obj


class StrictJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = json.loads(await self.body(), object_pairs_hook=unique_object)
        return self._json


class StrictJsonRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict
