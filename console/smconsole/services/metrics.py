"""The async inference metrics of one endpoint from CloudWatch (GetMetricData)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from smconsole.models.metrics import MetricSeries
from smconsole.session import AwsSession

NAMESPACE = "AWS/SageMaker"
# Name → statistic. Names are matched against ListMetrics (the docs misspell one), so a
# metric the account does not publish is simply absent rather than an empty guess.
ASYNC_METRICS: dict[str, str] = {
    "ApproximateBacklogSize": "Average",
    "ApproximateBacklogSizePerInstance": "Average",
    "ApproximateAgeOfOldestRequest": "Maximum",
    "HasBacklogWithoutCapacity": "Maximum",
    "InvocationsProcessed": "Sum",
    "InvocationFailures": "Sum",
    "ExpiredRequests": "Sum",
}


class MetricsService:
    def __init__(self, session: AwsSession, *, clock: Callable[[], float] = time.time) -> None:
        self._session = session
        self._clock = clock

    @property
    def _cw(self) -> Any:
        return self._session.client("cloudwatch")

    def available(self, endpoint: str) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
        """(metric name, dimensions) pairs CloudWatch holds for this endpoint."""
        found: list[tuple[str, tuple[tuple[str, str], ...]]] = []
        kwargs: dict[str, Any] = {
            "Namespace": NAMESPACE,
            "Dimensions": [{"Name": "EndpointName", "Value": endpoint}],
        }
        while True:
            page = self._cw.list_metrics(**kwargs)
            for metric in page.get("Metrics", []):
                dims = tuple(sorted((d["Name"], d["Value"]) for d in metric.get("Dimensions", [])))
                found.append((metric["MetricName"], dims))
            token = page.get("NextToken")
            if not token:
                return found
            kwargs["NextToken"] = token

    def async_metrics(
        self, endpoint: str, *, minutes: int = 60, period: int = 60,
    ) -> dict[str, MetricSeries]:
        """The last `minutes` of each async metric present, one point per `period` seconds."""
        wanted = _one_series_each(self.available(endpoint))
        if not wanted:
            return {}
        end = datetime.fromtimestamp(self._clock(), UTC)
        # On a period boundary, as AWS puts its datapoints: every answer (AWS's, the local
        # stack's, moto's own, which counts from StartTime) then shares one grid.
        start = _floor(end - timedelta(minutes=minutes), period)
        queries = [
            {
                "Id": f"m{i}",
                "Label": name,
                "MetricStat": {
                    "Metric": {"Namespace": NAMESPACE, "MetricName": name,
                               "Dimensions": [{"Name": k, "Value": v} for k, v in dims]},
                    "Period": period,
                    "Stat": ASYNC_METRICS[name],
                },
                "ReturnData": True,
            }
            for i, (name, dims) in enumerate(wanted[:500])
        ]
        results: dict[str, list[tuple[datetime, float]]] = {}
        kwargs: dict[str, Any] = {
            "MetricDataQueries": queries, "StartTime": start,
            "EndTime": end, "ScanBy": "TimestampAscending",
        }
        while True:
            page = self._cw.get_metric_data(**kwargs)
            for result in page.get("MetricDataResults", []):
                results.setdefault(result["Id"], []).extend(
                    zip(result.get("Timestamps", []), result.get("Values", []), strict=False)
                )
            token = page.get("NextToken")
            if not token:
                break
            kwargs["NextToken"] = token
        series: dict[str, MetricSeries] = {}
        for i, (name, dims) in enumerate(wanted[:500]):
            points = sorted(results.get(f"m{i}", []))
            # Only per-variant series of this name: the endpoint's is their sum.
            previous = series.get(name)
            if previous is not None:
                points = _add(previous, points)
            if ASYNC_METRICS[name] == "Sum":
                points = _zero_filled(points, start, end, period)
            series[name] = MetricSeries(
                name=name, stat=ASYNC_METRICS[name],
                timestamps=tuple(t for t, _ in points), values=tuple(float(v) for _, v in points),
                dimensions=dims,
            )
        return series


def _one_series_each(
    found: list[tuple[str, tuple[tuple[str, str], ...]]],
) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
    """Per async metric, the series to show: each dimension set once (ListMetrics repeats
    them), and of those the fewest dimensions, the endpoint-wide one when it is published;
    adding it to its per-variant copies would count every invocation twice."""
    chosen: dict[str, set[tuple[tuple[str, str], ...]]] = {}
    for name, dims in found:
        if name not in ASYNC_METRICS:
            continue
        known = chosen.setdefault(name, set())
        if not known or len(dims) == len(next(iter(known))):
            known.add(dims)
        elif len(dims) < len(next(iter(known))):
            chosen[name] = {dims}
    return [(name, dims) for name, sets in chosen.items() for dims in sorted(sets)]


def _floor(moment: datetime, period: int) -> datetime:
    return datetime.fromtimestamp(moment.timestamp() // period * period, UTC)


def _zero_filled(points: list[tuple[datetime, float]], start: datetime, end: datetime,
                 period: int) -> list[tuple[datetime, float]]:
    """A count has no datapoint for a period in which nothing was counted: those periods are
    0. Left out, an hour's two bursts drew as a flat line of two points and read "4 (max 4)"
    an hour later. `start` is on the answer's grid; only whole periods are added."""
    found = {int((t - start).total_seconds()) // period: (t, float(v)) for t, v in points}
    for k in range(int((end - start).total_seconds()) // period):
        found.setdefault(k, (start + timedelta(seconds=k * period), 0.0))
    return [found[k] for k in sorted(found)]


def _add(series: MetricSeries, points: list[tuple[datetime, float]]) -> list[tuple[datetime, float]]:
    total: dict[datetime, float] = dict(zip(series.timestamps, series.values, strict=True))
    for when, value in points:
        total[when] = total.get(when, 0.0) + float(value)
    return sorted(total.items())
