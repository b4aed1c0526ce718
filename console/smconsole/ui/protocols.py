"""What the UI needs from services, as Protocols: the one typed contract between the two.

The UI never sees boto3; tests pass in-memory fakes with the same shapes. Every service a
screen calls is here, and `ServicesApi` names each with its type (None: not available in this
console, and the view says so).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from smconsole.models.container import (
    CheckResult,
    CheckStep,
    DockerStatus,
    Invocation,
    Package,
    Ping,
    Running,
)
from smconsole.models.deploy import (
    CleanupResult,
    DeployPlan,
    DeployProgress,
    DeployResult,
    Resource,
)
from smconsole.models.endpoints import Endpoint, EndpointDetail
from smconsole.models.logs import LogBatch
from smconsole.models.metrics import MetricSeries
from smconsole.models.requests import (
    AsyncRequest,
    Batch,
    Outcome,
    OutputBody,
    Status,
    SubmitProgress,
)
from smconsole.models.scaling import ScalingPlan, ScalingResult, ScalingState
from smconsole.specs.batch import PlannedBatch
from smconsole.specs.deploy import DeploySpec
from smconsole.specs.scaling import ScalingSpec


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


class SubmitOutcome(Protocol):
    """What sending a batch came to (services.requests.SubmitResult)."""

    @property
    def batch(self) -> Batch: ...
    @property
    def sent(self) -> int: ...
    @property
    def rejected(self) -> int: ...
    @property
    def unsent(self) -> int: ...


class RequestsApi(Protocol):
    def plan(self, path: str | Path) -> PlannedBatch: ...
    def earlier(self, planned: PlannedBatch) -> list[Batch]: ...
    def submit(self, planned: PlannedBatch, *, again: bool = False,
               progress: Callable[[SubmitProgress], None] | None = None) -> SubmitOutcome: ...
    def resubmit_failed(
        self, batch_id: str, progress: Callable[[SubmitProgress], None] | None = None,
    ) -> SubmitOutcome | None: ...
    def requests(self, *, batch_id: str | None = None, statuses: list[Status] | None = None,
                 limit: int | None = None) -> list[AsyncRequest]: ...


class OutputsApi(Protocol):
    def run(self, on_outcomes: Callable[[list[Outcome]], None] | None = None, *,
            stop: threading.Event | None = None) -> None: ...
    def fetch(self, location: str) -> OutputBody: ...
    def export(self, requests: Sequence[AsyncRequest], write: Callable[[str], Any]) -> int: ...


class AutoscalingApi(Protocol):
    def describe(self, endpoint: str, variant: str | None = None) -> ScalingState: ...
    def metric_history(self, endpoint: str, metric: str = ..., *, statistic: str = ...,
                       variant: str | None = None, hours: float = 1.0,
                       period: int = 60) -> MetricSeries: ...
    def plan(self, endpoint: str, spec: ScalingSpec, *, variant: str | None = None,
             replace_policies: bool | None = None) -> ScalingPlan: ...
    def apply(self, plan: ScalingPlan) -> ScalingResult: ...


class DeployApi(Protocol):
    def plan(self, spec: DeploySpec) -> DeployPlan: ...
    def deploy(self, target: DeploySpec | DeployPlan,
               progress: Callable[[DeployProgress], None] | None = None, *,
               timeout: float = 3600.0) -> DeployResult: ...
    def cleanup(self, created: tuple[Resource, ...]) -> CleanupResult: ...


class ContainerApi(Protocol):
    def docker_status(self) -> DockerStatus: ...
    def package(self, model_dir: Path, output: Path) -> Package: ...
    def run(self, model: Path, *, name: str = ..., mode: Any = None, image: str | None = None,
            port: int | None = None, env: Mapping[str, str] | None = None) -> Running: ...
    def wait_healthy(self, running: Running, timeout: float = ...,
                     on_ping: Callable[[Ping], None] | None = None,
                     interval: float = ...) -> Ping: ...
    def get(self, name: str = ...) -> Running: ...
    def ping(self, target: Running | str, timeout: float = ...) -> Ping: ...
    def invoke(self, target: Running | str, body: bytes,
               content_type: str = ...) -> Invocation: ...
    def stop(self, target: Running | str = ..., timeout: float = ...) -> int | None: ...
    def check(self, model: Path, *, on_step: Callable[[CheckStep], None] | None = None,
              **kwargs: Any) -> CheckResult: ...


class ServicesApi(Protocol):
    """The bundle the app is given (smconsole.services.registry.Services or a test fake)."""

    @property
    def endpoints(self) -> EndpointsApi: ...
    @property
    def logs(self) -> LogsApi: ...
    @property
    def metrics(self) -> MetricsApi: ...
    @property
    def requests(self) -> RequestsApi | None: ...
    @property
    def outputs(self) -> OutputsApi | None: ...
    @property
    def autoscaling(self) -> AutoscalingApi | None: ...
    @property
    def deploy(self) -> DeployApi | None: ...
    @property
    def container(self) -> ContainerApi | None: ...
    @property
    def label(self) -> str: ...
    @property
    def read_only(self) -> bool: ...
