"""CloudWatch Logs StartLiveTail as a real event stream (moto answers one snapshot and ends).

The answer is an `application/vnd.amazon.eventstream` body: botocore's `initial-response`,
`sessionStart`, then a `sessionUpdate` about every second with the events that arrived since
(filter pattern and streams honoured; more than 500 in a second are sampled down to 500, with
`sessionMetadata.sampled`), until the client hangs up or the session's 3 hours are over, when
a `SessionTimeoutException` ends it as on AWS.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from moto.core.eventstream import EventStreamEncoder

from smconsole.local.daemon import backends

SESSION_LIMIT_S = 3 * 3600
UPDATE_INTERVAL_S = 1.0
MAX_RESULTS = 500
CONTENT_TYPE = "application/vnd.amazon.eventstream"

_ENCODER = EventStreamEncoder()


def _event(kind: str, payload: dict[str, Any]) -> bytes:
    return _ENCODER.encode_message({
        ":message-type": "event", ":event-type": kind, ":content-type": "application/json",
    }, json.dumps(payload).encode())


def _exception(kind: str, message: str) -> bytes:
    return _ENCODER.encode_message({
        ":message-type": "exception", ":exception-type": kind,
        ":content-type": "application/json",
    }, json.dumps({"message": message}).encode())


class LiveTail:
    """One session: validated up front (moto's own checks), then streamed by `frames`."""

    def __init__(self, region: str, params: dict[str, Any], *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep,
                 limit_s: float = SESSION_LIMIT_S) -> None:
        self.backend = backends.logs(region)
        self.names = params.get("logStreamNames")
        self.prefixes = params.get("logStreamNamePrefixes")
        self.pattern = params.get("logEventFilterPattern") or ""
        # Moto's own validation errors (too many groups, both stream filters), then ours.
        self.backend.start_live_tail(
            log_group_identifiers=params.get("logGroupIdentifiers") or [],
            log_stream_names=self.names, log_stream_name_prefixes=self.prefixes,
            log_event_filter_pattern=self.pattern)
        self.groups = [self._group(i) for i in params.get("logGroupIdentifiers") or []]
        self.clock, self.sleep, self.limit_s = clock, sleep, limit_s
        self.cursor = self._newest_id()  # Live Tail carries only events from now on

    def _group(self, identifier: str) -> Any:
        """The group an ARN (with or without `:*`) or name names; moto's own lookup answers the
        last group for an unknown ARN."""
        from moto.logs.exceptions import ResourceNotFoundException

        wanted = identifier.removesuffix(":*")
        for group in list(self.backend.groups.values()):
            if wanted in (group.arn.removesuffix(":*"), group.name):
                return group
        raise ResourceNotFoundException()

    def _streams(self) -> Iterator[tuple[Any, Any]]:
        for group in self.groups:
            for stream in self.backend._get_live_tail_streams(
                    group, log_stream_names=self.names or [],
                    log_stream_name_prefixes=self.prefixes or []):
                yield group, stream

    def _newest_id(self) -> int:
        return max((e.event_id for _, s in self._streams() for e in list(s.events)),
                   default=-1)

    def new_results(self) -> list[dict[str, Any]]:
        from moto.logs.utils import EventMessageFilter

        matcher = EventMessageFilter(self.pattern)
        found, newest = [], self.cursor
        for group, stream in self._streams():
            for event in list(stream.events):
                if event.event_id <= self.cursor:
                    continue
                newest = max(newest, event.event_id)
                if matcher.matches(event.message):
                    found.append({
                        "logStreamName": stream.log_stream_name,
                        "logGroupIdentifier": group.arn.removesuffix(":*"),
                        "message": event.message, "timestamp": event.timestamp,
                        "ingestionTime": event.ingestion_time,
                    })
        self.cursor = newest
        found.sort(key=lambda r: (r["timestamp"], r["ingestionTime"]))
        return found

    def frames(self) -> Iterator[bytes]:
        yield _event("initial-response", {})
        yield _event("sessionStart", {
            "requestId": str(uuid.uuid4()), "sessionId": str(uuid.uuid4()),
            "logGroupIdentifiers": [g.arn.removesuffix(":*") for g in self.groups],
            "logStreamNames": self.names or [], "logStreamNamePrefixes": self.prefixes or [],
            "logEventFilterPattern": self.pattern,
        })
        started = self.clock()
        while self.clock() - started < self.limit_s:
            self.sleep(UPDATE_INTERVAL_S)
            results = self.new_results()
            sampled = len(results) > MAX_RESULTS
            if sampled:
                picked = sorted(random.sample(range(len(results)), MAX_RESULTS))
                results = [results[i] for i in picked]
            # Sent even when empty: a hung-up client shows as a failed write, ending the loop.
            yield _event("sessionUpdate", {"sessionMetadata": {"sampled": sampled},
                                           "sessionResults": results})
        yield _exception("SessionTimeoutException",
                         "The session has reached its limit of 3 hours.")
