"""A closed pipe against moto over HTTP is no traceback: `smconsole ... | head -0`."""

from __future__ import annotations

import os

import pytest
from fixtures.cli import run_into_a_closed_pipe
from smconsole.locations import configs_dir


@pytest.mark.parametrize("args", [
    ("deploy", str(configs_dir() / "deploy-demo.yaml"), "--dry-run"),
    ("endpoints",),
    ("endpoints", "--json"),
    ("scale", "nope", "--min", "0", "--max", "2", "--dry-run"),
])
def test_a_closed_pipe_ends_quietly(moto_url: str, tmp_path, args: tuple[str, ...]) -> None:
    env = {**os.environ, "SMCONSOLE_STATE_DIR": str(tmp_path)}
    result = run_into_a_closed_pipe(*args, "--endpoint-url", moto_url, env=env)
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr, result.stderr
    assert result.returncode in (2, 141), result.stderr
