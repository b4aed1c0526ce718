"""In-memory services with the requests screen's Protocols, and a host app for it."""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from fixtures.screen_host import Host as SharedHost
from fixtures.screen_host import until as shared_until
from smconsole.models.requests import (
    AsyncRequest,
    Batch,
    Outcome,
    OutputBody,
    Status,
    SubmitProgress,
)
from smconsole.specs.batch import PlannedBatch, load_batch

NOW = 1_795_600_000.0


def request(batch: str, index: int, status: Status, *, age: float = 30.0,
            latency: float | None = 1.5, error: str | None = None,
            source: str = "inline") -> AsyncRequest:
    submitted = NOW - age
    finished = status.finished
    return AsyncRequest(
        batch_id=batch, index=index, inference_id=f"{batch}-{index:06d}", endpoint="demo",
        status=status, source=source, source_ref=None, size=20,
        content_type="application/json", input_location=None,
        output_location=f"s3://out/demo/{batch}/{index:06d}.out",
        failure_location=f"s3://out/failed/{batch}/{index:06d}.out",
        queued_at=submitted - 0.1, submitted_at=submitted,
        finished_at=submitted + latency if finished and latency is not None else None,
        detected_at=submitted + 2 if finished else None, error=error,
    )


def fixed_rows() -> list[AsyncRequest]:
    return [
        request("demo-4f1c2a-0a1b2c", 0, Status.SUCCEEDED, age=95.0, latency=1.2),
        request("demo-4f1c2a-0a1b2c", 1, Status.SUCCEEDED, age=95.0, latency=2.7,
                source="file"),
        request("demo-4f1c2a-0a1b2c", 2, Status.FAILED, age=95.0, latency=0.4,
                error="ClientError: Received server error (400) | invalid_request: colour: "
                      "Extra inputs are not permitted"),
        request("demo-4f1c2a-0a1b2c", 3, Status.PENDING, age=12.0, latency=None),
        request("matrix-77aa01-ffee00", 0, Status.QUEUED, age=1.0, latency=None),
    ]


@dataclass
class Result:
    batch: Batch
    sent: int
    rejected: int = 0
    unsent: int = 0


@dataclass
class FakeRequests:
    rows: list[AsyncRequest] = field(default_factory=fixed_rows)
    earlier_batches: list[Batch] = field(default_factory=list)
    submitted: list[tuple[PlannedBatch, bool]] = field(default_factory=list)
    resubmitted: list[tuple[str, list[int]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def plan(self, path: str | Path) -> PlannedBatch:
        return load_batch(path)  # the real validator: SpecError with located problems

    def earlier(self, planned: PlannedBatch) -> list[Batch]:
        return self.earlier_batches

    def _batch(self, batch_id: str, total: int) -> Batch:
        return Batch(batch_id, "f.yaml", "demo", "h", NOW, total, {"pending": total})

    def submit(self, planned: PlannedBatch, *, again: bool = False,
               progress: Callable[[SubmitProgress], None] | None = None) -> Result:
        self.submitted.append((planned, again))
        batch_id = f"new-{len(self.submitted)}"
        total = len(planned.requests)
        for done in range(total + 1):
            if progress:
                progress(SubmitProgress(batch_id, done, total))
        with self.lock:
            self.rows += [request(batch_id, i, Status.PENDING, age=0.5, latency=None)
                          for i in range(total)]
        return Result(self._batch(batch_id, total), total)

    def resubmit_failed(self, batch_id: str,
                        progress: Callable[[SubmitProgress], None] | None = None
                        ) -> Result | None:
        with self.lock:
            indexes = [r.index for r in self.rows
                       if r.batch_id == batch_id and r.status is Status.FAILED]
        if not indexes:
            return None
        self.resubmitted.append((batch_id, indexes))
        return Result(self._batch("retry-1", len(indexes)), len(indexes))

    def requests(self, *, batch_id: str | None = None, statuses: list[Status] | None = None,
                 limit: int | None = None) -> list[AsyncRequest]:
        with self.lock:
            return list(self.rows)

    def finish(self, key: str, status: Status) -> Outcome:
        with self.lock:
            for n, row in enumerate(self.rows):
                if row.key == key:
                    self.rows[n] = replace(row, status=status, finished_at=NOW,
                                           detected_at=NOW)
                    return Outcome(row.batch_id, row.index, row.inference_id, status,
                                   row.output_location, NOW, NOW)
        raise KeyError(key)


EMBEDDING = {"embeddings": [[0.1 * i for i in range(384)]], "dimension": 384}


@dataclass
class FakeOutputs:
    bodies: dict[str, bytes] = field(default_factory=dict)
    fetched: list[str] = field(default_factory=list)
    outcomes: list[list[Outcome]] = field(default_factory=list)  # delivered by run()
    running: threading.Event = field(default_factory=threading.Event)

    def run(self, on_outcomes: Callable[[list[Outcome]], None] | None = None, *,
            stop: threading.Event | None = None) -> None:
        self.running.set()
        assert stop is not None
        while not stop.wait(0.02):
            while self.outcomes and on_outcomes:
                on_outcomes(self.outcomes.pop(0))

    def fetch(self, location: str) -> OutputBody:
        self.fetched.append(location)
        data = self.bodies.get(location)
        if data is None:
            data = json.dumps(EMBEDDING).encode()
        return OutputBody(location, "application/json", data)

    def export(self, requests: Sequence[AsyncRequest], write: Callable[[str], Any]) -> int:
        for row in requests:
            write(json.dumps({"key": row.key, "status": row.status.value}) + "\n")
        return len(requests)


@dataclass
class FakeServices:
    """The requests screen's share of ui.protocols.ServicesApi."""

    requests: FakeRequests = field(default_factory=FakeRequests)
    outputs: FakeOutputs = field(default_factory=FakeOutputs)
    read_only: bool = False
    endpoints: Any = None
    logs: Any = None
    metrics: Any = None
    autoscaling: Any = None
    deploy: Any = None
    container: Any = None
    label: str = "local"


class Host(SharedHost):
    TITLE = "smconsole"


until = functools.partial(shared_until, timeout=15.0)
