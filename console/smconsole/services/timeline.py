"""A request's timeline: the ledger, InvokeEndpointAsync's answer, log lines, S3 and SNS joined.

Log lines come from ONE FilterLogEvents lookup by inference id (a quoted phrase over the
endpoint's whole group, so the platform's `data-log` lines and the container's own lines come
together), made when a request is opened and cached — never per row of a list, so CloudWatch's
account-wide read quota is not spent on browsing.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from smconsole import errors
from smconsole.ledger import Ledger
from smconsole.models.logs import log_group_for
from smconsole.models.requests import AsyncRequest, Status
from smconsole.models.timeline import (
    RequestLogLine,
    Span,
    StoredObject,
    Timeline,
    TimelineStep,
)
from smconsole.services.bodies import fetch_body
from smconsole.services.logs import RateLimiter, filter_limiter
from smconsole.session import AwsSession

PREVIEW_BYTES = 2048
LOOKUP_BEFORE_S = 60.0  # log clocks and ingestion are not ours: look a little around the request
LOOKUP_AFTER_S = 120.0
MAX_PAGES = 5  # one lookup follows at most this many pages (AWS may answer empty pages)
REFRESH_UNFINISHED_S = 10.0  # an unfinished request's lines may still arrive
SETTLE_S = 30.0  # after this long past its finish, a request's lines are all in

_ACCESS_MS = re.compile(r"\s(\d+(?:\.\d+)?)\s?ms\b")
# Checked in this order: "dequeued" is a start, "failed to finish" is a finish.
_PHASE_WORDS = (
    ("finished", ("finish", "complet", "succe", "fail", "error", "done", "respon", "written")),
    ("started", ("start", "dequeu", "dispatch", "process", "invok", "sent to", "running")),
    ("queued", ("queue", "receiv", "accept", "arriv")),
)
_PHASE_KEYS = ("eventName", "event", "status", "state", "phase", "stage", "type", "message")
_TIME_KEYS = ("timestamp", "time", "eventTime", "ts")


@dataclass
class _Lookup:
    lines: tuple[RequestLogLine, ...]
    missing: str | None  # why no line was found, when none was
    fetched_at: float
    final: bool


_PHASE_TOKENS = {
    "queued": "queued", "received": "queued", "accepted": "queued", "enqueued": "queued",
    "started": "started", "dequeued": "started", "dispatched": "started", "running": "started",
    "finished": "finished", "completed": "finished", "succeeded": "finished",
    "failed": "finished", "expired": "finished", "done": "finished",
}


def data_log_phase(message: str, inference_id: str = "") -> tuple[str | None, float | None]:
    """(queued | started | finished | None, a time the line itself states) of a data-log line.

    The platform's wording is not documented, so both JSON lines and plain text are read: a
    word that names a phase (`queued inference_id=...`, as the local stack writes), else
    keywords; the id and any URL are left out first (an id may well contain "fail").
    A line naming no phase is kept as a plain line of the request.
    """
    if inference_id:
        message = message.replace(inference_id, " ")
    message = re.sub(r"\b[a-z][a-z0-9+.-]*://\S+", " ", message)
    text, stated = message, None
    start = message.find("{")
    if start >= 0:
        try:
            data = json.loads(message[start:])
        except ValueError:
            data = None
        if isinstance(data, dict):
            text = " ".join(str(data[k]) for k in _PHASE_KEYS if k in data) or message
            stated = next((t for t in (_epoch(data.get(k)) for k in _TIME_KEYS) if t), None)
    lowered = text.lower()
    for word in re.findall(r"[a-z]+", lowered):
        if word in _PHASE_TOKENS:
            return _PHASE_TOKENS[word], stated
    for phase, words in _PHASE_WORDS:
        if any(word in lowered for word in words):
            return phase, stated
    return None, stated


def access_ms(message: str) -> float | None:
    """The processing time the bundled container's access line states (`... 200 12.3ms ...`)."""
    found = _ACCESS_MS.search(message)
    return float(found.group(1)) / 1000 if found else None


def names_id(message: str, inference_id: str) -> bool:
    """The id as a whole token (the phrase filter also matches ids it is a prefix of)."""
    return re.search(rf"(?<![\w-]){re.escape(inference_id)}(?![\w-])", message) is not None


class TimelineService:
    """Builds timelines; log lookups are cached per request (batch, index): an inference id
    given again in another batch names another request, whose lines are its own."""

    def __init__(
        self, session: AwsSession, ledger: Ledger, *, clock: Callable[[], float] = time.time,
        limiter: RateLimiter | None = None, sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._session = session
        self.ledger = ledger
        self._clock = clock
        self._limiter = limiter or filter_limiter(session)
        self._sleep = sleep
        self._lock = threading.Lock()
        self._lookups: dict[tuple[str, int], _Lookup] = {}
        self._outputs: dict[str, dict[str, Any] | None] = {}
        self.filter_calls = 0

    # ---- finding the request ------------------------------------------------------------

    def find(self, ref: str) -> AsyncRequest:
        """A request by inference id, or by `batch/index` as the requests view names it."""
        ref = ref.strip()
        found = self.ledger.by_inference_id(ref)
        if found is not None:
            return found
        batch, sep, index = ref.rpartition("/")
        if sep and index.isdigit():
            return self.ledger.request(batch, int(index))
        raise errors.NotFound(
            f"no request {ref!r} in the ledger ({self.ledger.path}): give an inference id "
            "or BATCH/INDEX")

    # ---- the timeline -------------------------------------------------------------------

    def timeline(self, ref: str | AsyncRequest) -> Timeline:
        request = ref if isinstance(ref, AsyncRequest) else self.find(ref)
        request = self.ledger.request(request.batch_id, request.index)  # the newest state
        calls_before = self.filter_calls
        outputs, outputs_missing = self._endpoint_outputs(request.endpoint)
        lookup = self._log_lines(request)
        note, note_missing = self._notification(request, outputs, outputs_missing)
        stored, stored_missing = self._stored_object(request)

        data_lines = [line for line in lookup.lines if line.kind == "data-log"]
        container = [line for line in lookup.lines if line.kind == "container"]
        phases: dict[str, tuple[float, RequestLogLine]] = {}
        for line in data_lines:
            phase, stated = data_log_phase(line.message, request.inference_id)
            # Queued once; a request run again (at least once, after a restart) starts and
            # finishes again: the last run is the one that wrote the result.
            if phase and (phase != "queued" or phase not in phases):
                phases[phase] = (stated or line.timestamp, line)
        data_missing = self._data_log_missing(request, lookup, container)

        steps: list[TimelineStep] = [TimelineStep(
            "recorded", request.queued_at, "ledger",
            f"batch {request.batch_id}, request {request.index}")]
        steps.append(self._accepted(request, note, phases))
        for phase in ("queued", "started"):
            steps.append(_phase_step(phase, phases, data_missing))
        if container:
            steps += [TimelineStep("container", line.timestamp, f"logs {line.stream}",
                                   line.message) for line in container]
        else:
            steps.append(TimelineStep("container", None, "logs",
                                      missing=self._container_missing(request, lookup)))
        steps.append(_phase_step("finished", phases, data_missing))
        steps.append(self._written(request, stored, stored_missing))
        steps.append(self._notified(note, note_missing))
        steps.append(TimelineStep(
            "detected", request.detected_at, "ledger (watcher)",
            request.status.value if request.detected_at else "",
            missing=None if request.detected_at else _not_finished(request)))

        instance, instance_missing = _instance(data_lines, container)
        return Timeline(
            request=request, steps=tuple(steps), spans=_spans(steps, container),
            instance=instance, instance_missing=instance_missing, lines=lookup.lines,
            output=stored, output_missing=stored_missing,
            notification=note, notification_missing=note_missing,
            log_calls=self.filter_calls - calls_before,
        )

    # ---- steps --------------------------------------------------------------------------

    @staticmethod
    def _accepted(request: AsyncRequest, note: dict[str, Any] | None,
                  phases: dict[str, tuple[float, RequestLogLine]]) -> TimelineStep:
        detail = (f"InferenceId {request.inference_id}, OutputLocation "
                  f"{request.output_location or '-'}, FailureLocation "
                  f"{request.failure_location or '-'}")
        if request.submitted_at is None:
            if request.status is Status.QUEUED:
                why = "not sent yet (`smconsole submit --resume` sends it)"
            elif request.status is Status.SUBMITTING:
                why = ("the invoke was in flight when its submitter stopped: "
                       "`smconsole submit --resume` sends it again")
            else:
                why = f"InvokeEndpointAsync refused it: {request.error or 'no reason recorded'}"
            return TimelineStep("accepted", None, "InvokeEndpointAsync", missing=why)
        # The ledger's time is taken after the 202 came back; SageMaker's own acceptance time
        # (the notification's receivedTime, or the platform's queued line) is earlier.
        received = _epoch(note.get("receivedTime")) if note else None
        if received is not None:
            return TimelineStep("accepted", received, "InvokeEndpointAsync (SNS receivedTime)",
                                detail + f"; 202 recorded in the ledger at "
                                         f"{_clock_text(request.submitted_at)}")
        if "queued" in phases:
            return TimelineStep("accepted", phases["queued"][0],
                                f"InvokeEndpointAsync (logs {phases['queued'][1].stream})",
                                detail + f"; 202 recorded in the ledger at "
                                         f"{_clock_text(request.submitted_at)}")
        return TimelineStep("accepted", request.submitted_at, "InvokeEndpointAsync (ledger)",
                            detail)

    @staticmethod
    def _written(request: AsyncRequest, stored: StoredObject | None,
                 missing: str | None) -> TimelineStep:
        if stored is not None and stored.last_modified is not None:
            kind = "output" if request.status is not Status.FAILED else "failure"
            return TimelineStep("written", stored.last_modified, "s3",
                                f"{kind} {stored.location} ({_size(stored.size)}, "
                                f"{stored.content_type or 'no content type'})", precision=1.0)
        return TimelineStep("written", None, "s3", missing=missing or "no object")

    @staticmethod
    def _notified(note: dict[str, Any] | None, missing: str | None) -> TimelineStep:
        if note is None:
            return TimelineStep("notified", None, "sns", missing=missing)
        status = note.get("invocationStatus", "?")
        detail = status + (f": {note['failureReason']}" if note.get("failureReason") else "")
        at = _epoch(note.get("eventTime"))
        return TimelineStep("notified", at, "sns (read by the watcher)", detail,
                            missing=None if at else "the message has no eventTime")

    # ---- sources ------------------------------------------------------------------------

    def _endpoint_outputs(self, endpoint: str) -> tuple[dict[str, Any] | None, str | None]:
        """The endpoint config's OutputConfig (configs never change: cached)."""
        with self._lock:
            if endpoint in self._outputs:
                found = self._outputs[endpoint]
                return found, None if found is not None else f"endpoint {endpoint} not found"
        sagemaker = self._session.client("sagemaker")
        try:
            config_name = sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
            config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
        except errors.NotFound:
            with self._lock:
                self._outputs[endpoint] = None
            return None, f"endpoint {endpoint} no longer exists"
        except errors.SmconsoleError as exc:
            return None, f"endpoint {endpoint} could not be described: {exc}"
        output = (config.get("AsyncInferenceConfig") or {}).get("OutputConfig") or {}
        with self._lock:
            self._outputs[endpoint] = output
        return output, None

    def _log_lines(self, request: AsyncRequest) -> _Lookup:
        now = self._clock()
        with self._lock:
            cached = self._lookups.get((request.batch_id, request.index))
        if cached is not None and (cached.final or now - cached.fetched_at < REFRESH_UNFINISHED_S):
            return cached
        if request.submitted_at is None:
            lookup = _Lookup((), "the request was never accepted, so nothing logged it", now,
                             request.status.finished)
        else:
            lookup = self._filter(request, now)
        with self._lock:
            self._lookups[(request.batch_id, request.index)] = lookup
        return lookup

    def _filter(self, request: AsyncRequest, now: float) -> _Lookup:
        start = (request.submitted_at or request.queued_at) - LOOKUP_BEFORE_S
        end = (request.finished_at or request.detected_at or now) + LOOKUP_AFTER_S
        final = request.status.finished and now > (request.finished_at or now) + SETTLE_S
        kwargs: dict[str, Any] = {
            "logGroupName": log_group_for(request.endpoint),
            "filterPattern": f'"{request.inference_id}"',
            "startTime": int(start * 1000), "endTime": int(min(end, now + 60) * 1000),
        }
        logs = self._session.client("logs")
        lines: list[RequestLogLine] = []
        try:
            for _ in range(MAX_PAGES):
                delay = self._limiter.delay()
                if delay > 0:
                    self._sleep(delay)
                self.filter_calls += 1
                page = logs.filter_log_events(**kwargs)
                for event in page.get("events", []):
                    message = str(event.get("message", "")).rstrip("\n")
                    if not names_id(message, request.inference_id):
                        continue
                    stream = str(event.get("logStreamName", ""))
                    kind = "data-log" if stream.endswith("/data-log") else "container"
                    lines.append(RequestLogLine(int(event["timestamp"]) / 1000, stream,
                                                message, kind))
                token = page.get("nextToken")
                if not token:
                    break
                kwargs["nextToken"] = token
        except errors.NotFound:
            return _Lookup((), f"the log group {log_group_for(request.endpoint)} does not "
                               "exist (the endpoint was deleted, or never logged)", now, final)
        except errors.SmconsoleError as exc:
            return _Lookup((), f"the logs could not be read: {exc}", now, False)
        lines.sort(key=lambda line: line.timestamp)
        missing = None if lines else self._why_no_lines(request, now)
        return _Lookup(tuple(lines), missing, now, final)

    def _why_no_lines(self, request: AsyncRequest, now: float) -> str:
        """Expired, or simply never written: the group's retention tells them apart."""
        group = log_group_for(request.endpoint)
        retention = None
        try:
            page = self._session.client("logs").describe_log_groups(logGroupNamePrefix=group)
            for found in page.get("logGroups", []):
                if found.get("logGroupName") == group:
                    retention = found.get("retentionInDays")
        except errors.SmconsoleError:
            retention = None
        sent = request.submitted_at or request.queued_at
        if retention and now - sent > retention * 86400:
            return f"the logs expired: {group} keeps {retention} days"
        return f"no line in {group} names {request.inference_id}"

    def _data_log_missing(self, request: AsyncRequest, lookup: _Lookup,
                          container: list[RequestLogLine]) -> str:
        if lookup.missing:
            return lookup.missing
        if not request.status.finished and request.submitted_at is not None:
            return ("no data-log line yet (the request is still pending; lines reach "
                    "CloudWatch seconds after they are written)")
        return ("no data-log line names this request: the endpoint's "
                "<variant>/<instance>/data-log stream has none (not written by this platform, "
                "or not delivered)" + (" — its container's lines are below" if container else ""))

    @staticmethod
    def _container_missing(request: AsyncRequest, lookup: _Lookup) -> str:
        if lookup.missing:
            return lookup.missing
        return ("no container line names this request: its container does not log the "
                "X-Amzn-SageMaker-Inference-Id it receives (the bundled one does)")

    def _notification(self, request: AsyncRequest, outputs: dict[str, Any] | None,
                      outputs_missing: str | None) -> tuple[dict[str, Any] | None, str | None]:
        recorded = self.ledger.notification(request.inference_id)
        if recorded is not None:
            try:
                data = json.loads(recorded[1])
                if isinstance(data, dict) and data.get("Type") == "Notification":
                    data = json.loads(data.get("Message", ""))
            except (TypeError, ValueError):
                data = None
            if not isinstance(data, dict):
                return None, "the recorded message is not JSON"
            # The ledger keeps one message per inference id: an id given again in a later
            # batch holds that request's message, which names that request's own S3 object.
            said = data.get("responseParameters") or {}
            where = [said.get(k) for k in ("outputLocation", "failureLocation") if said.get(k)]
            mine = {request.output_location, request.failure_location} - {None}
            if not where or not mine or set(where) & mine:
                return data, None
        if outputs is None:
            return None, f"{outputs_missing}: its topics are unknown"
        notify = outputs.get("NotificationConfig") or {}
        topic = notify.get("SuccessTopic" if request.status is not Status.FAILED
                           else "ErrorTopic")
        if not topic:
            which = "ErrorTopic" if request.status is Status.FAILED else "SuccessTopic"
            return None, f"no topics: the endpoint config sets no {which}, so SageMaker sent none"
        if not request.status.finished:
            return None, _not_finished(request)
        return None, ("no message recorded: the watcher found this result in S3 (it reads the "
                      "topics' queue only while it runs, and SQS deletes what is read)")

    def _stored_object(self, request: AsyncRequest) -> tuple[StoredObject | None, str | None]:
        if request.status is Status.SUCCEEDED:
            location = request.output_location
        elif request.status is Status.FAILED:
            location = request.failure_location
            if request.submitted_at is None:
                return None, "no object: the request was refused before SageMaker queued it"
        else:
            return None, _not_finished(request)
        if not location:
            return None, "the ledger holds no location for it"
        try:
            body = fetch_body(self._session, location, limit=PREVIEW_BYTES)
        except ValueError:
            return None, f"not an S3 location: {location}"
        except errors.NotFound:
            return None, f"no object at {location} (deleted since, or expired by a lifecycle rule)"
        except errors.SmconsoleError as exc:
            return None, f"{location} could not be read: {exc}"
        return StoredObject(
            location=location, size=body.size, content_type=body.content_type,
            last_modified=body.last_modified,
            preview=body.data.decode("utf-8", errors="replace"), truncated=body.truncated,
        ), None


# ---- helpers ------------------------------------------------------------------------------

def _phase_step(phase: str, phases: dict[str, tuple[float, RequestLogLine]],
                missing: str) -> TimelineStep:
    if phase in phases:
        at, line = phases[phase]
        return TimelineStep(phase, at, f"logs {line.stream}", line.message)
    return TimelineStep(phase, None, "logs data-log", missing=missing)


def _not_finished(request: AsyncRequest) -> str:
    if request.status is Status.PENDING:
        return "not finished yet (pending)"
    if request.status in (Status.QUEUED, Status.SUBMITTING):
        return f"not sent yet ({request.status.value})"
    return "the watcher recorded no detection"


def _instance(data_lines: list[RequestLogLine],
              container: list[RequestLogLine]) -> tuple[str | None, str | None]:
    for line in data_lines:
        return line.stream.removesuffix("/data-log"), None
    for line in container:
        return line.stream, None
    return None, "no log line names the request, so the instance is unknown"


def _spans(steps: list[TimelineStep], container: list[RequestLogLine]) -> tuple[Span, ...]:
    at = {s.name: s.at for s in steps if s.at is not None and s.name != "container"}
    took = next((t for t in (access_ms(line.message) for line in container) if t is not None),
                None)
    spans: list[Span] = []
    accepted = at.get("accepted")
    # Backlog: accepted → started; without data-log, the container line's end minus its time.
    container_start = (container[0].timestamp - took) if container and took is not None else None
    if accepted is not None and "started" in at:
        spans.append(Span("backlog", max(0.0, at["started"] - accepted), "accepted → started"))
    elif accepted is not None and container_start is not None:
        spans.append(Span("backlog", max(0.0, container_start - accepted),
                          "accepted → container line − its processing time"))
    else:
        spans.append(Span("backlog", None, missing="needs the accepted time and a data-log "
                                                   "started line (or a container line)"))
    if "started" in at and "finished" in at:
        spans.append(Span("processing", max(0.0, at["finished"] - at["started"]),
                          "started → finished"))
    elif took is not None:
        spans.append(Span("processing", took, "the container's access line"))
    else:
        spans.append(Span("processing", None, missing="no data-log started/finished lines and "
                                                      "no container line with its time"))
    # The notification, else the platform's finished line: an S3 object may be rewritten later.
    end_name = next((n for n in ("notified", "finished", "written") if n in at), None)
    if accepted is not None and end_name is not None:
        spans.append(Span("end-to-end", max(0.0, at[end_name] - accepted),
                          f"accepted → {end_name}"))
    else:
        spans.append(Span("end-to-end", None, missing="not finished, or its acceptance time "
                                                      "is unknown"))
    return tuple(spans)


def _epoch(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) / 1000 if value > 1e11 else float(value)
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            return None
    return None


def _size(size: int | None) -> str:
    return "size unknown" if size is None else f"{size:,} bytes"


def _clock_text(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%H:%M:%S.%f")[:-3]
