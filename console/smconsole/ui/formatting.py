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


def elapsed(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def status_text(endpoint: Endpoint, now: float) -> Text:
    label = endpoint.status
    if endpoint.is_transitional and endpoint.last_modified is not None:
        label += f" {elapsed(now - endpoint.last_modified.timestamp())}"
    return Text(label, style=STATUS_STYLES.get(endpoint.status, ""))


def when(value: datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M") if value else ""


def count(value: int | None) -> str:
    return "–" if value is None else str(value)
