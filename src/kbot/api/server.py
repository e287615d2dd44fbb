"""Running the API with uvicorn: ``run(settings, host=, port=, workers=)`` (what ``kbot serve`` calls).

Each worker process builds its app from the environment (``app_from_env``), so ``run`` first writes the settings it
was given into ``KBOT_*`` variables: every worker then sees the same settings, whatever their origin. Each worker
loads the model itself; the FAISS index and the sentence vectors are memory-mapped, so the OS shares their pages.
With several workers, each model gets ``cores / workers`` threads (``OMP_NUM_THREADS``, unless already set).

Uvicorn's access log is off (it would record URLs with their query strings); the app logs one line per request with
its id, route, status, latency and outcome instead. The HTTP protocol is ``GuardedH11Protocol`` (``protocol.py``):
uvicorn's h11 one with a header size limit (431) and idle and read timeouts; ``limit_concurrency`` caps the open
connections of each worker (503 beyond it). Uvicorn's proxy-header rewriting is off too: whether X-Forwarded-For is
trusted is the app's setting (``KBOT_TRUST_FORWARDED_FOR``), not uvicorn's.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
from typing import TYPE_CHECKING, Any

from kbot.config import Settings, load_settings

if TYPE_CHECKING:
    from fastapi import FastAPI

ENV_PREFIX = "KBOT_"


def export_settings(settings: Settings, environ: dict[str, str] | os._Environ[str] = os.environ) -> None:
    """Write every setting into ``KBOT_*`` variables, in the form ``Settings()`` reads back."""
    for name, value in settings.model_dump(mode="json").items():
        key = ENV_PREFIX + name.upper()
        if value is None:
            environ.pop(key, None)
        elif isinstance(value, bool):
            environ[key] = "true" if value else "false"
        elif isinstance(value, list | dict):
            environ[key] = json.dumps(value)
        else:
            environ[key] = str(value)


def app_from_env() -> FastAPI:
    """The uvicorn factory: one app per worker process, from the ``KBOT_*`` environment."""
    from kbot.api.app import create_app

    return create_app(load_settings())


def log_config(level: str = "info") -> dict[str, Any]:
    """Uvicorn's logging setup, plus kbot's request log lines on stderr."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["kbot"] = {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    config["handlers"]["kbot"] = {"formatter": "kbot", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"}
    config["loggers"]["kbot"] = {"handlers": ["kbot"], "level": level.upper(), "propagate": False}
    return config


def run(
    settings: Settings, *, host: str = "127.0.0.1", port: int = 8000, workers: int = 1, log_level: str = "info"
) -> None:
    """Serve until interrupted."""
    import uvicorn

    from kbot.api.batching import worker_cores
    from kbot.api.protocol import GuardedH11Protocol

    export_settings(settings)
    if workers > 1:  # each worker's model would use every core: share them out instead of oversubscribing
        os.environ.setdefault("OMP_NUM_THREADS", str(max(1, worker_cores() // workers)))
    uvicorn.run(
        "kbot.api.server:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        log_config=log_config(log_level),
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=10,
        http=GuardedH11Protocol,  # 431 over KBOT_MAX_HEADER_BYTES, 408 past KBOT_READ_TIMEOUT_S
        h11_max_incomplete_event_size=settings.max_header_bytes,
        timeout_keep_alive=settings.idle_timeout_s,
        limit_concurrency=settings.max_connections,
    )


def main(argv: list[str] | None = None) -> None:
    """``python -m kbot.api.server [--host --port --workers]``: the same as ``kbot serve --no-build``."""
    parser = argparse.ArgumentParser(prog="python -m kbot.api.server", description="Serve kbot's HTTP API")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    args = parser.parse_args(argv)
    run(load_settings(), host=args.host, port=args.port, workers=args.workers, log_level=args.log_level)


if __name__ == "__main__":
    main()
