"""How the console behaves: read-only, refresh interval, log ring size, theme, keys, clock.

`ConsoleSettings` is what screens read. `load_settings` builds it from the user's file
(`<config dir>/console.yaml`), `SMCONSOLE_*` environment variables and the command line.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from smconsole import errors
from smconsole.locations import config_dir

SETTINGS_FILE = "console.yaml"


@dataclass(frozen=True)
class ConsoleSettings:
    read_only: bool = False
    refresh_seconds: float = 15.0
    log_max_lines: int = 100_000
    log_since: str = "10m"
    theme: str = "textual-dark"
    # Binding id → keys, e.g. {"endpoints.delete": "ctrl+d"}; ids are listed by `?`.
    keymap: dict[str, str] = field(default_factory=dict)
    # Injected so snapshots and tests render the same elapsed times every run.
    clock: Callable[[], float] = field(default=time.time)
    # Endpoints described per worker step; the rest follow in later steps.
    describe_chunk: int = 100


class UserSettings(BaseSettings):
    """The console's settings file (YAML) and SMCONSOLE_* variables; unknown keys are errors."""

    model_config = SettingsConfigDict(env_prefix="SMCONSOLE_", extra="forbid")

    refresh_seconds: float = Field(15.0, gt=0, description="endpoints table refresh interval")
    log_max_lines: int = Field(100_000, ge=1_000, description="log lines kept per logs view")
    log_since: str = Field("10m", description="how far back a logs view starts (5m, 1h, ISO)")
    theme: str = Field("textual-dark", description="a Textual theme name")
    keymap: dict[str, str] = Field(default_factory=dict,
                                   description="binding id → keys, e.g. endpoints.delete: ctrl+d")

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _settings_path()
        if path.is_file():
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
        return tuple(sources)


def _settings_path() -> Path:
    return config_dir() / SETTINGS_FILE


def load_settings(*, read_only: bool = False, **overrides: Any) -> ConsoleSettings:
    """Settings from file and environment; a bad value names the file (or variable) and field."""
    try:
        user = UserSettings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise errors.SmconsoleError(
            f"{_settings_path()} (or SMCONSOLE_* variables): {problems}"
        ) from None
    return ConsoleSettings(
        read_only=read_only, refresh_seconds=user.refresh_seconds,
        log_max_lines=user.log_max_lines, log_since=user.log_since, theme=user.theme,
        keymap=dict(user.keymap),
    )


def save_theme(theme: str) -> Path:
    """Keep `theme` in the settings file: its `theme:` line replaced (comments and other
    keys as they were), or added. A theme set by SMCONSOLE_THEME still wins at the next start.
    """
    path = _settings_path()
    line = f"theme: {theme}"
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    pattern = re.compile(r"^theme:.*$", re.MULTILINE)
    if pattern.search(text):
        text = pattern.sub(line, text, count=1)
    else:
        text = (text if not text or text.endswith("\n") else text + "\n") + line + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
