"""The static checks anyone can run, run here so a change that breaks one fails a test.

- `lint-imports`: the contracts in pyproject.toml ([tool.importlinter]): Textual only in the
  UI, no boto3 in the UI, no import cycle between smconsole's subpackages or modules.
- `ruff check console tests container`.
- `vulture`: paths and min_confidence from [tool.vulture]; vulture_whitelist.py lists the
  names it cannot see used (Textual handlers, pydantic validators, ...), each group with why.

Each is skipped, saying so, when its tool is not installed (they come with the `test` extra).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CHECKS = {
    "lint-imports": ["lint-imports"],
    "ruff": ["ruff", "check", "console", "tests", "container"],
    "vulture": ["vulture"],
}


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_static_check_passes(name: str) -> None:
    command = CHECKS[name]
    tool = shutil.which(command[0])
    if tool is None:
        pytest.skip(f"{command[0]} is not installed (pip install -e '.[test]' brings it)")
    result = subprocess.run([tool, *command[1:]], cwd=ROOT, capture_output=True, text=True,
                            check=False, timeout=240)
    assert result.returncode == 0, (
        f"`{' '.join(command)}` exited {result.returncode}\n"
        + result.stdout[-4000:] + result.stderr[-2000:])
