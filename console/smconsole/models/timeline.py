"""One async request's story: each step with its time and where that time came from."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from smconsole.models.requests import AsyncRequest


@dataclass(frozen=True)
class TimelineStep:
    """One step: when (epoch seconds) and from which source; `missing` says why it has no time.

    The steps, in the order they happen: recorded, accepted, queued, started, container (may
    repeat, one per log line), finished, written, notified, detected.
    """

    name: str
    at: float | None
    source: str
    detail: str = ""
    missing: str | None = None
    precision: float = 0.001  # S3 keeps whole seconds: its step is somewhere in [at, at + 1)

    @property
    def present(self) -> bool:
        return self.at is not None


@dataclass(frozen=True)
class Span:
    """A derived duration (seconds), with the steps it spans or why it cannot be told."""

    name: str
    seconds: float | None
    basis: str = ""
    missing: str | None = None


@dataclass(frozen=True)
class StoredObject:
    """The S3 output or failure object: its size, type, time and the first bytes as text."""

    location: str
    size: int | None
    content_type: str | None
    last_modified: float | None
    preview: str
    truncated: bool


@dataclass(frozen=True)
class RequestLogLine:
    """A log line that names the request's inference id."""

    timestamp: float
    stream: str
    message: str
    kind: str  # data-log | container


@dataclass(frozen=True)
class Timeline:
    """Everything known about one request, joined from the ledger, logs, S3 and SNS."""

    request: AsyncRequest
    steps: tuple[TimelineStep, ...]
    spans: tuple[Span, ...]
    instance: str | None
    instance_missing: str | None
    lines: tuple[RequestLogLine, ...]
    output: StoredObject | None
    output_missing: str | None
    notification: dict[str, Any] | None
    notification_missing: str | None
    log_calls: int = 0  # FilterLogEvents calls this timeline cost (0 when cached)

    def step(self, name: str) -> TimelineStep | None:
        return next((s for s in self.steps if s.name == name), None)

    def span(self, name: str) -> Span | None:
        return next((s for s in self.spans if s.name == name), None)

    @property
    def ordered(self) -> bool:
        """The milestones never go back in time (within each step's precision).

        Container lines are left out: they are stamped when the log agent read them, which
        may be just after the platform's own `finished` line.
        """
        times = [(s.at, s.precision) for s in self.steps
                 if s.at is not None and s.name != "container"]
        return all(later + precision >= earlier - 0.001
                   for (earlier, _), (later, precision) in itertools.pairwise(times))
