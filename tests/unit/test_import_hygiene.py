"""The UI/services boundary, checked rather than hoped for.

One fresh interpreter imports every module in turn and says what each one pulled in: after each
import, every module it added is dropped from sys.modules again, so the next one starts from
the same clean state (allowed third-party packages stay loaded: importing them again would
only cost time). One subprocess instead of one per module.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "console" / "smconsole"

NON_UI_MODULES = [
    "smconsole.session",
    "smconsole.errors",
    "smconsole.cli",
] + sorted(
    f"smconsole.{p.parent.name}.{p.stem}"
    for p in PACKAGE.glob("*/*.py")
    if p.parent.name in {"services", "models", "local"} and p.stem != "__init__"
)
UI_MODULES = sorted(
    ".".join(("smconsole", *p.relative_to(PACKAGE).with_suffix("").parts))
    for p in (PACKAGE / "ui").rglob("*.py") if p.stem != "__init__"
)

# What each kind of module must not pull in (pyproject's [tool.importlinter] contracts, at run
# time), and what may stay loaded between imports to save re-importing it.
RULES: dict[str, dict[str, Any]] = {
    "ui": {"modules": UI_MODULES, "forbidden": ["boto3", "botocore", "moto"],
           "keep": ["textual", "rich", "pydantic", "yaml", "platformdirs"]},
    "non-ui": {"modules": NON_UI_MODULES, "forbidden": ["textual"],
               "keep": ["boto3", "botocore", "pydantic", "pydantic_settings", "yaml", "httpx",
                        "platformdirs"]},
}

SCRIPT = r"""
import importlib, json, sys
rules = json.loads(sys.argv[1])
initial = set(sys.modules)
found = {kind: {} for kind in rules}
for kind in rules:
    for key in set(sys.modules) - initial:  # nothing the other kind loaded or kept
        del sys.modules[key]
    rule = rules[kind]
    for name in rule["keep"]:
        importlib.import_module(name)
    clean = set(sys.modules)
    for module in rule["modules"]:
        try:
            importlib.import_module(module)
            error = None
        except Exception as exc:  # reported, not raised: the other modules are still checked
            error = f"{type(exc).__name__}: {exc}"
        loaded = {k.partition(".")[0] for k in set(sys.modules) - clean}
        found[kind][module] = {"pulled": sorted(set(rule["forbidden"]) & loaded), "error": error}
        for key in set(sys.modules) - clean:
            del sys.modules[key]
json.dump(found, sys.stdout)
"""


@pytest.fixture(scope="module")
def imported() -> dict[str, dict[str, dict[str, Any]]]:
    """{kind: {module: {"pulled": forbidden modules it loaded, "error": why its import failed}}}."""
    result = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(RULES)],
                            capture_output=True, text=True, check=False, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


@pytest.mark.parametrize("module", NON_UI_MODULES)
def test_service_modules_do_not_load_textual(module: str, imported: dict) -> None:
    found = imported["non-ui"][module]
    assert found == {"pulled": [], "error": None}, f"{module}: {found}"


@pytest.mark.parametrize("module", UI_MODULES)
def test_ui_modules_do_not_load_boto3_botocore_or_moto(module: str, imported: dict) -> None:
    found = imported["ui"][module]
    assert found == {"pulled": [], "error": None}, f"{module}: {found}"


def test_import_linter_contracts_hold() -> None:
    result = subprocess.run(["lint-imports"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_cli_json_path_does_not_load_textual() -> None:
    code = ("import sys; from smconsole.cli import build_parser; build_parser(); "
            "sys.exit(1 if 'textual' in sys.modules else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
