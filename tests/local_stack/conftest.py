"""Tiny models for local-stack tests, built once per session by the container's own tool,
and the shared daemon's last lines beside a failure."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
from smconsole import locations


def tiny_models() -> Any:
    path = locations.container_dir() / "tools" / "tiny_models.py"
    spec = importlib.util.spec_from_file_location("tiny_models", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def failing_summarizer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A summarizer whose forward pass fails (a real 500) for texts over ~60 words."""
    return Path(tiny_models().build_failing_summarizer(tmp_path_factory.mktemp("failing")))


@pytest.fixture(scope="session")
def summarizer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny summarizer: large min_length/max_length make a reliably long inference."""
    return Path(tiny_models().build_summarizer(tmp_path_factory.mktemp("summarizer")))


@pytest.fixture(scope="session")
def tiny_classifier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(tiny_models().build_text_classifier(tmp_path_factory.mktemp("classifier")))


@pytest.fixture(scope="session")
def image_classifier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny ViT image classifier (32x32 RGB, labels cat and dog)."""
    return Path(tiny_models().build_image_classifier(tmp_path_factory.mktemp("image")))


@pytest.fixture(scope="session")
def failing_text() -> str:
    return str(tiny_models().FAILING_TEXT)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    """On failure, show the shared daemon's last lines: the why is usually there."""
    outcome = yield
    report = outcome.get_result()
    stack = getattr(item, "funcargs", {}).get("local_stack")
    if report.failed and stack is not None:
        report.sections.append(("local stack daemon (last 60 lines)",
                                "\n".join(stack.output[-60:])))
