"""Console tests never write the user's own state (the ledger opens under the state dir)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _private_state(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SMCONSOLE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("SMCONSOLE_CONFIG_DIR", str(tmp_path / "config"))
