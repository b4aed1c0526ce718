"""The UI/services boundary, checked rather than hoped for."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

NON_UI_MODULES = [
    "smconsole.session",
    "smconsole.errors",
    "smconsole.cli",
]


@pytest.mark.parametrize("module", NON_UI_MODULES + sorted(
    f"smconsole.{p.parent.name}.{p.stem}"
    for p in (ROOT / "console" / "smconsole").glob("*/*.py")
    if p.parent.name in {"services", "models", "local"} and p.stem != "__init__"
))
def test_service_modules_do_not_load_textual(module: str) -> None:
    code = f"import sys, {module}; sys.exit(1 if 'textual' in sys.modules else 0)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{module} loads textual\n{result.stderr[-2000:]}"


def test_import_linter_contracts_hold() -> None:
    result = subprocess.run(["lint-imports"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_cli_json_path_does_not_load_textual() -> None:
    code = ("import sys; from smconsole.cli import build_parser; build_parser(); "
            "sys.exit(1 if 'textual' in sys.modules else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
