"""Shared fixtures: settings pointing at tmp index folders, the fake and the real embedder, services over both.

Tests that use the real model are marked ``model`` automatically (skip them locally with ``-m "not model"``; CI runs
everything).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from kbot.config import Settings
from kbot.embedding import Embedder, FakeEmbedder
from kbot.index import build_index

if TYPE_CHECKING:
    from kbot.service import KbotService

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
WEB = ROOT / "web"

os.environ.setdefault("HF_HUB_OFFLINE", "1")

MODEL_FIXTURES = {"real_embedder", "real_index_dir", "real_service"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.model)


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    return SEEDS


@pytest.fixture(scope="session")
def make_settings(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Settings]:
    """Settings for the project's seeds/ and web/, with a fresh tmp index folder unless one is given."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "seeds_dir": SEEDS,
            "web_dir": WEB,
            "index_dir": tmp_path_factory.mktemp("index"),
            "rate_limit_per_minute": 0,
            "var_dir": tmp_path_factory.mktemp("var"),  # the SQLite database of answers and feedback
            # Indexes built here name no reader (build_index's default); a test of the reader asks for it and
            # builds its index with reader_id(settings) (tests/test_reader.py, tests/test_nih_eval.py).
            "reader": False,
        }
        if overrides.get("model_name") == FakeEmbedder.name:
            # seeds/abstention.toml is calibrated on the real model's cosines; the fake embedder's are lower
            values.update(min_dense_score=0.55, min_coverage=0.60, min_coverage_dense=0.20)
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture(scope="session")
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture(scope="session")
def fake_index_dir(tmp_path_factory: pytest.TempPathFactory, fake_embedder: FakeEmbedder) -> Path:
    """KBOT_INDEX_DIR of a fake-model index of seeds/, as the knowledge base "default"."""
    folder = tmp_path_factory.mktemp("fake-index")
    build_index(SEEDS, folder / "default", fake_embedder)
    return folder


@pytest.fixture(scope="session")
def fake_service(
    make_settings: Callable[..., Settings], fake_index_dir: Path, fake_embedder: FakeEmbedder
) -> KbotService:
    from kbot.service import KbotService

    settings = make_settings(index_dir=fake_index_dir, model_name=FakeEmbedder.name)
    return KbotService.load(settings, embedder=fake_embedder)


@pytest.fixture(scope="session")
def real_embedder() -> Embedder:
    from kbot.embedding import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def real_index_dir(tmp_path_factory: pytest.TempPathFactory, real_embedder: Embedder) -> Path:
    """KBOT_INDEX_DIR of a real-model index of seeds/, as the knowledge base "default"."""
    folder = tmp_path_factory.mktemp("real-index")
    build_index(SEEDS, folder / "default", real_embedder)
    return folder


@pytest.fixture(scope="session")
def real_service(make_settings: Callable[..., Settings], real_index_dir: Path, real_embedder: Embedder) -> KbotService:
    from kbot.service import KbotService

    return KbotService.load(make_settings(index_dir=real_index_dir), embedder=real_embedder)
