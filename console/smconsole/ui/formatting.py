"""How values look in the console: status colours, elapsed times, dates."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text

from smconsole.models.endpoints import Endpoint

STATUS_STYLES = {
    "InService": "green",
    "Creating": "yellow",
    "Updating": "yellow",
    "SystemUpdating": "yellow",
    "RollingBack": "dark_orange",
    "Deleting": "magenta",
    "Failed": "bold red",
    "UpdateRollbackFailed": "bold red",
    "OutOfService": "bright_black",
}


def duration(seconds: float | None) -> str:
    """Every span of time the console shows: 850ms, 12.3s (12s when whole), 4m05s, 2h10m, 3d
    (– when unknown)."""
    if seconds is None:
        return "–"
    seconds = max(0.0, seconds)
    if seconds == 0:
        return "0s"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        # Whole seconds (a cooldown) without a decimal; measured ones (a latency) with one.
        return f"{seconds:.0f}s" if float(seconds).is_integer() else f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    if seconds < 86400:
        return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"
    return f"{int(seconds // 86400)}d"


def status_text(endpoint: Endpoint, now: float) -> Text:
    label = endpoint.status
    if endpoint.is_transitional and endpoint.last_modified is not None:
        label += f" {duration(now - endpoint.last_modified.timestamp())}"
    return Text(label, style=STATUS_STYLES.get(endpoint.status, ""))


def when(value: datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M") if value else ""


def clock_time(timestamp: float) -> str:
    """HH:MM:SS local time, for "refreshed at" stamps."""
    return datetime.fromtimestamp(timestamp).astimezone().strftime("%H:%M:%S")


def count(value: int | None) -> str:
    return "–" if value is None else str(value)
