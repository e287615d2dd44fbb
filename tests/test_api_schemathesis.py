"""Property-based tests of the API against its own OpenAPI schema: no 5xx, and every response matches the schema.

The schema is read from an app built at import (cheap: nothing loads until its lifespan runs); the requests go to an
app over the fake service, started by schemathesis. (``schemathesis.pytest.from_fixture`` would be the usual way, but
its lazy loader reads ``request.node._nodeid``, which pytest 9 no longer has.)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings

from kbot.api import create_app
from kbot.config import Settings
from kbot.embedding import FakeEmbedder
from kbot.service import KbotService

SCHEMA_SETTINGS: dict[str, Any] = {"rate_limit_per_minute": 0}
OPENAPI = create_app(Settings(_env_file=None, **SCHEMA_SETTINGS)).openapi()  # type: ignore[call-arg]
schema = schemathesis.openapi.from_dict(OPENAPI)


@pytest.fixture(scope="module")
def app(make_settings: Callable[..., Settings], fake_index_dir: Path, fake_service: KbotService) -> FastAPI:
    settings = make_settings(index_dir=fake_index_dir, model_name=FakeEmbedder.name, **SCHEMA_SETTINGS)
    return create_app(settings, fake_service)


def test_the_app_under_test_has_the_schema_under_test(app: FastAPI) -> None:
    assert app.openapi() == OPENAPI


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case: Any, app: FastAPI) -> None:
    case.call_and_validate(app=app)
