"""The async endpoint metrics SageMaker publishes, computed from the local queues."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from smconsole.local.daemon.invoke import DataPlane
    from smconsole.local.daemon.lifecycle import EndpointRuntime
    from smconsole.local.daemon.metricstore import MetricStore

NAMESPACE = "AWS/SageMaker"
IDLE_INTERVAL_S = 60.0
BUSY_INTERVAL_S = 5.0


def values(runtime: EndpointRuntime) -> dict[str, float]:
    backlog = runtime.backlog()
    healthy = runtime.healthy_count()
    return {
        "ApproximateBacklogSize": float(backlog),
        "ApproximateBacklogSizePerInstance": backlog / max(healthy, 1),
        "ApproximateAgeOfOldestRequest": round(runtime.oldest_age_s(), 3),
        "HasBacklogWithoutCapacity": 1.0 if backlog and not healthy else 0.0,
    }


class MetricsPublisher:
    """PutMetricData per endpoint: once a minute idle, every few seconds while work waits,
    and at once when the numbers change."""

    def __init__(self, plane: DataPlane, store: MetricStore | None = None) -> None:
        self.plane = plane
        self.store = store
        self._last: dict[tuple[str, str], tuple[float, dict[str, float]]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="metrics", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def flush(self) -> None:
        """Publish the requests finished since the last tick (at shutdown, once the instances
        have stopped: answers written in the last second would otherwise go uncounted)."""
        for runtime in self.plane.all_runtimes():
            if runtime.async_config is not None:
                try:
                    self._invocations(runtime)
                except Exception as exc:  # noqa: BLE001 - the daemon is stopping anyway
                    print(f"smconsole-local: metrics: {exc}", flush=True)

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            try:
                self.tick()
            except Exception as exc:  # noqa: BLE001 - metrics must never stop the daemon
                print(f"smconsole-local: metrics: {exc}", flush=True)

    def tick(self) -> None:
        now = time.time()
        for runtime in self.plane.all_runtimes():
            if runtime.async_config is None or runtime.status in ("Creating", "Deleting"):
                continue
            self._invocations(runtime)
            key = (runtime.region, runtime.name)
            current = values(runtime)
            last_time, last_values = self._last.get(key, (0.0, {}))
            interval = BUSY_INTERVAL_S if current["ApproximateBacklogSize"] else IDLE_INTERVAL_S
            changed = {k: v for k, v in current.items()
                       if k != "ApproximateAgeOfOldestRequest"} != {
                k: v for k, v in last_values.items() if k != "ApproximateAgeOfOldestRequest"}
            if not changed and now - last_time < interval:
                continue
            self._last[key] = (now, current)
            self._publish(runtime.region, [{
                "MetricName": name, "Value": value,
                "Unit": "Seconds" if name == "ApproximateAgeOfOldestRequest" else "Count",
                "Dimensions": [{"Name": "EndpointName", "Value": runtime.name}],
            } for name, value in current.items()])

    def _publish(self, region: str, data: list[dict[str, Any]]) -> None:
        # Stamped here rather than by CloudWatch on receipt, so that the copy kept for a
        # restart (the store) puts each point back at the minute it describes.
        stamp = datetime.now(UTC)
        for datum in data:
            datum["Timestamp"] = stamp
        self.plane.aws.client("cloudwatch", region).put_metric_data(
            Namespace=NAMESPACE, MetricData=data)
        if self.store is not None:
            self.store.record(region, NAMESPACE, data)

    def _invocations(self, runtime: EndpointRuntime) -> None:
        """InvocationsProcessed, InvocationFailures, ExpiredRequests, TimeInBacklog and
        TotalProcessingTime per variant, for the requests finished since the last tick."""
        done = runtime.drain_completed()
        data: list[dict[str, Any]] = []
        for variant in sorted({c.variant for c in done}):
            mine = [c for c in done if c.variant == variant]
            dims = [{"Name": "EndpointName", "Value": runtime.name},
                    {"Name": "VariantName", "Value": variant}]
            for name, value in (
                ("InvocationsProcessed", sum(c.succeeded for c in mine)),
                ("InvocationFailures", sum(not c.succeeded for c in mine)),
                ("ExpiredRequests", sum(c.expired for c in mine)),
            ):
                data.append({"MetricName": name, "Value": float(value), "Unit": "Count",
                             "Dimensions": dims})
            for name, values in (("TimeInBacklog", [c.backlog_ms for c in mine]),
                                 ("TotalProcessingTime", [c.processing_ms for c in mine])):
                data.append({"MetricName": name, "Unit": "Milliseconds", "Dimensions": dims,
                             "StatisticValues": {"SampleCount": float(len(values)),
                                                 "Sum": sum(values), "Minimum": min(values),
                                                 "Maximum": max(values)}})
        if data:
            self._publish(runtime.region, data)
