"""Finding finished async requests with as few S3/SNS/SQS calls as possible.

Two ways, chosen per endpoint:
- the endpoint config names SNS topics: an SQS queue smconsole owns (created on demand with the
  policy SNS needs, subscribed to both topics with raw delivery) read by long polling; messages
  are deleted in batches of ten. One S3 sweep at start catches what finished before the queue
  existed (or while nobody watched).
- otherwise, each tick and each batch, whichever is cheaper: one ListObjectsV2 of the batch's
  output prefix (and of its failure prefix), or HEAD on the known locations of the requests that
  are due, each request backing off with its age.
Never one GET per pending request per tick. Bodies are fetched only by `fetch`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import posixpath
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from smconsole import errors
from smconsole.ledger import Ledger
from smconsole.models.requests import AsyncRequest, Outcome, OutputBody, Status
from smconsole.session import AwsSession, aws_errors
from smconsole.specs.common import split_s3_uri

Mode = Literal["auto", "sns", "s3"]

DEFAULT_TICK = 2.0
SWEEP_EVERY = 300.0  # seconds between safety sweeps of S3 while reading notifications
HEAD_MAX_INTERVAL = 30.0
PREVIEW_LIMIT = 4 * 1024 * 1024

_QUEUE_KEY = "watch.queue"


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
        self._queue: dict[str, Any] | None = None
        self._deletes: list[tuple[str, str]] = []  # (id, receipt handle) not yet deleted
        self._deletes_since = 0.0
        self._last_receive_count = 10
        self.stats = WatchStats()

    # -- what the endpoint says ------------------------------------------------------------

    def endpoint_outputs(self, endpoint: str) -> EndpointOutputs:
        """The endpoint config's output paths and topics (configs never change: cached)."""
        found = self._endpoints.get(endpoint)
        if found is not None:
            return found
        sagemaker = self.session.client("sagemaker")
        with aws_errors("DescribeEndpoint"):
            config_name = sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
        with aws_errors("DescribeEndpointConfig"):
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
                self._ensure_queue(topics)
                self._swept[endpoint] = now
                outcomes.extend(self._sweep(requests, force_list=True))
        if topics:
            # Other endpoints are listed every tick, so the long poll may not outlast it.
            wait = min(self.sqs_wait, int(self.tick)) if listed_any else self.sqs_wait
            outcomes.extend(self._receive(topics, wait))
        else:
            self._flush_deletes(force=True)
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
                if self._queue is None or not self.ledger.pending(batch_ids):
                    remaining = self.tick - (self._clock() - started)
                    if remaining > 0:
                        sleep(remaining)
        finally:
            self._flush_deletes(force=True)

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
                    with aws_errors("HeadObject"):
                        head = s3.head_object(Bucket=bucket, Key=key)
                except errors.NotFound:
                    continue
                found = self._finish(request, status, location,
                                     _timestamp(head.get("LastModified")))
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
                with aws_errors("ListObjectsV2"):
                    page = s3.list_objects_v2(**params)
            except errors.NotFound:
                return found  # the bucket is gone; nothing will appear there
            for item in page.get("Contents", []):
                found[f"s3://{bucket}/{item['Key']}"] = _timestamp(item.get("LastModified"))
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

    def _ensure_queue(self, topics: Iterable[str]) -> dict[str, Any]:
        """The queue, created and subscribed to `topics` if it is not already."""
        wanted = set(topics)
        if self._queue is None:
            stored = self.ledger.get_meta(_QUEUE_KEY)
            self._queue = json.loads(stored) if stored else None
        queue = self._queue
        if queue is not None and wanted <= set(queue["subscriptions"]):
            return queue
        sqs = self.session.client("sqs")
        sns = self.session.client("sns")
        if queue is None:
            self.stats.add("CreateQueue")
            with aws_errors("CreateQueue"):
                url = sqs.create_queue(QueueName=self.queue_name, Attributes={
                    "MessageRetentionPeriod": "1209600", "VisibilityTimeout": "120",
                })["QueueUrl"]
            self.stats.add("GetQueueAttributes")
            with aws_errors("GetQueueAttributes"):
                arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
                    "Attributes"]["QueueArn"]
            queue = {"url": url, "arn": arn, "subscriptions": {}}
        all_topics = sorted(wanted | set(queue["subscriptions"]))
        policy = {
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "smconsole-sns",
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue["arn"],
                "Condition": {"ArnEquals": {"aws:SourceArn": all_topics}},
            }],
        }
        self.stats.add("SetQueueAttributes")
        with aws_errors("SetQueueAttributes"):
            sqs.set_queue_attributes(QueueUrl=queue["url"],
                                     Attributes={"Policy": json.dumps(policy)})
        for topic in sorted(wanted - set(queue["subscriptions"])):
            self.stats.add("Subscribe")
            with aws_errors("Subscribe"):
                sub = sns.subscribe(
                    TopicArn=topic, Protocol="sqs", Endpoint=queue["arn"],
                    Attributes={"RawMessageDelivery": "true"}, ReturnSubscriptionArn=True,
                )
            queue["subscriptions"][topic] = sub["SubscriptionArn"]
        self._queue = queue
        self.ledger.set_meta(_QUEUE_KEY, json.dumps(queue))
        return queue

    def queue(self) -> dict[str, Any] | None:
        """The queue smconsole reads notifications from, if it made one."""
        stored = self.ledger.get_meta(_QUEUE_KEY)
        return json.loads(stored) if stored else None

    def remove_queue(self) -> dict[str, Any] | None:
        """Unsubscribe and delete smconsole's queue; requests then get watched through S3."""
        queue = self.queue()
        if queue is None:
            return None
        sqs = self.session.client("sqs")
        sns = self.session.client("sns")
        for subscription in queue["subscriptions"].values():
            try:
                with aws_errors("Unsubscribe"):
                    sns.unsubscribe(SubscriptionArn=subscription)
            except errors.NotFound:
                pass
        try:
            with aws_errors("DeleteQueue"):
                sqs.delete_queue(QueueUrl=queue["url"])
        except errors.NotFound:
            pass
        except errors.AwsError as exc:
            if "NonExistentQueue" not in exc.code:
                raise
        self.ledger.set_meta(_QUEUE_KEY, None)
        self._queue = None
        return queue

    def _receive(self, topics: set[str], wait: int) -> list[Outcome]:
        queue = self._ensure_queue(topics)
        sqs = self.session.client("sqs")
        if self._last_receive_count < 10:
            # A short pause lets notifications gather so one call brings several; still well
            # inside the tick, so detection stays under it.
            (self._sleep or time.sleep)(min(1.0, self.tick / 2))
        self.stats.add("ReceiveMessage")
        try:
            with aws_errors("ReceiveMessage"):
                reply = sqs.receive_message(
                    QueueUrl=queue["url"], MaxNumberOfMessages=10, WaitTimeSeconds=wait,
                    VisibilityTimeout=120,
                )
        except errors.AwsError as exc:
            if "NonExistentQueue" not in exc.code:
                raise
            self._forget_queue()
            return []
        except errors.NotFound:
            self._forget_queue()
            return []
        messages = reply.get("Messages", [])
        self._last_receive_count = len(messages)
        outcomes = []
        for message in messages:
            found = self._handle(message.get("Body", ""))
            if found:
                outcomes.append(found)
            self._deletes.append((message["MessageId"], message["ReceiptHandle"]))
        self._flush_deletes()
        return outcomes

    def _forget_queue(self) -> None:
        # Deleted behind our back: make it again, and sweep S3 for what its messages said.
        self.ledger.set_meta(_QUEUE_KEY, None)
        self._queue = None
        self._swept.clear()

    def _handle(self, body: str) -> Outcome | None:
        note = parse_notification(body)
        if note is None:
            return None
        request = self.ledger.by_inference_id(note["inference_id"])
        if request is None:
            return None
        # Read once and deleted from the queue: the ledger keeps it for the request's timeline.
        self.ledger.record_notification(note["inference_id"], body)
        if request.status.finished:
            return None
        return self._finish(request, note["status"], note["location"], note["finished_at"],
                            note["error"])

    def _flush_deletes(self, *, force: bool = False) -> None:
        if not self._deletes or self._queue is None:
            self._deletes.clear()
            return
        now = self._clock()
        if not self._deletes_since:
            self._deletes_since = now
        # Deleting in tens: a late delete only risks a redelivery, which the ledger ignores.
        if not force and len(self._deletes) < 10 and now - self._deletes_since < 10:
            return
        sqs = self.session.client("sqs")
        while self._deletes:
            chunk, self._deletes = self._deletes[:10], self._deletes[10:]
            self.stats.add("DeleteMessageBatch")
            try:
                with aws_errors("DeleteMessageBatch"):
                    sqs.delete_message_batch(QueueUrl=self._queue["url"], Entries=[
                        {"Id": str(n), "ReceiptHandle": handle}
                        for n, (_, handle) in enumerate(chunk)
                    ])
            except errors.SmconsoleError:
                self._deletes.clear()  # redelivered later and ignored then
                break
        self._deletes_since = 0.0

    # -- bodies ----------------------------------------------------------------------------

    def fetch(self, location: str, *, limit: int = PREVIEW_LIMIT) -> OutputBody:
        """An output or failure object (its first `limit` bytes)."""
        bucket, key = split_s3_uri(location)
        s3 = self.session.client("s3")
        params: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if limit:
            params["Range"] = f"bytes=0-{limit - 1}"
        try:
            with aws_errors("GetObject"):
                reply = s3.get_object(**params)
        except errors.AwsError as exc:
            if exc.code != "InvalidRange":
                raise
            params.pop("Range")  # an empty object has no byte 0
            with aws_errors("GetObject"):
                reply = s3.get_object(**params)
        with aws_errors("GetObject"):
            data = reply["Body"].read()
        total = object_size(reply)
        return OutputBody(location, reply.get("ContentType"), data,
                          truncated=total is not None and total > len(data))


    # -- export ----------------------------------------------------------------------------

    def export(self, requests: Sequence[AsyncRequest], write: Callable[[str], Any], *,
               bodies: bool = True, workers: int = 16) -> int:
        """Write one JSON line per request, with its output (or failure) body when finished."""

        def record(request: AsyncRequest) -> dict[str, Any]:
            location = result_location(request)
            if not bodies or location is None:
                return result_record(request)
            try:
                return result_record(request, self.fetch(location, limit=0))
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


def decode_body(data: bytes, key: str) -> dict[str, Any]:
    """A body as JSON when it is JSON, text when it is text, base64 otherwise."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return {key + "_base64": base64.b64encode(data).decode("ascii")}
    try:
        return {key: json.loads(text)}
    except ValueError:
        return {key: text}


def default_queue_name(ledger: Ledger) -> str:
    """One queue per ledger and machine, so two people's consoles never steal messages."""
    digest = hashlib.sha256(f"{socket.gethostname()}:{ledger.path}".encode()).hexdigest()[:12]
    return f"smconsole-outputs-{digest}"


def parse_notification(body: str) -> dict[str, Any] | None:
    """SageMaker's InferenceResult message, raw or inside an SNS envelope; None if not one."""
    try:
        data = json.loads(body)
        if isinstance(data, dict) and data.get("Type") == "Notification" and "Message" in data:
            data = json.loads(data["Message"])
    except (TypeError, ValueError):
        return None
    if not isinstance(data, dict) or not data.get("inferenceId"):
        return None
    response = data.get("responseParameters") or {}
    succeeded = data.get("invocationStatus") == "Completed"
    error = None
    if not succeeded:
        error = str(data.get("failureReason") or "failed")
        content = _included_body(data.get("responseBody"))
        if content is not None:
            error = f"{error} | {error_summary(content)}"
    return {
        "inference_id": str(data["inferenceId"]),
        "status": Status.SUCCEEDED if succeeded else Status.FAILED,
        "location": response.get("outputLocation" if succeeded else "failureLocation"),
        "finished_at": _timestamp(data.get("eventTime")),
        "error": error,
    }


def _included_body(included: Any) -> bytes | None:
    """The response bytes a notification carries (SageMaker sends them base64-encoded)."""
    if not isinstance(included, dict) or not isinstance(included.get("content"), str):
        return None
    if included.get("encoding") == "BASE64":
        try:
            return base64.b64decode(included["content"], validate=True)
        except ValueError:
            return None
    return included["content"].encode()


def error_summary(data: bytes, limit: int = 300) -> str:
    """One line from an error body: its JSON message/error fields, else its text."""
    text = data.decode("utf-8", errors="replace").strip()
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict):
        parts = [str(body[k]) for k in ("error", "message", "detail") if body.get(k)]
        if parts:
            text = ": ".join(dict.fromkeys(parts))
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _folder(location: str | None) -> str | None:
    if not location:
        return None
    return posixpath.dirname(location) + "/"


def _timestamp(value: Any) -> float | None:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            return None
    return None


def object_size(reply: dict[str, Any]) -> int | None:
    """An S3 GetObject reply's whole object size (a ranged read names it in ContentRange)."""
    content_range = reply.get("ContentRange")
    if content_range and "/" in content_range:
        try:
            return int(content_range.rsplit("/", 1)[1])
        except ValueError:
            return None
    length = reply.get("ContentLength")
    return int(length) if length is not None else None
