"""Finished requests as records: the JSON lines `smconsole results` writes, and the feed of
results as the ledger records them (whichever process found each)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from smconsole import errors
from smconsole.ledger import Ledger
from smconsole.models.requests import AsyncRequest, OutputBody, Status
from smconsole.services.bodies import decode_body


def export(requests: Sequence[AsyncRequest], write: Callable[[str], Any],
           fetch: Callable[[str], OutputBody] | None, *, workers: int = 16) -> int:
    """Write one JSON line per request, with its output (or failure) body when finished and
    `fetch` is given; the bodies are read in parallel, the lines keep the requests' order."""

    def record(request: AsyncRequest) -> dict[str, Any]:
        location = result_location(request)
        if fetch is None or location is None:
            return result_record(request)
        try:
            return result_record(request, fetch(location))
        except errors.SmconsoleError as exc:
            return {**result_record(request), "fetch_error": str(exc)}

    with ThreadPoolExecutor(max_workers=workers) as pool:
        count = 0
        for line in pool.map(record, requests):
            write(json.dumps(line) + "\n")
            count += 1
    return count


class ResultFeed:
    """Finished requests as the ledger records them, each once, whichever process found it.

    Watchers of one ledger share one SQS queue (a queue per process would mean a queue and two
    subscriptions per console or script, left behind by every crash), so a notification goes to
    whichever receives it first. The ledger is where every watcher writes what it found: read
    from there, a waiting submitter reports every result though a console took the message.
    """

    # A row is stamped when detected and committed a moment later (after a failure body is
    # read, or a lock waited for): look back this far so a slow commit is not skipped, and
    # remember what was reported so nothing comes twice. `new(complete=True)` looks at all.
    LOOK_BACK_S = 30.0

    def __init__(self, ledger: Ledger, batch_ids: Sequence[str] | None = None, *,
                 since: float | None = None) -> None:
        """`since`: report what was detected from then on (None: everything of the batches)."""
        self.ledger = ledger
        self.batch_ids = list(batch_ids) if batch_ids is not None else None
        self._mark = float("-inf") if since is None else since
        self._floor = self._mark
        self._seen: set[tuple[str, int]] = set()

    def new(self, *, complete: bool = False) -> list[AsyncRequest]:
        """Finished requests not reported yet, in the order they were detected; `complete`
        reads everything since the start rather than the recent past (for the last call)."""
        since = self._floor if complete else max(self._floor, self._mark - self.LOOK_BACK_S)
        rows = self.ledger.finished_since(since, self.batch_ids)
        fresh = [r for r in rows if (r.batch_id, r.index) not in self._seen]
        self._seen.update((r.batch_id, r.index) for r in fresh)
        stamps = [r.detected_at for r in rows if r.detected_at is not None]
        if stamps:
            self._mark = max(self._mark, max(stamps))
        return fresh


def result_location(request: AsyncRequest) -> str | None:
    if request.status is Status.SUCCEEDED:
        return request.output_location
    if request.status is Status.FAILED:
        return request.failure_location
    return None


def result_record(request: AsyncRequest, body: OutputBody | None = None) -> dict[str, Any]:
    """A request as one JSON object (what `smconsole results` prints per line)."""
    record: dict[str, Any] = {
        "batch_id": request.batch_id, "index": request.index,
        "inference_id": request.inference_id, "endpoint": request.endpoint,
        "status": request.status.value, "source": request.source,
        "source_ref": request.source_ref, "input_location": request.input_location,
        "output_location": request.output_location,
        "failure_location": request.failure_location, "submitted_at": request.submitted_at,
        "finished_at": request.finished_at, "latency_s": request.latency, "error": request.error,
    }
    if body is not None:
        key = "output" if request.status is Status.SUCCEEDED else "failure"
        record.update(decode_body(body.data, key))
    return record
