"""Log events and the state of a tail, shared by the CLI and the logs screen."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum

from smconsole import errors

_LEVEL = re.compile(
    r"\b(CRITICAL|FATAL|ERROR|WARNING|WARN|INFO|DEBUG|TRACE)\b|\"level\"\s*:\s*\"(\w+)\"",
    re.IGNORECASE,
)
_CANONICAL = {"WARN": "WARNING", "FATAL": "CRITICAL"}


_SINCE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime | None = None) -> int:
    """'5m', '1h', '2d' or an ISO time → ms since the epoch; a bad value says what it wanted."""
    now = now or datetime.now(UTC)
    found = _SINCE.match(text)
    if found:
        delta = timedelta(**{_UNITS[found.group(2)]: int(found.group(1))})
        return int((now - delta).timestamp() * 1000)
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise errors.SmconsoleError(
            f"since {text!r}: expected a duration like 5m, 1h, 2d or an ISO time"
        ) from None
    if when.tzinfo is None:
        when = when.astimezone()  # a bare ISO time means the operator's local time
    return int(when.timestamp() * 1000)


def log_group_for(endpoint: str) -> str:
    return f"/aws/sagemaker/Endpoints/{endpoint}"


@dataclass(frozen=True, slots=True)
class LogEvent:
    timestamp: int  # ms since the epoch, as CloudWatch gives it
    message: str
    stream: str = ""
    event_id: str = ""

    @property
    def level(self) -> str | None:
        return level_of(self.message)


def level_of(message: str) -> str | None:
    """The first level word in the line (plain or a JSON "level" field), canonical case."""
    found = _LEVEL.search(message[:200])
    if found is None:
        return None
    word = (found.group(1) or found.group(2)).upper()
    return _CANONICAL.get(word, word)


class TailState(Enum):
    """What a tail is doing, so a quiet screen always says why."""

    STARTING = "starting"
    STREAMING = "streaming"
    CAUGHT_UP = "caught up"
    EMPTY_GROUP = "empty group"
    MISSING_GROUP = "missing group"
    THROTTLED = "throttled"
    ERROR = "error"
    STOPPED = "stopped"


@dataclass(frozen=True)
class TailStatus:
    state: TailState
    detail: str = ""
    via: str = "poll"  # "poll" (FilterLogEvents) or "live" (StartLiveTail)
    retry_in: float | None = None

    def __str__(self) -> str:
        text = self.state.value
        if self.detail:
            text += f": {self.detail}"
        if self.retry_in is not None:
            text += f" (retry in {self.retry_in:.0f}s)"
        return text


@dataclass(frozen=True)
class LogBatch:
    """A run of events in time order, plus the tail's status when they were read.

    `sampled` counts events the server said it left out (Live Tail samples above 500/s).
    """

    events: tuple[LogEvent, ...]
    status: TailStatus
    sampled: int = 0
