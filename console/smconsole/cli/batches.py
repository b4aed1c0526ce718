"""What `submit`, `submit --retry-failed` and `watch` share: the progress bar, a batch's
summary, and watching batches until their results are in.

Its own module so that requests_cmd and replay_cmd both import it and not each other.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO

from smconsole.models.requests import Status, SubmitProgress


class ProgressBar:
    """One line on stderr, redrawn in place on a terminal; a final line otherwise."""

    def __init__(self, stream: TextIO | None = None, label: str = "submit") -> None:
        # sys.stderr as it is now, not as it was at import (a default argument would keep
        # whatever stream was there then, closed since under pytest's capture).
        self.stream = stream or sys.stderr
        self.label = label
        self.tty = self.stream.isatty()
        self._last = 0.0

    def __call__(self, step: SubmitProgress) -> None:
        now = time.monotonic()
        last = step.done >= step.total
        if not self.tty and not last:
            return
        if self.tty and not last and now - self._last < 0.1:
            return
        self._last = now
        width = 30
        filled = int(width * step.done / max(1, step.total))
        line = (f"{self.label} {step.batch_id} [{'#' * filled}{'.' * (width - filled)}] "
                f"{step.done}/{step.total}")
        self.stream.write(("\r" + line) if self.tty else line + "\n")
        if self.tty and last:
            self.stream.write("\n")
        self.stream.flush()


def batch_summary(ledger: Any, batch_id: str) -> dict[str, Any]:
    batch = ledger.batch(batch_id)
    rejected = [
        {"index": r.index, "inference_id": r.inference_id, "error": r.error}
        for r in ledger.requests(batch_id=batch_id, statuses=[Status.FAILED, Status.QUEUED])
        if r.error
    ]
    return {
        "batch_id": batch.batch_id, "file": batch.file, "endpoint": batch.endpoint,
        "total": batch.total, "counts": {s.value: batch.count(s) for s in Status},
        "errors": rejected[:20],
    }


def watch_batches(session: Any, ledger: Any, batch_ids: list[str] | None, tick: float,
                  mode: str, *, quiet: bool = False, as_json: bool = False, once: bool = False,
                  since: float | None = None) -> None:
    """Watch until the batches are done, printing one line per result. Lines come from the
    ledger, not from what this watcher itself found: a console (or another script) watching
    the same ledger may take a notification first, and its result is printed all the same."""
    from smconsole.services.results import ResultFeed, result_location, result_record
    from smconsole.services.watcher import OutputWatcher

    watcher = OutputWatcher(session, ledger, tick=tick, mode=mode)  # type: ignore[arg-type]
    feed = ResultFeed(ledger, batch_ids, since=since)

    def report(*, complete: bool = False) -> None:
        for request in feed.new(complete=complete):
            if as_json:
                print(json.dumps(result_record(request)), flush=True)
            elif not quiet:
                took = f" in {request.latency:.1f}s" if request.latency is not None else ""
                why = f": {request.error}" if request.error else ""
                print(f"{request.status.value:9} {request.batch_id}/{request.index} "
                      f"{result_location(request) or ''}{took}{why}", flush=True)

    if once:
        watcher.poll(batch_ids)
        report(complete=True)
        return
    pending = len(ledger.pending(batch_ids))
    if not quiet and not as_json:
        print(f"watching {pending} pending request(s); Ctrl-C stops", file=sys.stderr)
    try:
        watcher.run(batch_ids=batch_ids, until_done=True, on_tick=report)
    finally:
        report(complete=True)
