"""Container output into CloudWatch Logs, batched: one PutLogEvents per stream per tick."""

from __future__ import annotations

import threading
import time
from collections import defaultdict

from smconsole.local.daemon.internal import InternalAws

MAX_BATCH = 5000


class LogShipper:
    """Collects lines per (region, group, stream) and ships them once a second."""

    def __init__(self, aws: InternalAws, interval_s: float = 1.0) -> None:
        self.aws = aws
        self.interval_s = interval_s
        self._pending: dict[tuple[str, str, str], list[dict[str, object]]] = defaultdict(list)
        self._known: set[tuple[str, str, str]] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="log-shipper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def add(self, region: str, group: str, stream: str, lines: list[str], *,
            at: float | None = None) -> None:
        """Queue lines for the next batch, stamped now (or at `at`, epoch seconds)."""
        now = int((time.time() if at is None else at) * 1000)
        with self._lock:
            self._pending[(region, group, stream)].extend(
                {"timestamp": now, "message": line} for line in lines if line
            )

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.flush()

    def flush(self) -> None:
        with self._lock:
            batches, self._pending = self._pending, defaultdict(list)
        for (region, group, stream), events in batches.items():
            try:
                self._ship(region, group, stream, events)
            except Exception as exc:  # noqa: BLE001 - a failed batch must not stop shipping
                print(f"smconsole-local: log shipping to {group}/{stream} failed: {exc}",
                      flush=True)

    def _ship(self, region: str, group: str, stream: str, events: list[dict[str, object]]) -> None:
        logs = self.aws.client("logs", region)
        if (region, group, stream) not in self._known:
            for call, kwargs in (
                (logs.create_log_group, {"logGroupName": group}),
                (logs.create_log_stream, {"logGroupName": group, "logStreamName": stream}),
            ):
                try:
                    call(**kwargs)
                except logs.exceptions.ResourceAlreadyExistsException:
                    pass
            self._known.add((region, group, stream))
        events.sort(key=lambda e: e["timestamp"])  # PutLogEvents wants them in time order
        for start in range(0, len(events), MAX_BATCH):
            logs.put_log_events(
                logGroupName=group, logStreamName=stream,
                logEvents=events[start:start + MAX_BATCH],
            )

    def stop(self) -> None:
        self._stop.set()
        self.flush()
