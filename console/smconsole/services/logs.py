"""Tail an endpoint's CloudWatch log group: FilterLogEvents polling or StartLiveTail.

The poller follows aws-cli's `logs tail --follow`: resume from the newest timestamp seen and
drop events already delivered, rather than trusting tokens across polls. One process-wide rate
limiter keeps every tail together under FilterLogEvents' account-wide TPS.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import urllib3

from smconsole import errors
from smconsole.models.logs import (
    LogBatch,
    LogEvent,
    TailState,
    TailStatus,
    log_group_for,
    parse_since,
)
from smconsole.session import AwsSession, read_events

# 5/s is the lowest regional FilterLogEvents quota; it is account-wide, so one console stays there.
FILTER_TPS = 5.0
POLL_INTERVAL = 1.0  # new lines show within ~2 s: one poll plus the round trip
IDLE_INTERVAL = 1.5
LOOKBACK_MS = 2_000  # re-read a little behind the newest event: other streams ingest late
MISSING_INTERVAL = 5.0
MAX_BACKOFF = 30.0
__all__ = ["LogsService", "RateLimiter", "parse_since"]
CATCH_UP_STREAMS = 10
BATCH_EVENTS = 2_000
GET_TPS = 5.0
LIVE_SESSION_LIMIT = 3 * 3600 - 5 * 60  # reconnect before Live Tail's 3-hour cut-off
EMPTY_CHECK_EVERY = 10

class RateLimiter:
    """A token bucket shared by threads; `acquire` waits (via the injected sleep) for a token."""

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self._clock = clock
        self._tokens = rate
        self._last = clock()
        self._lock = threading.Lock()

    def delay(self) -> float:
        """Take a token; return how long the caller must wait before using it."""
        if self.rate == float("inf"):
            return 0.0
        with self._lock:
            now = self._clock()
            self._tokens = min(self.rate, self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= 1
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate


_FILTER_LIMITER = RateLimiter(FILTER_TPS)
_GET_LIMITER = RateLimiter(GET_TPS)
_UNLIMITED = RateLimiter(float("inf"))


def filter_limiter(session: AwsSession) -> RateLimiter:
    """The FilterLogEvents budget every caller of one process shares (none off AWS)."""
    return _FILTER_LIMITER if session.endpoint_url is None else _UNLIMITED


class LogsService:
    def __init__(
        self, session: AwsSession, *, sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time, limiter: RateLimiter | None = None,
        get_limiter: RateLimiter | None = None, use_live_tail: bool | None = None,
    ) -> None:
        self._session = session
        self._sleep = sleep
        self._clock = clock
        # AWS's read quotas are account-wide; a custom endpoint (moto, the local stack) has none.
        on_aws = session.endpoint_url is None
        self._limiter = limiter or (_FILTER_LIMITER if on_aws else _UNLIMITED)
        self._get_limiter = get_limiter or (_GET_LIMITER if on_aws else _UNLIMITED)
        # Auto (decided at the first tail, off the UI thread): Live Tail on real AWS and on the
        # local stack, which streams it; another custom endpoint (plain moto answers one
        # snapshot) is polled.
        self._use_live = use_live_tail

    @property
    def _logs(self) -> Any:
        return self._session.client("logs")

    def streams(self, endpoint: str) -> list[str]:
        """The group's streams, most recently written first."""
        names: list[str] = []
        kwargs: dict[str, Any] = {"logGroupName": log_group_for(endpoint),
                                  "orderBy": "LastEventTime", "descending": True}
        while True:
            page = self._logs.describe_log_streams(**kwargs)
            names += [s["logStreamName"] for s in page.get("logStreams", [])]
            token = page.get("nextToken")
            if not token or len(names) >= 500:
                return names
            kwargs["nextToken"] = token

    def tail(
        self, endpoint: str, *, stream: str | None = None, since_ms: int | None = None,
        filter_pattern: str | None = None, follow: bool = True,
        stop: threading.Event | None = None,
    ) -> Iterator[LogBatch]:
        """Batches of events in time order; when following, also a status batch on each change.

        Without `follow`, errors are raised; with it, they become statuses and the tail retries.
        """
        stop = stop or threading.Event()
        group = log_group_for(endpoint)
        start = since_ms if since_ms is not None else int(self._clock() * 1000) - 10 * 60_000
        cursor = _Cursor(start)
        poller = _Poller(self, group, stream, filter_pattern, cursor)
        if not follow:
            yield from poller.pass_once(raise_errors=True)
            return
        if self._use_live is None:
            self._use_live = self._session.endpoint_url is None or _streams_live_tail(
                self._session.endpoint_url)
        if self._use_live:
            yield from self._live_then_poll(poller, group, stream, filter_pattern, stop)
        else:
            yield from poller.follow(stop)

    def _wait(self, seconds: float, stop: threading.Event) -> None:
        if seconds <= 0 or stop.is_set():
            return
        if self._sleep is time.sleep:
            stop.wait(seconds)
        else:
            self._sleep(seconds)

    def _filter(self, **kwargs: Any) -> dict[str, Any]:
        delay = self._limiter.delay()
        if delay > 0:
            self._sleep(delay)
        return self._logs.filter_log_events(**kwargs)

    def _get(self, **kwargs: Any) -> dict[str, Any]:
        delay = self._get_limiter.delay()
        if delay > 0:
            self._sleep(delay)
        return self._logs.get_log_events(**kwargs)

    def _recent_streams(self, group: str, limit: int) -> list[str]:
        page = self._logs.describe_log_streams(
            logGroupName=group, orderBy="LastEventTime", descending=True, limit=limit)
        return [s["logStreamName"] for s in page.get("logStreams", [])]

    def _group_has_streams(self, group: str) -> bool:
        page = self._logs.describe_log_streams(logGroupName=group, limit=1)
        return bool(page.get("logStreams"))

    def _live_then_poll(
        self, poller: _Poller, group: str, stream: str | None, pattern: str | None,
        stop: threading.Event,
    ) -> Iterator[LogBatch]:
        # History first (Live Tail only carries new events), then live sessions that are
        # renewed before the 3-hour limit, each preceded by a catch-up poll over the gap.
        while not stop.is_set():
            yield from poller.pass_once(raise_errors=False)
            try:
                arn = self._group_arn(group)
                if arn is None:
                    yield from poller.follow(stop)
                    return
                yield from self._live_session(arn, stream, pattern, poller.cursor, stop)
            except errors.SmconsoleError as exc:
                if isinstance(exc, errors.Throttled | errors.Unreachable):
                    yield LogBatch((), TailStatus(TailState.THROTTLED, str(exc), "live", 10))
                    self._wait(10, stop)
                    continue
                # Not offered here (or refused): polling does the same job.
                yield from poller.follow(stop)
                return

    def _group_arn(self, group: str) -> str | None:
        page = self._logs.describe_log_groups(logGroupNamePrefix=group)
        for found in page.get("logGroups", []):
            if found.get("logGroupName") == group:
                arn = str(found.get("logGroupArn") or found.get("arn", ""))
                return arn.removesuffix(":*") or None
        return None

    def _live_session(
        self, arn: str, stream: str | None, pattern: str | None, cursor: _Cursor,
        stop: threading.Event,
    ) -> Iterator[LogBatch]:
        kwargs: dict[str, Any] = {"logGroupIdentifiers": [arn]}
        if stream:
            kwargs["logStreamNames"] = [stream]
        if pattern:
            kwargs["logEventFilterPattern"] = pattern
        started = self._clock()
        response = self._logs.start_live_tail(**kwargs)
        events_stream = response["responseStream"]
        try:
            for item in read_events(events_stream, "StartLiveTail"):
                if stop.is_set():
                    return
                if "sessionStart" in item:
                    yield LogBatch((), TailStatus(TailState.STREAMING, "live tail", "live"))
                update = item.get("sessionUpdate")
                if update:
                    fresh = cursor.accept([
                        LogEvent(int(r["timestamp"]), r.get("message", ""),
                                 r.get("logStreamName", ""),
                                 f"{r.get('logStreamName')}:{r['timestamp']}:"
                                 f"{hash(r.get('message'))}")
                        for r in update.get("sessionResults", [])
                    ])
                    sampled = bool((update.get("sessionMetadata") or {}).get("sampled"))
                    if fresh or sampled:
                        yield LogBatch(
                            tuple(fresh),
                            TailStatus(TailState.STREAMING, "live tail", "live"),
                            sampled=1 if sampled else 0,
                        )
                if self._clock() - started > LIVE_SESSION_LIMIT:
                    return
        except urllib3.exceptions.HTTPError as exc:
            # The server went away mid-stream (a stopped local stack, a dropped link).
            raise errors.Unreachable(f"live tail stream broke: {exc}") from exc
        finally:
            close = getattr(events_stream, "close", None)
            if close:
                close()
        # A stream that ends early is a server that only gives a snapshot: poll instead.
        if self._clock() - started < 60:
            raise errors.SmconsoleError("live tail ended at once")


def _streams_live_tail(url: str) -> bool:
    """Whether a custom endpoint is smconsole's local stack (its health route answers)."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url.rstrip("/") + "/_smconsole/health", timeout=2):
            return True
    except urllib.error.HTTPError as exc:
        return exc.code == 503  # starting up: still the local stack
    except (OSError, ValueError):
        return False


class _Cursor:
    """The newest timestamp delivered and the events delivered near it, for de-duplication.

    Keys are (stream, timestamp, message hash, occurrence) rather than eventId because
    GetLogEvents and Live Tail give no eventId; only keys inside the re-read window are kept.
    """

    def __init__(self, start: int) -> None:
        self.start = start
        self.newest: int | None = None
        self._seen: dict[tuple[str, int, int, int], int] = {}

    @property
    def resume_from(self) -> int:
        if self.newest is None:
            return self.start
        return max(self.start, self.newest - LOOKBACK_MS)

    def accept(self, events: list[LogEvent]) -> list[LogEvent]:
        seen = self._seen
        counts: dict[tuple[str, int, int], int] = {}
        fresh = []
        newest = self.newest if self.newest is not None else -1
        for event in events:
            base = (event.stream, event.timestamp, hash(event.message))
            occurrence = counts.get(base, 0)
            counts[base] = occurrence + 1
            key = (*base, occurrence)
            if key in seen:
                continue
            seen[key] = event.timestamp
            fresh.append(event)
            newest = max(newest, event.timestamp)
        if newest >= 0:
            self.newest = newest
        if len(seen) > 1000:
            floor = self.resume_from
            self._seen = {k: ts for k, ts in seen.items() if ts >= floor}
        return fresh


class _Poller:
    def __init__(
        self, service: LogsService, group: str, stream: str | None, pattern: str | None,
        cursor: _Cursor,
    ) -> None:
        self.service = service
        self.group = group
        self.stream = stream
        self.pattern = pattern
        self.cursor = cursor
        self.delivered = 0
        self._caught_up = False

    def _pages(self) -> Iterator[list[LogEvent]]:
        if not self._caught_up and not self.pattern:
            streams = self._catch_up_streams()
            if streams is not None:
                yield from self._stream_pages(streams)
                self._caught_up = True
                return
        self._caught_up = True
        yield from self._filter_pages()

    def _catch_up_streams(self) -> list[str] | None:
        """Streams to read with GetLogEvents, or None when FilterLogEvents costs fewer calls."""
        if self.stream:
            return [self.stream]
        found = self.service._recent_streams(self.group, CATCH_UP_STREAMS + 1)
        return found if len(found) <= CATCH_UP_STREAMS else None

    def _stream_pages(self, streams: list[str]) -> Iterator[list[LogEvent]]:
        # History of a few streams: GetLogEvents pages are index lookups (FilterLogEvents
        # re-scans the whole group per page on some servers), merged into one time order.
        start = self.cursor.resume_from
        sources = [self._one_stream(name, start) for name in streams]
        merged = sources[0] if len(sources) == 1 else heapq.merge(
            *sources, key=lambda e: e.timestamp)
        batch: list[LogEvent] = []
        for event in merged:
            batch.append(event)
            if len(batch) >= BATCH_EVENTS:
                yield self.cursor.accept(batch)
                batch = []
        if batch:
            yield self.cursor.accept(batch)

    def _one_stream(self, stream: str, start: int) -> Iterator[LogEvent]:
        kwargs: dict[str, Any] = {"logGroupName": self.group, "logStreamName": stream,
                                  "startTime": start, "startFromHead": True}
        token: str | None = None
        while True:
            page = self.service._get(**kwargs)
            raw = page.get("events", [])
            for r in raw:
                yield LogEvent(int(r["timestamp"]), r.get("message", "").rstrip("\n"), stream)
            following = page.get("nextForwardToken")
            if not raw or not following or following == token:
                return
            token = kwargs["nextToken"] = following

    def _filter_pages(self) -> Iterator[list[LogEvent]]:
        kwargs: dict[str, Any] = {"logGroupName": self.group,
                                  "startTime": self.cursor.resume_from}
        if self.stream:
            kwargs["logStreamNames"] = [self.stream]
        if self.pattern:
            kwargs["filterPattern"] = self.pattern
        while True:
            page = self.service._filter(**kwargs)
            raw = page.get("events", [])
            # Pages are per stream on AWS; the view wants one time order.
            events = sorted(
                (LogEvent(int(r["timestamp"]), r.get("message", "").rstrip("\n"),
                          r.get("logStreamName", ""), r.get("eventId", ""))
                 for r in raw),
                key=lambda e: e.timestamp,
            )
            yield self.cursor.accept(events)
            token = page.get("nextToken")
            if not token:
                return
            kwargs["nextToken"] = token

    def pass_once(self, *, raise_errors: bool) -> Iterator[LogBatch]:
        status = TailStatus(TailState.STREAMING)
        try:
            for fresh in self._pages():
                if fresh:
                    self.delivered += len(fresh)
                    yield LogBatch(tuple(fresh), status)
        except errors.SmconsoleError:
            if raise_errors:
                raise

    def follow(self, stop: threading.Event) -> Iterator[LogBatch]:
        service = self.service
        last: TailStatus | None = None
        backoff = 0.0
        empty_polls = 0
        while not stop.is_set():
            interval = POLL_INTERVAL
            try:
                got = 0
                for fresh in self._pages():
                    if fresh:
                        got += len(fresh)
                        self.delivered += len(fresh)
                        status = TailStatus(TailState.STREAMING)
                        last = status
                        yield LogBatch(tuple(fresh), status)
                    if stop.is_set():
                        return
                backoff = 0.0
                if got:
                    empty_polls = 0
                    status = TailStatus(TailState.STREAMING)
                else:
                    empty_polls += 1
                    interval = IDLE_INTERVAL
                    status = self._quiet_status(empty_polls, last)
            except errors.NotFound:
                interval = MISSING_INTERVAL
                status = TailStatus(
                    TailState.MISSING_GROUP,
                    f"{self.group} does not exist (yet): the endpoint has not logged",
                    retry_in=interval,
                )
            except errors.Throttled as exc:
                backoff = min(MAX_BACKOFF, max(2.0, backoff * 2))
                interval = backoff
                status = TailStatus(TailState.THROTTLED, str(exc), retry_in=interval)
            except (errors.Unreachable, errors.CredentialsExpired, errors.AwsError) as exc:
                backoff = min(MAX_BACKOFF, max(2.0, backoff * 2))
                interval = backoff
                status = TailStatus(TailState.ERROR, str(exc), retry_in=interval)
            if status != last:
                last = status
                yield LogBatch((), status)
            service._wait(interval, stop)
        yield LogBatch((), TailStatus(TailState.STOPPED))

    def _quiet_status(self, empty_polls: int, last: TailStatus | None) -> TailStatus:
        if self.delivered:
            return TailStatus(TailState.CAUGHT_UP, "following")
        if last is not None and last.state is TailState.EMPTY_GROUP \
                and empty_polls % EMPTY_CHECK_EVERY != 1:
            return last
        if empty_polls % EMPTY_CHECK_EVERY == 1 or last is None \
                or last.state is not TailState.CAUGHT_UP:
            try:
                has_streams = self.service._group_has_streams(self.group)
            except errors.SmconsoleError:
                has_streams = True
            if not has_streams:
                return TailStatus(TailState.EMPTY_GROUP, f"{self.group} has no log streams yet")
        since = datetime.fromtimestamp(self.cursor.start / 1000).strftime("%Y-%m-%d %H:%M:%S")
        detail = f"no events since {since}"
        if self.pattern:
            detail += f" matching {self.pattern!r}"
        return TailStatus(TailState.CAUGHT_UP, detail)
