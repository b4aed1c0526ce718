"""Facts workers and tail threads report to screens (past tense, posted, never awaited)."""

from __future__ import annotations

import threading

from textual.message import Message

from smconsole.models.endpoints import Endpoint, EndpointDetail
from smconsole.models.logs import LogBatch
from smconsole.models.metrics import MetricSeries


class EndpointsListed(Message):
    """A listing arrived: one page of the first load, or (`complete`) every page, and rows
    not in a complete listing are gone. `shown`, when given, is set once the table shows it.
    """

    def __init__(self, endpoints: list[Endpoint], shown: threading.Event | None = None, *,
                 complete: bool = True) -> None:
        super().__init__()
        self.endpoints = endpoints
        self.shown = shown
        self.complete = complete


class EndpointsDescribed(Message):
    """Some endpoints now carry instance type, counts and kind."""

    def __init__(self, endpoints: list[Endpoint]) -> None:
        super().__init__()
        self.endpoints = endpoints


class EndpointDeleted(Message):
    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name


class EndpointGone(Message):
    """The endpoint a view shows does not exist (any more)."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name


class DetailLoaded(Message):
    def __init__(self, detail: EndpointDetail) -> None:
        super().__init__()
        self.detail = detail


class MetricsLoaded(Message):
    def __init__(self, series: dict[str, MetricSeries]) -> None:
        super().__init__()
        self.series = series


class LogBatchArrived(Message):
    """A batch from the tail thread; `generation` tells batches of an older tail apart."""

    def __init__(self, batch: LogBatch, generation: int) -> None:
        super().__init__()
        self.batch = batch
        self.generation = generation


class StreamsListed(Message):
    def __init__(self, streams: list[str]) -> None:
        super().__init__()
        self.streams = streams


class TailFailed(Message):
    def __init__(self, error: str, generation: int) -> None:
        super().__init__()
        self.error = error
        self.generation = generation


class ConnectionChanged(Message):
    """A call succeeded (`error` None) or failed; the header shows the latest."""

    def __init__(self, error: str | None) -> None:
        super().__init__()
        self.error = error
