"""Fixtures for the timeline, replay and doctor tests: a private ledger, tiny models."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from smconsole import locations
from smconsole.ledger import Ledger


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "state"
    monkeypatch.setenv("SMCONSOLE_STATE_DIR", str(path))
    return path


@pytest.fixture
def ledger(state_dir: Path) -> Iterator[Ledger]:
    with Ledger() as opened:
        yield opened


def tiny_models() -> Any:
    path = locations.container_dir() / "tools" / "tiny_models.py"
    spec = importlib.util.spec_from_file_location("diagnose_tiny_models", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def failing_summarizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Answers short texts, fails (a real 500 from its forward pass) past ~60 words."""
    return Path(tiny_models().build_failing_summarizer(tmp_path_factory.mktemp("failing")))


@pytest.fixture(scope="session")
def summarizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(tiny_models().build_summarizer(tmp_path_factory.mktemp("summarizer")))


@pytest.fixture(scope="session")
def classifier_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(tiny_models().build_text_classifier(tmp_path_factory.mktemp("classifier")))


@pytest.fixture(scope="session")
def failing_text() -> str:
    return str(tiny_models().FAILING_TEXT)
