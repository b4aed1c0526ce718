"""Where smconsole keeps its files (XDG), overridable for tests and the local stack."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "smconsole"


def state_dir() -> Path:
    """Ledger and other durable state: $SMCONSOLE_STATE_DIR or the XDG state dir."""
    override = os.environ.get("SMCONSOLE_STATE_DIR")
    path = Path(override) if override else Path(platformdirs.user_state_dir(APP_NAME))
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir() -> Path:
    override = os.environ.get("SMCONSOLE_CONFIG_DIR")
    return Path(override) if override else Path(platformdirs.user_config_dir(APP_NAME))


def cache_dir() -> Path:
    """Things smconsole can fetch again (the Pricing API's prices): $SMCONSOLE_CACHE_DIR or XDG."""
    override = os.environ.get("SMCONSOLE_CACHE_DIR")
    return Path(override) if override else Path(platformdirs.user_cache_dir(APP_NAME))


def local_stack_dir() -> Path:
    """The embedded local stack's state: one folder the user can delete."""
    override = os.environ.get("SMCONSOLE_LOCAL_DIR")
    return Path(override) if override else state_dir() / "local"


def repo_root() -> Path:
    """The checkout root (console/smconsole/ is two levels below it) in an editable install."""
    return Path(__file__).resolve().parents[2]


def container_dir() -> Path:
    """The bundled container's build context; $SMCONSOLE_CONTAINER_DIR overrides."""
    override = os.environ.get("SMCONSOLE_CONTAINER_DIR")
    return Path(override) if override else repo_root() / "container"


def configs_dir() -> Path:
    override = os.environ.get("SMCONSOLE_CONFIGS_DIR")
    return Path(override) if override else repo_root() / "configs"
