"""What the UI needs from services, as Protocols: the UI never sees boto3, tests pass fakes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any, Protocol

from smconsole.models.endpoints import Endpoint, EndpointDetail
from smconsole.models.logs import LogBatch
from smconsole.models.metrics import MetricSeries


class EndpointsApi(Protocol):
    def iter_pages(self) -> Iterator[list[Endpoint]]: ...
    def stale(self, endpoints: list[Endpoint]) -> list[str]: ...
    def describe_many(self, names: list[str]) -> list[Endpoint]: ...
    def describe(self, name: str) -> EndpointDetail: ...
    def delete(self, name: str) -> None: ...


class LogsApi(Protocol):
    def streams(self, endpoint: str) -> list[str]: ...
    def tail(
        self, endpoint: str, *, stream: str | None = None, since_ms: int | None = None,
        filter_pattern: str | None = None, follow: bool = True,
        stop: threading.Event | None = None,
    ) -> Iterator[LogBatch]: ...


class MetricsApi(Protocol):
    def async_metrics(
        self, endpoint: str, *, minutes: int = 60, period: int = 60,
    ) -> dict[str, MetricSeries]: ...


class ServicesApi(Protocol):
    """The bundle the app is given (smconsole.services.registry.Services or a test fake)."""

    endpoints: EndpointsApi
    logs: LogsApi
    metrics: MetricsApi
    requests: Any | None
    outputs: Any | None
    autoscaling: Any | None
    deploy: Any | None
    container: Any | None

    @property
    def label(self) -> str: ...

    @property
    def read_only(self) -> bool: ...
