"""kbot's HTTP API (FastAPI). ``create_app(settings)`` builds it; ``kbot serve`` runs it with uvicorn."""

from kbot.api.app import create_app

__all__ = ["create_app"]
