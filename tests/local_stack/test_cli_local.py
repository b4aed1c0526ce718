"""`smconsole local start|status|stop|reset` and `--local` as README lists them, as a newcomer
types them: real subprocesses, one background stack in a private state folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {**os.environ, "SMCONSOLE_STATE_DIR": str(tmp_path / "state"),
           "SMCONSOLE_LOCAL_DIR": str(tmp_path / "local")}
    yield env
    subprocess.run([sys.executable, "-m", "smconsole", "local", "reset"], env=env,
                   capture_output=True, timeout=120, check=False)


def smc(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "smconsole", *args], env=env,
                          capture_output=True, text=True, timeout=180, check=False)


def test_start_status_local_and_reset_as_the_readme_lists_them(env: dict[str, str]) -> None:
    started = smc(env, "local", "start", "--latency-ms", "20", "--json")
    assert started.returncode == 0, started.stderr
    assert json.loads(started.stdout)["latency_ms"] == 20
    status = smc(env, "local", "status", "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["running"] is True
    code = "from smconsole.cli.tui_cmd import still_running_note as n; print(n())"
    note = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=60, check=True).stdout
    assert "still running at http://127.0.0.1:" in note and "smconsole local stop" in note
    again = smc(env, "local", "start")
    assert json.loads(again.stdout)["started"] is False
    assert "already running with --latency-ms 20" in again.stderr

    # A running stack is used as it is: nothing said.
    listed = smc(env, "--local", "endpoints", "--json")
    assert listed.returncode == 0 and listed.stderr == ""
    assert smc(env, "local", "stop").returncode == 0
    # A stopped one is started again, and the user is told.
    listed = smc(env, "endpoints", "--local", "--json")
    assert listed.returncode == 0, listed.stderr
    assert listed.stderr.startswith("smconsole: the local stack is not running; starting it")
    assert json.loads(listed.stdout) == []


def test_reset_says_the_ledger_is_kept_and_clears_it_on_request(
        env: dict[str, str], tmp_path: Path) -> None:
    from smconsole.ledger import Ledger
    from smconsole.specs.batch import load_batch

    batch = tmp_path / "b.yaml"
    batch.write_text("endpoint: e\nrequests:\n  - body: {}\n")
    with Ledger(Path(env["SMCONSOLE_STATE_DIR"]) / "ledger.sqlite3") as ledger:
        ledger.create_batch(load_batch(batch))
    kept = smc(env, "local", "reset")
    assert kept.returncode == 0, kept.stderr
    assert "kept the request ledger" in kept.stderr and "--clear-ledger" in kept.stderr
    assert json.loads(kept.stdout)["ledger_cleared"] is False
    cleared = smc(env, "local", "reset", "--clear-ledger", "--json")
    assert cleared.returncode == 0 and "cleared the request ledger" in cleared.stderr
    with Ledger(Path(env["SMCONSOLE_STATE_DIR"]) / "ledger.sqlite3") as ledger:
        assert ledger.batches() == []
