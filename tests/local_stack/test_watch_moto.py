"""The output watcher over real HTTP (moto): listing vs HEAD, SNS -> SQS, call counts.

moto's own InvokeEndpointAsync writes nowhere useful, so these tests record requests in the
ledger with the locations SageMaker would give and write the output objects themselves, as
the data plane does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fixtures.batch_files import write_batch
from fixtures.moto import make_async_endpoint
from smconsole.ledger import Ledger
from smconsole.models.requests import Status
from smconsole.services.notifications import parse_notification
from smconsole.services.watcher import OutputWatcher
from smconsole.session import AwsSession
from smconsole.specs.batch import load_batch
from smconsole.specs.common import split_s3_uri


def pending_batch(ledger: Ledger, tmp_path: Path, endpoint: dict[str, Any], name: str,
                  n: int, submitted_at: float = 1000.0) -> str:
    path = write_batch(tmp_path / name, f"endpoint: {name}\nrequests:\n  - body: {{}}\n"
                                        f"    repeat: {n}\n")
    bid = ledger.create_batch(load_batch(path)).batch_id
    for i in range(n):
        ledger.mark_submitting(bid, i)
        ledger.mark_pending(bid, i, output_location=f"{endpoint['output']}/{bid}/{i:06d}.out",
                            failure_location=f"{endpoint['failure']}/{bid}/{i:06d}.out",
                            submitted_at=submitted_at)
    return bid


def put(session: AwsSession, location: str, body: bytes = b'{"ok": true}') -> None:
    bucket, key = split_s3_uri(location)
    session.client("s3").put_object(Bucket=bucket, Key=key, Body=body)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_listing_finds_outputs_and_failures_two_calls_per_tick(
    moto_session: AwsSession, ledger: Ledger, tmp_path: Path,
) -> None:
    endpoint = make_async_endpoint(moto_session, "plain", sns=False)
    bid = pending_batch(ledger, tmp_path, endpoint, "plain", 40, submitted_at=1000.0)
    rows = ledger.requests(batch_id=bid)
    for row in rows[:25]:
        put(moto_session, row.output_location or "")
    for row in rows[25:30]:
        put(moto_session, row.failure_location or "", b'{"error": "bad"}')
    clock = Clock(1001.0)
    watcher = OutputWatcher(moto_session, ledger, clock=clock, sleep=lambda _: None)
    outcomes = watcher.poll()
    assert sorted(o.index for o in outcomes if o.status is Status.SUCCEEDED) == list(range(25))
    assert sorted(o.index for o in outcomes if o.status is Status.FAILED) == list(range(25, 30))
    # Two listings, and the start of each failure body for its reason.
    assert dict(watcher.stats.calls) == {"ListObjectsV2": 2, "GetObject": 5}
    assert ledger.request(bid, 25).error == "bad"
    listed: list[dict[str, Any]] = []
    moto_session.client("s3").meta.events.register(
        "provide-client-params.s3.ListObjectsV2", lambda params, **_: listed.append(params))
    # Nothing new: another tick costs the same two listings, never a call per request, and
    # starts after what was already collected.
    assert watcher.poll() == []
    assert watcher.stats.total == 9
    assert sorted(x.get("StartAfter", "") for x in listed) == [
        f"plain/failure/{bid}/000030.ou", f"plain/output/{bid}/000030.ou"]
    batch = ledger.batch(bid)
    assert (batch.count(Status.SUCCEEDED), batch.count(Status.FAILED),
            batch.count(Status.PENDING)) == (25, 5, 10)
    assert ledger.request(bid, 0).finished_at is not None


def test_one_stray_request_is_checked_by_head_with_back_off(
    moto_session: AwsSession, ledger: Ledger, tmp_path: Path,
) -> None:
    endpoint = make_async_endpoint(moto_session, "stray", sns=False)
    bid = pending_batch(ledger, tmp_path, endpoint, "stray", 1, submitted_at=1000.0)
    clock = Clock(1300.0)  # waiting five minutes already: not likely done on the next tick
    watcher = OutputWatcher(moto_session, ledger, clock=clock, sleep=lambda _: None)
    assert watcher.poll() == []
    assert dict(watcher.stats.calls) == {"HeadObject": 2}
    clock.now += 2  # within its back-off: no call at all
    assert watcher.poll() == []
    assert watcher.stats.total == 2
    put(moto_session, ledger.request(bid, 0).output_location or "")
    clock.now += 60
    (outcome,) = watcher.poll()
    assert outcome.status is Status.SUCCEEDED
    assert dict(watcher.stats.calls) == {"HeadObject": 3}


def test_run_until_done_with_injected_sleep(
    moto_session: AwsSession, ledger: Ledger, tmp_path: Path,
) -> None:
    endpoint = make_async_endpoint(moto_session, "loop", sns=False)
    bid = pending_batch(ledger, tmp_path, endpoint, "loop", 6, submitted_at=1000.0)
    rows = ledger.requests(batch_id=bid)
    ticks: list[float] = []
    clock = Clock(1001.0)

    def sleep(seconds: float) -> None:
        # Each tick, two more requests finish.
        ticks.append(seconds)
        clock.now += seconds
        for row in rows[2 * (len(ticks) - 1): 2 * len(ticks)]:
            put(moto_session, row.output_location or "")

    seen: list[int] = []
    watcher = OutputWatcher(moto_session, ledger, tick=2.0, sleep=sleep, clock=clock)
    watcher.run(lambda outcomes: seen.extend(o.index for o in outcomes), until_done=True)
    assert sorted(seen) == list(range(6)) and len(ticks) == 3
    assert ticks == [2.0, 2.0, 2.0]
    assert watcher.stats.calls["ListObjectsV2"] == 2 * 4


def test_sns_queue_is_created_subscribed_read_and_removed(
    moto_session: AwsSession, ledger: Ledger, tmp_path: Path,
) -> None:
    endpoint = make_async_endpoint(moto_session, "noted", sns=True)
    bid = pending_batch(ledger, tmp_path, endpoint, "noted", 3)
    rows = ledger.requests(batch_id=bid)
    put(moto_session, rows[0].output_location or "")  # finished before anyone subscribed
    watcher = OutputWatcher(moto_session, ledger, sqs_wait=1, sleep=lambda _: None)
    first = watcher.poll()
    assert [o.index for o in first] == [0]  # found by the one sweep at start
    queue = watcher.queue()
    assert queue is not None and set(queue.subscriptions) == {endpoint["success"],
                                                                 endpoint["error"]}
    sns = moto_session.client("sns")
    publish(sns, endpoint["success"], rows[1].inference_id, rows[1].output_location, True)
    publish(sns, endpoint["error"], rows[2].inference_id, rows[2].failure_location, False)
    found: list[Any] = []
    for _ in range(5):
        found += watcher.poll()
        if len(found) == 2:
            break
    assert {(o.index, o.status) for o in found} == {(1, Status.SUCCEEDED), (2, Status.FAILED)}
    assert ledger.request(bid, 2).error == "ClientError: Received client error (400)"
    assert watcher.stats.calls["ListObjectsV2"] == 2  # the start sweep only
    assert watcher.stats.calls.get("HeadObject", 0) == 0
    watcher.poll()  # nothing pending: no receive
    removed = watcher.remove_queue()
    assert removed is not None and watcher.queue() is None
    urls = moto_session.client("sqs").list_queues().get("QueueUrls", [])
    assert removed.url not in urls
    assert not [s for s in sns.list_subscriptions()["Subscriptions"]
                if s["Endpoint"] == removed.arn]


def test_a_restarted_watcher_reuses_the_queue_from_the_ledger(
    moto_session: AwsSession, ledger: Ledger, tmp_path: Path,
) -> None:
    endpoint = make_async_endpoint(moto_session, "again", sns=True)
    pending_batch(ledger, tmp_path, endpoint, "again", 1)
    OutputWatcher(moto_session, ledger, sqs_wait=0, sleep=lambda _: None).poll()
    later = OutputWatcher(moto_session, Ledger(ledger.path), sqs_wait=0, sleep=lambda _: None)
    later.poll()
    assert "CreateQueue" not in later.stats.calls and "Subscribe" not in later.stats.calls


def publish(sns: Any, topic: str, inference_id: str, location: str | None, ok: bool) -> None:
    message: dict[str, Any] = {
        "awsRegion": "us-east-1", "eventTime": "2026-11-25T10:00:00.123Z",
        "receivedTime": "2026-11-25T09:59:59.000Z",
        "invocationStatus": "Completed" if ok else "Failed",
        "requestParameters": {"endpointName": "noted"},
        "responseParameters": {"contentType": "application/json",
                               ("outputLocation" if ok else "failureLocation"): location},
        "inferenceId": inference_id, "eventVersion": "1.0", "eventSource": "aws:sagemaker",
        "eventName": "InferenceResult",
    }
    if not ok:
        message["failureReason"] = "ClientError: Received client error (400)"
    sns.publish(TopicArn=topic, Message=json.dumps(message))


@pytest.mark.parametrize("wrapped", [False, True])
def test_parse_notification_raw_and_enveloped(wrapped: bool) -> None:
    inner = {"inferenceId": "x", "invocationStatus": "Completed", "eventTime":
             "2026-11-25T10:00:00.500Z", "responseParameters": {"outputLocation": "s3://b/k"}}
    body = json.dumps({"Type": "Notification", "Message": json.dumps(inner)} if wrapped
                      else inner)
    note = parse_notification(body)
    assert note is not None and note.status is Status.SUCCEEDED
    assert note.location == "s3://b/k" and note.finished_at % 1 == 0.5
    assert parse_notification("not json") is None
    assert parse_notification('{"Type": "SubscriptionConfirmation"}') is None


def test_fetch_reads_a_body_only_when_asked(moto_session: AwsSession, ledger: Ledger) -> None:
    moto_session.client("s3").create_bucket(Bucket="bodies")
    put(moto_session, "s3://bodies/a.out", b"x" * 100)
    put(moto_session, "s3://bodies/empty.out", b"")
    watcher = OutputWatcher(moto_session, ledger)
    part = watcher.fetch("s3://bodies/a.out", limit=10)
    assert part.data == b"x" * 10 and part.truncated
    assert watcher.fetch("s3://bodies/a.out", limit=0).data == b"x" * 100
    assert watcher.fetch("s3://bodies/empty.out").data == b""


def test_a_read_only_watcher_lists_s3_instead_of_making_a_queue(
    moto_session: AwsSession, moto_url: str, ledger: Ledger, tmp_path: Path,
) -> None:
    from smconsole import errors

    endpoint = make_async_endpoint(moto_session, "readonly", sns=True)
    bid = pending_batch(ledger, tmp_path, endpoint, "readonly", 2, submitted_at=1000.0)
    put(moto_session, ledger.request(bid, 0).output_location or "")
    session = AwsSession.local(moto_url, read_only=True)
    watcher = OutputWatcher(session, ledger, clock=Clock(1001.0), sleep=lambda _: None)
    (outcome,) = watcher.poll()
    assert outcome.index == 0 and outcome.status is Status.SUCCEEDED
    assert "CreateQueue" not in watcher.stats.calls and watcher.queue() is None
    assert moto_session.client("sqs").list_queues().get("QueueUrls", []) == []
    with pytest.raises(errors.ReadOnlyRefused, match="--mode s3"):
        OutputWatcher(session, ledger, mode="sns").poll()
