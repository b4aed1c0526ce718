"""The log tail against moto over HTTP: named quiet states, pagination, live tail falling back
to polling."""

from __future__ import annotations

import threading

import pytest
from fixtures.moto import put_logs
from smconsole import errors
from smconsole.models.logs import TailState
from smconsole.services.logs import LogsService

GROUP = "/aws/sagemaker/Endpoints/ep"


def test_missing_then_empty_then_streaming_over_http(moto_session) -> None:
    stop = threading.Event()
    # A generator only runs when asked for its next batch, so a no-op sleep cannot spin.
    service = LogsService(moto_session, use_live_tail=False, sleep=lambda _: None)
    tail = service.tail("ep", since_ms=0, stop=stop)
    first = next(tail)
    assert first.status.state is TailState.MISSING_GROUP and not first.events
    moto_session.client("logs").create_log_group(logGroupName=GROUP)
    second = next(tail)
    assert second.status.state is TailState.EMPTY_GROUP
    put_logs(moto_session, "ep", "AllTraffic/i-1", ["INFO hello"])
    third = next(tail)
    assert [e.message for e in third.events] == ["INFO hello"]
    stop.set()


def test_without_follow_a_missing_group_is_an_error(moto_session) -> None:
    with pytest.raises(errors.NotFound):
        list(LogsService(moto_session).tail("nope", since_ms=0, follow=False))


def test_large_group_arrives_in_pages_without_duplicates(moto_session) -> None:
    put_logs(moto_session, "ep", "AllTraffic/i-1", [f"line {i}" for i in range(12_500)])
    batches = list(LogsService(moto_session).tail("ep", since_ms=0, follow=False))
    assert len(batches) >= 2
    messages = [e.message for b in batches for e in b.events]
    assert len(messages) == 12_500 and len(set(messages)) == 12_500


def test_live_tail_snapshot_server_falls_back_to_polling_without_duplicates(moto_session) -> None:
    """moto answers StartLiveTail with one snapshot and ends the stream: the tail must poll on."""
    put_logs(moto_session, "ep", "AllTraffic/i-1", ["INFO one", "INFO two"])
    calls: list[str] = []
    moto_session.client("logs").meta.events.register(
        "before-call", lambda model, **_: calls.append(model.name))
    stop = threading.Event()
    service = LogsService(moto_session, use_live_tail=True, sleep=lambda _: None)
    tail = service.tail("ep", since_ms=0, stop=stop)
    seen: list[str] = []
    while len(seen) < 2:
        seen += [e.message for e in next(tail).events]
    put_logs(moto_session, "ep", "AllTraffic/i-1", ["INFO three"])
    while len(seen) < 3:
        batch = next(tail)
        seen += [e.message for e in batch.events]
    assert "StartLiveTail" in calls  # its snapshot repeated one and two: dropped as seen
    put_logs(moto_session, "ep", "AllTraffic/i-1", ["INFO four"])
    while len(seen) < 4:
        seen += [e.message for e in next(tail).events]
    stop.set()
    assert seen == ["INFO one", "INFO two", "INFO three", "INFO four"]
    assert "FilterLogEvents" in calls
