"""In-memory services with the UI's Protocols: fixed data for snapshots, no network."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from smconsole.models.endpoints import (
    AsyncConfig,
    Endpoint,
    EndpointConfig,
    EndpointDetail,
    ModelInfo,
    ScalingPolicySummary,
    ScalingSummary,
    Variant,
)
from smconsole.models.logs import LogBatch, LogEvent, TailState, TailStatus
from smconsole.models.metrics import MetricSeries

NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)


def endpoint(name: str, status: str = "InService", *, minutes_ago: int = 60,
             kind: bool | None = True, instance: str = "ml.g4dn.xlarge",
             current: int = 1, desired: int = 1, reason: str | None = None) -> Endpoint:
    modified = NOW - timedelta(minutes=minutes_ago)
    return Endpoint(
        name=name, status=status, created=modified - timedelta(days=1), last_modified=modified,
        arn=f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{name}",
        config_name=f"{name}-config", instance_type=instance, current_instances=current,
        desired_instances=desired, is_async=kind, failure_reason=reason,
    )


ENDPOINTS = [
    endpoint("summarizer-prod", current=2, desired=2),
    endpoint("summarizer-staging", "Updating", minutes_ago=3, current=1, desired=2),
    endpoint("embeddings", instance="ml.m5.large", kind=False),
    endpoint("vision-batch", "Creating", minutes_ago=1, current=0, desired=1),
    endpoint("broken-model", "Failed", minutes_ago=12, current=0, desired=1,
             reason="The primary container for production variant AllTraffic did not pass the "
                    "ping health check. Please check CloudWatch logs for this endpoint."),
    endpoint("idle-scaled-to-zero", current=0, desired=0),
]


@dataclass
class FakeEndpoints:
    endpoints: list[Endpoint] = field(default_factory=lambda: list(ENDPOINTS))
    deleted: list[str] = field(default_factory=list)

    def iter_pages(self) -> Iterator[list[Endpoint]]:
        yield list(self.endpoints)

    def stale(self, endpoints: list[Endpoint]) -> list[str]:
        return [e.name for e in endpoints if not e.described]

    def describe_many(self, names: list[str]) -> list[Endpoint]:
        return [e for e in self.endpoints if e.name in names]

    def describe(self, name: str) -> EndpointDetail:
        found = next(e for e in self.endpoints if e.name == name)
        variant = Variant("AllTraffic", f"{name}-model", found.instance_type, 1,
                          found.current_instances, found.desired_instances, 1.0)
        return EndpointDetail(
            endpoint=found,
            config=EndpointConfig(
                name=f"{name}-config", variants=(variant,),
                async_config=AsyncConfig(
                    f"s3://sm-async/{name}/out/", f"s3://sm-async/{name}/failed/",
                    "arn:aws:sns:us-east-1:123456789012:sm-ok",
                    "arn:aws:sns:us-east-1:123456789012:sm-err", 4, ("SUCCESS_NOTIFICATION_TOPIC",),
                ) if found.is_async else None,
            ),
            variants=(variant,),
            models=(ModelInfo(f"{name}-model",
                              "123456789012.dkr.ecr.us-east-1.amazonaws.com/smc:1.0",
                              f"s3://sm-models/{name}/model.tar.gz",
                              (("HF_TASK", "summarization"), ("MODEL_DIR", "/opt/ml/model"))),),
            scaling=(ScalingSummary(
                f"endpoint/{name}/variant/AllTraffic", 0, 4,
                (ScalingPolicySummary("backlog-per-instance", "TargetTrackingScaling",
                                      "ApproximateBacklogSizePerInstance", 5.0),
                 ScalingPolicySummary("wake-from-zero", "StepScaling", None, None)),
            ),),
        )

    def delete(self, name: str) -> None:
        self.deleted.append(name)


LOG_LINES = [
    (0, "AllTraffic/i-0a1b2c", "INFO  uvicorn running on http://0.0.0.0:8080"),
    (1200, "AllTraffic/i-0a1b2c", "INFO  loading model from /opt/ml/model"),
    (2400, "AllTraffic/i-0a1b2c", '10.2.0.7 - "GET /ping HTTP/1.1" 503'),
    (5100, "AllTraffic/i-0a1b2c", "WARNING tokenizer: truncating inputs longer than 1024 tokens"),
    (7000, "AllTraffic/i-0a1b2c", '10.2.0.7 - "GET /ping HTTP/1.1" 200'),
    (9000, "AllTraffic/i-9f8e7d", "INFO  uvicorn running on http://0.0.0.0:8080"),
    (9300, "AllTraffic/i-0a1b2c", '{"level": "error", "msg": "CUDA out of memory", "batch": 32}'),
    (9800, "AllTraffic/i-0a1b2c", "ERROR request 7f3a failed: model raised RuntimeError"),
    (12000, "AllTraffic/i-9f8e7d", '10.2.0.9 - "GET /ping HTTP/1.1" 200'),
    (15000, "AllTraffic/i-9f8e7d", "INFO  batch of 8 done in 412 ms"),
]


@dataclass
class FakeLogs:
    lines: list[tuple[int, str, str]] = field(default_factory=lambda: list(LOG_LINES))
    status: TailStatus = field(default_factory=lambda: TailStatus(
        TailState.CAUGHT_UP, "following"))

    def streams(self, endpoint: str) -> list[str]:
        return sorted({s for _, s, _ in self.lines})

    def tail(self, endpoint: str, *, stream: str | None = None, since_ms: int | None = None,
             filter_pattern: str | None = None, follow: bool = True,
             stop: threading.Event | None = None) -> Iterator[LogBatch]:
        base = int(NOW.timestamp() * 1000) - 60_000
        events = tuple(
            LogEvent(base + offset, message, name, str(i))
            for i, (offset, name, message) in enumerate(self.lines)
            if (stream is None or name == stream)
            and (not filter_pattern or filter_pattern in message)
        )
        yield LogBatch(events, TailStatus(TailState.STREAMING))
        yield LogBatch((), self.status)


@dataclass
class FakeMetrics:
    def async_metrics(self, endpoint: str, *, minutes: int = 60,
                      period: int = 60) -> dict[str, MetricSeries]:
        times = tuple(NOW - timedelta(minutes=60 - i) for i in range(60))
        backlog = tuple(float(max(0, 20 - abs(i - 30))) for i in range(60))
        age = tuple(float(max(0, 300 - abs(i - 32) * 15)) for i in range(60))
        processed = tuple(float((i * 7) % 11) for i in range(60))
        return {
            "ApproximateBacklogSize": MetricSeries("ApproximateBacklogSize", "Average", times,
                                                   backlog),
            "ApproximateAgeOfOldestRequest": MetricSeries("ApproximateAgeOfOldestRequest",
                                                          "Maximum", times, age),
            "InvocationsProcessed": MetricSeries("InvocationsProcessed", "Sum", times, processed),
        }


@dataclass
class FakeCost:
    """Prices from the shipped table (no user file, no cache); each endpoint's cost as if its
    current count had run the whole week."""

    endpoints: list[Endpoint] = field(default_factory=lambda: list(ENDPOINTS))

    def price(self, instance_type: str | None) -> Any:
        from pathlib import Path

        from smconsole.services.prices import PriceBook

        none = Path("/nonexistent/smconsole-fakes")
        return PriceBook(cache_dir=none, config_dir=none).price(instance_type, "us-east-1")

    def endpoint_cost(self, name: str, *, since: timedelta = timedelta(days=7)) -> Any:
        from smconsole.models.cost import CapacityStep, EndpointCost, WindowCost

        found = next(e for e in self.endpoints if e.name == name)
        price, count = self.price(found.instance_type), found.current_instances or 0
        hours = count * since.total_seconds() / 3600
        usd = None if price.usd_per_hour is None else hours * price.usd_per_hour
        window = WindowCost("7d", NOW - since, NOW, hours, hours, 0, usd, usd)
        return EndpointCost(
            name=name, region="us-east-1", instance_type=found.instance_type, price=price,
            instances_now=count, has_target=False, min_capacity=None, max_capacity=None,
            windows=(window,), timeline=(CapacityStep(NOW - since, count),),
            idle_for_s=since.total_seconds(), stranded=count > 0,
            stranded_reason=f"{count} instance(s), no scalable target, no backlog or request for 7d 0h"
            if count else None)


@dataclass
class FakeServices:
    endpoints: FakeEndpoints = field(default_factory=FakeEndpoints)
    logs: FakeLogs = field(default_factory=FakeLogs)
    metrics: FakeMetrics = field(default_factory=FakeMetrics)
    requests: Any | None = None
    outputs: Any | None = None
    autoscaling: Any | None = None
    deploy: Any | None = None
    container: Any | None = None
    cost: Any | None = field(default_factory=FakeCost)
    label: str = "local"
    read_only: bool = False


@dataclass
class FixedContainer:
    """The container screen's services without docker or a process: a fixed status."""

    def docker_status(self) -> Any:
        from smconsole.models.container import DockerStatus

        return DockerStatus(client=False, engine=False, gpu=False,
                            message="docker not found: process mode runs the server directly")

    def get(self, name: str = "default") -> Any:
        from smconsole import errors

        raise errors.NotFound(f"no container named {name} was started")
