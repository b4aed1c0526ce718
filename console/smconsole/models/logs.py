"""Log events and the state of a tail, shared by the CLI and the logs screen."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

_LEVEL = re.compile(
    r"\b(CRITICAL|FATAL|ERROR|WARNING|WARN|INFO|DEBUG|TRACE)\b|\"level\"\s*:\s*\"(\w+)\"",
    re.IGNORECASE,
)
_CANONICAL = {"WARN": "WARNING", "FATAL": "CRITICAL"}


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
        """The first level word in the line (plain or a JSON "level" field), canonical case."""
        found = _LEVEL.search(self.message[:200])
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
