"""StartLiveTail as a stream on the daemon: plain boto3, then the console's own tail path."""

from __future__ import annotations

import queue
import threading
import time

import boto3
import botocore.config
import pytest
from fixtures.local_stack import unique
from smconsole.models.logs import log_group_for
from smconsole.services.logs import LogsService

pytestmark = pytest.mark.local_stack


def _logs_client(url: str, **config: object) -> object:
    return boto3.client("logs", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="local", aws_secret_access_key="local",
                        config=botocore.config.Config(**config))


def _put(logs, group: str, stream: str, *messages: str) -> None:
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[
        {"timestamp": now, "message": m} for m in messages])


def _group(logs, *streams: str) -> tuple[str, str]:
    group = f"/test/{unique('tail')}"
    logs.create_log_group(logGroupName=group)
    for stream in streams:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    arn = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["logGroupArn"]
    return group, arn.removesuffix(":*")


def _reader(stream) -> queue.Queue:
    """Events from a live tail stream, each with the time it arrived, on a queue."""
    found: queue.Queue = queue.Queue()

    def read() -> None:
        try:
            for event in stream:
                found.put((time.monotonic(), event))
        except Exception as exc:  # noqa: BLE001 - the test sees it on the queue
            found.put((time.monotonic(), {"error": exc}))
        found.put((time.monotonic(), None))

    threading.Thread(target=read, daemon=True).start()
    return found


def test_boto3_live_tail_streams_new_lines_with_filter_and_streams(local_stack,
                                                                   monkeypatch) -> None:
    # botocore prefixes StartLiveTail's host with `stream-`: a loopback URL needs it off,
    # by Config(inject_host_prefix=False) or, unmodified, AWS_DISABLE_HOST_PREFIX_INJECTION.
    monkeypatch.setenv("AWS_DISABLE_HOST_PREFIX_INJECTION", "true")
    logs = _logs_client(local_stack.url)
    group, arn = _group(logs, "AllTraffic/i-1", "AllTraffic/i-2")
    _put(logs, group, "AllTraffic/i-1", "ERROR before the session")
    answer = logs.start_live_tail(logGroupIdentifiers=[arn], logStreamNames=["AllTraffic/i-1"],
                                  logEventFilterPattern="ERROR")
    events = _reader(answer["responseStream"])
    _, first = events.get(timeout=5)
    assert first["sessionStart"]["logGroupIdentifiers"] == [arn]
    assert first["sessionStart"]["logEventFilterPattern"] == "ERROR"
    written = time.monotonic()
    _put(logs, group, "AllTraffic/i-2", "ERROR on the other stream")
    _put(logs, group, "AllTraffic/i-1", "INFO not matching", "ERROR after it started")
    seen: list[dict] = []
    updates = 0
    while not seen:
        arrived, event = events.get(timeout=5)
        assert event is not None and "sessionUpdate" in event, event
        updates += 1
        seen = event["sessionUpdate"]["sessionResults"]
        assert arrived - written < 3.0, "a new line must arrive within 3 s"
    assert [r["message"] for r in seen] == ["ERROR after it started"]
    assert seen[0]["logStreamName"] == "AllTraffic/i-1"
    assert seen[0]["logGroupIdentifier"] == arn
    # The session goes on: heartbeat updates about once a second, until the client closes.
    before = time.monotonic()
    arrived, event = events.get(timeout=5)
    assert "sessionUpdate" in event and event["sessionUpdate"]["sessionResults"] == []
    assert arrived - before < 2.5
    answer["responseStream"].close()


def test_live_tail_samples_above_500_a_second(local_stack) -> None:
    logs = _logs_client(local_stack.url, inject_host_prefix=False)
    group, arn = _group(logs, "s")
    answer = logs.start_live_tail(logGroupIdentifiers=[arn])
    events = _reader(answer["responseStream"])
    events.get(timeout=5)  # sessionStart
    _put(logs, group, "s", *[f"line {n}" for n in range(1200)])
    while True:
        _, event = events.get(timeout=5)
        update = event["sessionUpdate"]
        if update["sessionResults"]:
            break
    assert len(update["sessionResults"]) == 500
    assert update["sessionMetadata"]["sampled"] is True
    answer["responseStream"].close()


def test_live_tail_refuses_an_unknown_group(local_stack) -> None:
    logs = _logs_client(local_stack.url, inject_host_prefix=False)
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.start_live_tail(logGroupIdentifiers=[
            "arn:aws:logs:us-east-1:123456789012:log-group:/nope"])


def test_console_tail_follows_the_local_stack_with_live_tail(local_stack) -> None:
    session = local_stack.session()
    logs = session.client("logs")
    endpoint = unique("tailed")
    group = log_group_for(endpoint)
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="AllTraffic/i-1")
    _put(logs, group, "AllTraffic/i-1", "history line")
    stop = threading.Event()
    batches: queue.Queue = queue.Queue()

    def follow() -> None:
        for batch in LogsService(session).tail(endpoint, since_ms=0, stop=stop):
            batches.put((time.monotonic(), batch))

    threading.Thread(target=follow, daemon=True).start()
    try:
        messages: list[str] = []
        live = False
        deadline = time.monotonic() + 20
        while not live:  # history first (a poll), then the live session says so
            _, batch = batches.get(timeout=max(0.1, deadline - time.monotonic()))
            messages += [e.message for e in batch.events]
            live = batch.status.via == "live" and batch.status.state.value == "streaming"
        assert messages == ["history line"]
        written = time.monotonic()
        _put(logs, group, "AllTraffic/i-1", "written while following")
        while True:
            arrived, batch = batches.get(timeout=5)
            if batch.events:
                break
        assert [e.message for e in batch.events] == ["written while following"]
        assert batch.status.via == "live"
        assert arrived - written < 3.0
    finally:
        stop.set()
