"""Finding finished async requests with as few S3/SNS/SQS calls as possible.

Two ways, chosen per endpoint:
- the endpoint config names SNS topics: the notifications arrive through smconsole's SQS queue
  (services/notifications.py). One S3 sweep at start catches what finished before the queue
  existed (or while nobody watched), and one every SWEEP_EVERY what a lost message hid.
- otherwise, each tick and each batch, whichever is cheaper: one ListObjectsV2 of the batch's
  output prefix (and of its failure prefix), or HEAD on the known locations of the requests that
  are due, each request backing off with its age.
Never one GET per pending request per tick. Bodies are fetched only by `fetch`.
"""

from __future__ import annotations

import posixpath
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from smconsole import errors
from smconsole.ledger import Ledger
from smconsole.models.requests import AsyncRequest, Outcome, OutputBody, Status
from smconsole.services import results
from smconsole.services.bodies import PREVIEW_LIMIT, error_summary, fetch_body
from smconsole.services.notifications import (
    NotificationInbox,
    QueueRecord,
    default_queue_name,
    parse_notification,
    timestamp,
)
from smconsole.session import AwsSession
from smconsole.specs.common import split_s3_uri

Mode = Literal["auto", "sns", "s3"]

DEFAULT_TICK = 2.0
SWEEP_EVERY = 300.0  # seconds between safety sweeps of S3 while reading notifications
HEAD_MAX_INTERVAL = 30.0


@dataclass(frozen=True)
class EndpointOutputs:
    """Where an endpoint writes results and whom it tells."""

    endpoint: str
    output_path: str
    failure_path: str | None
    success_topic: str | None
    error_topic: str | None

    @property
    def topics(self) -> tuple[str, ...]:
        return tuple(t for t in (self.success_topic, self.error_topic) if t)


@dataclass
class _Backoff:
    next_due: float = 0.0


@dataclass
class WatchStats:
    """Calls made, for the benchmark and the status line."""

    calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, operation: str, n: int = 1) -> None:
        self.calls[operation] += n

    @property
    def total(self) -> int:
        return sum(self.calls.values())


class OutputWatcher:
    """Moves pending requests in the ledger to succeeded/failed as their outputs appear."""

    def __init__(
        self, session: AwsSession, ledger: Ledger, *, tick: float = DEFAULT_TICK,
        mode: Mode = "auto", sqs_wait: int = 10, queue_name: str | None = None,
        sleep: Callable[[float], None] | None = None, clock: Callable[[], float] = time.time,
    ) -> None:
        self.session = session
        self.ledger = ledger
        self.tick = tick
        self.mode = mode
        self.sqs_wait = max(0, min(20, sqs_wait))
        self.queue_name = queue_name or default_queue_name(ledger)
        self._sleep = sleep
        self._clock = clock
        self._endpoints: dict[str, EndpointOutputs] = {}
        self._backoff: dict[tuple[str, int], _Backoff] = {}
        self._swept: dict[str, float] = {}  # endpoint -> when its S3 sweep last ran
        self.stats = WatchStats()
        self.inbox = NotificationInbox(session, ledger, self.queue_name, self.stats, clock=clock)
        self._last_receive_count = 10

    # -- what the endpoint says ------------------------------------------------------------

    def endpoint_outputs(self, endpoint: str) -> EndpointOutputs:
        """The endpoint config's output paths and topics (configs never change: cached)."""
        found = self._endpoints.get(endpoint)
        if found is not None:
            return found
        sagemaker = self.session.client("sagemaker")
        config_name = sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
        config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
        output = (config.get("AsyncInferenceConfig") or {}).get("OutputConfig") or {}
        notify = output.get("NotificationConfig") or {}
        found = EndpointOutputs(
            endpoint=endpoint, output_path=output.get("S3OutputPath", ""),
            failure_path=output.get("S3FailurePath"),
            success_topic=notify.get("SuccessTopic"), error_topic=notify.get("ErrorTopic"),
        )
        self._endpoints[endpoint] = found
        return found

    def _uses_sns(self, endpoint: str) -> bool:
        if self.mode == "s3":
            return False
        if self.session.read_only:
            # Creating, subscribing, receiving from and deleting from a queue all change
            # something; listing S3 does not.
            if self.mode == "sns":
                raise errors.ReadOnlyRefused(
                    "read-only: watching through SNS/SQS is refused (it receives and deletes "
                    "queue messages); use --mode s3 or auto")
            return False
        try:
            topics = self.endpoint_outputs(endpoint).topics
        except errors.NotFound:
            topics = ()  # endpoint deleted: its outputs can still be found in S3
        if self.mode == "sns" and not topics:
            raise errors.SmconsoleError(f"endpoint {endpoint} has no SNS topics to watch")
        return bool(topics)

    # -- one tick --------------------------------------------------------------------------

    def poll(self, batch_ids: Sequence[str] | None = None) -> list[Outcome]:
        """Look once (blocking up to the SQS wait when notifications are used)."""
        pending = self.ledger.pending(batch_ids)
        by_endpoint: dict[str, list[AsyncRequest]] = defaultdict(list)
        for request in pending:
            by_endpoint[request.endpoint].append(request)
        now = self._clock()
        outcomes: list[Outcome] = []
        topics: set[str] = set()
        listed_any = False
        for endpoint, requests in by_endpoint.items():
            if not self._uses_sns(endpoint):
                listed_any = True
                outcomes.extend(self._sweep(requests))
                continue
            topics.update(self.endpoint_outputs(endpoint).topics)
            if now - self._swept.get(endpoint, float("-inf")) >= SWEEP_EVERY:
                # Subscribe first, then sweep: nothing can finish unseen in between.
                self.inbox.ensure(topics)
                self._swept[endpoint] = now
                outcomes.extend(self._sweep(requests, force_list=True))
        if topics:
            # Other endpoints are listed every tick, so the long poll may not outlast it.
            wait = min(self.sqs_wait, int(self.tick)) if listed_any else self.sqs_wait
            outcomes.extend(self._receive(topics, wait))
        else:
            self.inbox.flush_deletes(force=True)
        return outcomes

    def run(
        self, on_outcomes: Callable[[list[Outcome]], None] | None = None, *,
        stop: threading.Event | None = None, batch_ids: Sequence[str] | None = None,
        until_done: bool = False, on_tick: Callable[[], None] | None = None,
    ) -> None:
        """Poll until `stop` is set (or, with `until_done`, until nothing is pending).

        `on_outcomes` gets what this watcher found; `on_tick` runs after every poll (to read
        what other watchers of the same ledger found, see ResultFeed)."""
        stop = stop or threading.Event()
        sleep = self._sleep or stop.wait
        try:
            while not stop.is_set():
                started = self._clock()
                outcomes = self.poll(batch_ids)
                if outcomes and on_outcomes:
                    on_outcomes(outcomes)
                if on_tick:
                    on_tick()
                if until_done and not self._outstanding(batch_ids):
                    return
                if not self.inbox.active or not self.ledger.pending(batch_ids):
                    remaining = self.tick - (self._clock() - started)
                    if remaining > 0:
                        sleep(remaining)
        finally:
            self.inbox.flush_deletes(force=True)

    def _outstanding(self, batch_ids: Sequence[str] | None) -> bool:
        if self.ledger.pending(batch_ids):
            return True
        batches = self.ledger.batches(batch_ids=list(batch_ids)) if batch_ids else []
        return any(b.count(Status.SUBMITTING) for b in batches)

    # -- S3: listing or HEAD ---------------------------------------------------------------

    def _sweep(self, requests: list[AsyncRequest], *, force_list: bool = False) -> list[Outcome]:
        groups: dict[tuple[str | None, str | None], list[AsyncRequest]] = defaultdict(list)
        for request in requests:
            groups[(_folder(request.output_location), _folder(request.failure_location))].append(
                request)
        outcomes: list[Outcome] = []
        now = self._clock()
        for (out_dir, fail_dir), members in groups.items():
            prefixes = {p for p in (out_dir, fail_dir) if p}
            if not prefixes:
                continue
            if not force_list and self._head_is_cheaper(members, len(prefixes), now):
                outcomes.extend(self._head(members, now))
            else:
                outcomes.extend(self._list(members, prefixes))
        return outcomes

    def _interval(self, request: AsyncRequest, now: float) -> float:
        # The longer a request has waited, the less likely the next tick finds it done.
        return max(self.tick, min(HEAD_MAX_INTERVAL, request.age(now) / 10))

    def _head_is_cheaper(self, members: list[AsyncRequest], prefixes: int, now: float) -> bool:
        per_tick = sum(2 * self.tick / self._interval(r, now) for r in members)
        return per_tick < prefixes

    def _head(self, members: list[AsyncRequest], now: float) -> list[Outcome]:
        s3 = self.session.client("s3")
        outcomes = []
        for request in members:
            state = self._backoff.setdefault((request.batch_id, request.index), _Backoff())
            if state.next_due > now:
                continue
            state.next_due = now + self._interval(request, now)
            for status, location in ((Status.SUCCEEDED, request.output_location),
                                     (Status.FAILED, request.failure_location)):
                if not location:
                    continue
                bucket, key = split_s3_uri(location)
                self.stats.add("HeadObject")
                try:
                    head = s3.head_object(Bucket=bucket, Key=key)
                except errors.NotFound:
                    continue
                found = self._finish(request, status, location,
                                     timestamp(head.get("LastModified")))
                if found:
                    outcomes.append(found)
                break
        return outcomes

    def _list(self, members: list[AsyncRequest], prefixes: set[str]) -> list[Outcome]:
        seen: dict[str, float | None] = {}
        for prefix in prefixes:
            # Keys are listed in order: start just before the first pending one, so the
            # outputs already collected (usually most of a batch) are not listed again.
            keys = [loc for r in members for loc in (r.output_location, r.failure_location)
                    if loc and loc.startswith(prefix)]
            seen.update(self._list_prefix(prefix, min(keys)[:-1] if keys else None))
        outcomes = []
        for request in members:
            for status, location in ((Status.SUCCEEDED, request.output_location),
                                     (Status.FAILED, request.failure_location)):
                if location and location in seen:
                    found = self._finish(request, status, location, seen[location])
                    if found:
                        outcomes.append(found)
                    break
        return outcomes

    def _list_prefix(self, prefix: str, start_after: str | None = None,
                     ) -> dict[str, float | None]:
        bucket, key_prefix = split_s3_uri(prefix)
        s3 = self.session.client("s3")
        found: dict[str, float | None] = {}
        token: str | None = None
        while True:
            params: dict[str, Any] = {"Bucket": bucket, "Prefix": key_prefix}
            if start_after and start_after.startswith(f"s3://{bucket}/"):
                params["StartAfter"] = start_after[len(f"s3://{bucket}/"):]
            if token:
                params["ContinuationToken"] = token
            self.stats.add("ListObjectsV2")
            try:
                page = s3.list_objects_v2(**params)
            except errors.NotFound:
                return found  # the bucket is gone; nothing will appear there
            for item in page.get("Contents", []):
                found[f"s3://{bucket}/{item['Key']}"] = timestamp(item.get("LastModified"))
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return found

    def _finish(self, request: AsyncRequest, status: Status, location: str | None,
                finished_at: float | None, error: str | None = None) -> Outcome | None:
        detected = self._clock()
        if (finished_at is not None and request.submitted_at is not None
                and finished_at < request.submitted_at):
            # S3 keeps whole seconds: an object stamped before the submit was written within
            # that second, so take the second's end (never past detection) rather than claim 0 ms.
            finished_at = min(finished_at + 1.0, detected)
        if status is Status.FAILED and error is None and location:
            # Failures are rare and their reason is what a person wants to see in the list.
            try:
                self.stats.add("GetObject")
                error = error_summary(self.fetch(location, limit=2048).data)
            except errors.SmconsoleError as exc:
                error = f"failed (its failure object could not be read: {exc})"
        self._backoff.pop((request.batch_id, request.index), None)
        if not self.ledger.mark_finished(request.batch_id, request.index, status,
                                         location=location, finished_at=finished_at,
                                         detected_at=detected, error=error):
            return None
        return Outcome(request.batch_id, request.index, request.inference_id, status, location,
                       finished_at, detected, error)

    # -- SNS -> SQS ------------------------------------------------------------------------

    def queue(self) -> QueueRecord | None:
        """The queue smconsole reads notifications from, if it made one."""
        return self.inbox.stored()

    def remove_queue(self) -> QueueRecord | None:
        """Unsubscribe and delete smconsole's queue; requests then get watched through S3."""
        return self.inbox.remove()

    def _receive(self, topics: set[str], wait: int) -> list[Outcome]:
        if self._last_receive_count < 10:
            # A short pause lets notifications gather so one call brings several; still well
            # inside the tick, so detection stays under it.
            (self._sleep or time.sleep)(min(1.0, self.tick / 2))
        bodies = self.inbox.receive(topics, wait)
        if bodies is None:
            self._swept.clear()  # the queue was deleted: sweep S3 for what its messages said
            return []
        self._last_receive_count = len(bodies)
        outcomes = [found for found in map(self._handle, bodies) if found]
        self.inbox.flush_deletes()
        return outcomes

    def _handle(self, body: str) -> Outcome | None:
        note = parse_notification(body)
        if note is None:
            return None
        request = self.ledger.by_inference_id(note.inference_id)
        if request is None:
            return None
        # Read once and deleted from the queue: the ledger keeps it for the request's timeline.
        self.ledger.record_notification(note.inference_id, body)
        if request.status.finished:
            return None
        return self._finish(request, note.status, note.location, note.finished_at, note.error)

    # -- bodies ----------------------------------------------------------------------------

    def fetch(self, location: str, *, limit: int = PREVIEW_LIMIT) -> OutputBody:
        """An output or failure object (its first `limit` bytes)."""
        return fetch_body(self.session, location, limit=limit)

    def export(self, requests: Sequence[AsyncRequest], write: Callable[[str], Any], *,
               bodies: bool = True, workers: int = 16) -> int:
        """Write one JSON line per request, with its output (or failure) body when finished."""
        fetch = (lambda location: self.fetch(location, limit=0)) if bodies else None
        return results.export(requests, write, fetch, workers=workers)


def _folder(location: str | None) -> str | None:
    if not location:
        return None
    return posixpath.dirname(location) + "/"
