"""Fixtures for the requests area: a private state dir and ledger per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
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
