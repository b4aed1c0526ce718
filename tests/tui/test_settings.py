"""User settings: YAML file and SMCONSOLE_* variables, validated; keymap remaps bindings."""

from __future__ import annotations

import pytest
from fixtures.screen_host import until
from smconsole import errors
from smconsole.services.registry import Services
from smconsole.ui.app import SMConsole
from smconsole.ui.settings import load_settings


def test_file_then_environment(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SMCONSOLE_CONFIG_DIR", str(tmp_path))
    assert load_settings().refresh_seconds == 15.0
    (tmp_path / "console.yaml").write_text(
        "refresh_seconds: 5\nlog_since: 1h\nkeymap:\n  endpoints.refresh: ctrl+r\n")
    settings = load_settings(read_only=True)
    assert (settings.refresh_seconds, settings.log_since, settings.read_only) == (5, "1h", True)
    assert settings.keymap == {"endpoints.refresh": "ctrl+r"}
    monkeypatch.setenv("SMCONSOLE_REFRESH_SECONDS", "30")
    assert load_settings().refresh_seconds == 30


def test_bad_values_say_where(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SMCONSOLE_CONFIG_DIR", str(tmp_path))
    (tmp_path / "console.yaml").write_text("refresh_seconds: -1\nlog_max_line: 5\n")
    with pytest.raises(errors.SmconsoleError) as found:
        load_settings()
    text = str(found.value)
    assert "console.yaml" in text and "refresh_seconds" in text and "log_max_line" in text


async def test_keymap_remaps_a_binding(moto_session, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SMCONSOLE_CONFIG_DIR", str(tmp_path))
    (tmp_path / "console.yaml").write_text("keymap:\n  endpoints.refresh: ctrl+r\n")
    app = SMConsole(Services.build(moto_session, operations=False), load_settings())
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.endpoints_screen.loaded)
        keys = {key: b.binding.action for key, b in app.screen.active_bindings.items()}
        assert keys.get("ctrl+r") == "refresh" and "r" not in keys
