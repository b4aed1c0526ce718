"""The log tail with botocore's Stubber (no server): de-duplication on resume, throttling,
the rate limiter, --since."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from botocore.stub import ANY, Stubber
from smconsole import errors
from smconsole.models.logs import LogEvent, TailState, parse_since
from smconsole.services.logs import LOOKBACK_MS, LogsService, RateLimiter
from smconsole.session import AwsSession

GROUP = "/aws/sagemaker/Endpoints/ep"


class _Stop(Exception):
    """Raised by the fake sleep to end a follow loop, as aws-cli's tests do."""


def _sleeper(limit: int):
    calls: list[float] = []

    def sleep(seconds: float) -> None:
        calls.append(seconds)
        if len(calls) >= limit:
            raise _Stop
    return sleep, calls


def _event(i: int, ts: int, stream: str = "AllTraffic/i-1") -> dict:
    return {"eventId": f"id{i}", "timestamp": ts, "message": f"line {i}\n",
            "logStreamName": stream, "ingestionTime": ts}


def test_resume_from_newest_timestamp_drops_events_already_shown() -> None:
    session = AwsSession(region="us-east-1", credentials=("a", "b"), endpoint_url="http://x")
    client = session.client("logs")
    sleep, _ = _sleeper(2)
    service = LogsService(session, sleep=sleep, clock=lambda: 1000.0,
                          limiter=RateLimiter(1000), use_live_tail=False)
    with Stubber(client) as stub:
        stub.add_response("filter_log_events", {"events": [_event(1, 5000), _event(2, 6000)]},
                          {"logGroupName": GROUP, "startTime": 1000, "filterPattern": "line"})
        # The next poll starts a little behind the newest event and sees event 2 again.
        stub.add_response("filter_log_events",
                          {"events": [_event(2, 6000), _event(3, 6000, "AllTraffic/i-2")]},
                          {"logGroupName": GROUP, "startTime": 6000 - LOOKBACK_MS,
                           "filterPattern": "line"})
        batches: list = []
        with pytest.raises(_Stop):
            batches.extend(service.tail("ep", since_ms=1000, filter_pattern="line", follow=True))
        stub.assert_no_pending_responses()
    events = [e for b in batches for e in b.events]
    assert [e.event_id for e in events] == ["id1", "id2", "id3"]
    assert events[0] == LogEvent(5000, "line 1", "AllTraffic/i-1", "id1")
    assert events[2].stream == "AllTraffic/i-2"


def test_history_by_stream_then_follow_by_filter_without_duplicates() -> None:
    session = AwsSession(region="us-east-1", credentials=("a", "b"), endpoint_url="http://x")
    client = session.client("logs")
    sleep, _ = _sleeper(2)
    service = LogsService(session, sleep=sleep, use_live_tail=False)
    a, b = "AllTraffic/i-a", "AllTraffic/i-b"

    def got(*events: tuple[int, str]) -> dict:
        return {"events": [{"timestamp": ts, "message": m, "ingestionTime": ts}
                           for ts, m in events]}

    with Stubber(client) as stub:
        stub.add_response("describe_log_streams", {"logStreams": [
            {"logStreamName": a}, {"logStreamName": b}]},
            {"logGroupName": GROUP, "orderBy": "LastEventTime", "descending": True, "limit": 11})
        first = {"logGroupName": GROUP, "startTime": 1000, "startFromHead": True}
        stub.add_response("get_log_events", {**got((5000, "a1"), (7000, "a2")),
                                             "nextForwardToken": "fA1"},
                          {**first, "logStreamName": a})
        stub.add_response("get_log_events", {**got((6000, "b1")), "nextForwardToken": "fB1"},
                          {**first, "logStreamName": b})
        stub.add_response("get_log_events", {**got(), "nextForwardToken": "fB1"},
                          {**first, "logStreamName": b, "nextToken": "fB1"})
        stub.add_response("get_log_events", {**got(), "nextForwardToken": "fA1"},
                          {**first, "logStreamName": a, "nextToken": "fA1"})
        stub.add_response("filter_log_events", {"events": [
            {"eventId": "x", "timestamp": 7000, "message": "a2", "logStreamName": a},
            {"eventId": "y", "timestamp": 8000, "message": "b2", "logStreamName": b}]},
            {"logGroupName": GROUP, "startTime": 7000 - LOOKBACK_MS})
        batches: list = []
        with pytest.raises(_Stop):
            batches.extend(service.tail("ep", since_ms=1000, follow=True))
        stub.assert_no_pending_responses()
    assert [e.message for b in batches for e in b.events] == ["a1", "b1", "a2", "b2"]


def test_throttling_backs_off_and_says_so() -> None:
    session = AwsSession(region="us-east-1", credentials=("a", "b"), endpoint_url="http://x",
                         max_attempts=1)
    client = session.client("logs")
    sleep, slept = _sleeper(3)
    service = LogsService(session, sleep=sleep, clock=lambda: 1000.0,
                          limiter=RateLimiter(1000), use_live_tail=False)
    with Stubber(client) as stub:
        for _ in range(2):
            stub.add_client_error("filter_log_events", "ThrottlingException", "Rate exceeded",
                                  expected_params={"logGroupName": GROUP, "startTime": ANY,
                                                   "filterPattern": "line"})
        stub.add_response("filter_log_events", {"events": [_event(1, 5000)]},
                          {"logGroupName": GROUP, "startTime": ANY, "filterPattern": "line"})
        batches: list = []
        with pytest.raises(_Stop):
            batches.extend(service.tail("ep", since_ms=1000, filter_pattern="line", follow=True))
    states = [b.status.state for b in batches]
    assert states[0] is TailState.THROTTLED
    assert slept[:2] == [2.0, 4.0]  # exponential, not a fixed hammer
    assert TailState.STREAMING in states and batches[-1].events


def test_rate_limiter_spaces_calls() -> None:
    now = [0.0]
    limiter = RateLimiter(5, clock=lambda: now[0])
    delays = [limiter.delay() for _ in range(7)]
    assert delays[:5] == [0, 0, 0, 0, 0]
    assert delays[5] == pytest.approx(0.2) and delays[6] == pytest.approx(0.4)


def test_parse_since() -> None:
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert parse_since("5m", now) == int(now.timestamp() * 1000) - 300_000
    assert parse_since("1h", now) == int(now.timestamp() * 1000) - 3_600_000
    assert parse_since("2026-11-25T11:00:00+00:00", now) == int(now.timestamp() * 1000) - 3_600_000
    with pytest.raises(errors.SmconsoleError, match="5m, 1h"):
        parse_since("yesterday", now)
