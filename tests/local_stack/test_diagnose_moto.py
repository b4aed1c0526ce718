"""Timeline, replay and doctor against a real moto server over HTTP (control plane only).

What needs no running instance: data-log parsing, expired logs, a 6,000-request batch's replay
(the ledger part, invocations answered by moto), the startup-timeout finding from log lines.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import pytest
from smconsole.ledger import Ledger
from smconsole.models.requests import Status
from smconsole.services.doctor import DoctorService, spec_fields
from smconsole.services.requests import AlreadyResent, RequestService
from smconsole.services.timeline import TimelineService
from smconsole.session import AwsSession

ROLE = "arn:aws:iam::123456789012:role/smconsole-tests"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/smconsole:latest"


def make_endpoint(session: AwsSession, name: str, *, startup_timeout: int | None = None,
                  bucket: str = "out") -> None:
    sm, s3 = session.client("sagemaker"), session.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="model.tar.gz", Body=b"x")
    sm.create_model(ModelName=f"{name}-m", ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": IMAGE, "ModelDataSource": {"S3DataSource": {
            "S3Uri": f"s3://{bucket}/model.tar.gz", "S3DataType": "S3Object",
            "CompressionType": "Gzip"}}})
    variant: dict[str, Any] = {"VariantName": "AllTraffic", "ModelName": f"{name}-m",
                               "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
    if startup_timeout:
        variant["ContainerStartupHealthCheckTimeoutInSeconds"] = startup_timeout
    sns = session.client("sns")
    topics = {k: sns.create_topic(Name=f"{name}-{k}")["TopicArn"] for k in ("ok", "err")}
    sm.create_endpoint_config(EndpointConfigName=f"{name}-c", ProductionVariants=[variant],
                              AsyncInferenceConfig={"OutputConfig": {
                                  "S3OutputPath": f"s3://{bucket}/{name}/output",
                                  "S3FailurePath": f"s3://{bucket}/{name}/failure",
                                  "NotificationConfig": {"SuccessTopic": topics["ok"],
                                                         "ErrorTopic": topics["err"]}}})
    sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-c")


def put_lines(session: AwsSession, endpoint: str, stream: str,
              lines: list[tuple[float, str]], retention: int | None = None) -> None:
    logs = session.client("logs")
    group = f"/aws/sagemaker/Endpoints/{endpoint}"
    try:
        logs.create_log_group(logGroupName=group)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    if retention:
        logs.put_retention_policy(logGroupName=group, retentionInDays=retention)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[
        {"timestamp": int(t * 1000), "message": m} for t, m in lines])


def batch_of(ledger: Ledger, tmp_path: Path, endpoint: str, count: int) -> str:
    path = tmp_path / f"b{count}.yaml"
    path.write_text(f"endpoint: {endpoint}\nrequests:\n"
                    f"  - body: {{inputs: 'request {{{{i}}}}'}}\n    repeat: {count}\n")
    return ledger.create_batch(RequestService.plan(path)).batch_id


def as_sent(ledger: Ledger, batch_id: str, at: float) -> None:
    """Mark every queued request as accepted (what a submitter writes after each 202)."""
    for item in ledger.unsent(batch_id):
        ledger.mark_submitting(batch_id, item.index)
        ledger.mark_pending(batch_id, item.index, output_location=f"s3://out/{item.index}.out",
                            failure_location=f"s3://out/{item.index}-error.out",
                            submitted_at=at)


# ---- parsing --------------------------------------------------------------------------------


# ---- the timeline from data-log lines, and expired logs ------------------------------------

def test_data_log_lines_give_queued_started_finished_backlog_and_instance(
    moto_session: AwsSession, ledger: Ledger, tmp_path: Path,
) -> None:
    make_endpoint(moto_session, "tl")
    batch_id = batch_of(ledger, tmp_path, "tl", 1)
    sent = time.time() - 30
    as_sent(ledger, batch_id, sent)
    [request] = ledger.requests(batch_id=batch_id)
    rid = request.inference_id
    ledger.mark_finished(batch_id, 0, Status.SUCCEEDED, location=request.output_location,
                         finished_at=sent + 2.0, detected_at=sent + 2.5)
    put_lines(moto_session, "tl", "AllTraffic/i-0abc/data-log", [
        (sent - 0.05, json.dumps({"inferenceId": rid, "eventName": "RequestQueued"})),
        (sent + 0.7, json.dumps({"inferenceId": rid, "eventName": "RequestStarted"})),
        (sent + 1.9, json.dumps({"inferenceId": rid, "eventName": "RequestCompleted"})),
    ])
    put_lines(moto_session, "tl", "AllTraffic/i-0abc", [
        (sent + 1.85, (f'127.0.0.1:1 - "POST /invocations HTTP/1.1" 200 1150.0ms '
                      f'inference-id={rid}')),
        (sent + 1.86, (f'127.0.0.1:1 - "POST /invocations HTTP/1.1" 200 3.0ms '
                      f'inference-id={rid}0')),  # another id it is a prefix of
    ])
    timeline = TimelineService(moto_session, ledger).timeline(rid)
    by_name = {s.name: s for s in timeline.steps}
    assert by_name["queued"].source == "logs AllTraffic/i-0abc/data-log"
    assert by_name["accepted"].at == pytest.approx(sent - 0.05)  # the platform's own time
    assert by_name["started"].at == pytest.approx(sent + 0.7)
    assert by_name["finished"].at == pytest.approx(sent + 1.9)
    assert [s.name for s in timeline.steps].count("container") == 1
    assert timeline.span("backlog").seconds == pytest.approx(0.75, abs=0.01)
    assert timeline.span("processing").seconds == pytest.approx(1.2, abs=0.01)
    assert timeline.instance == "AllTraffic/i-0abc"
    # The S3 object is gone and no message was recorded: both say why.
    assert "no object at" in by_name["written"].missing
    assert "no message recorded" in by_name["notified"].missing
    assert timeline.log_calls == 1


def test_logs_older_than_the_groups_retention_are_reported_expired(
    moto_session: AwsSession, ledger: Ledger, tmp_path: Path,
) -> None:
    make_endpoint(moto_session, "old")
    batch_id = batch_of(ledger, tmp_path, "old", 1)
    sent = time.time() - 3 * 86400
    as_sent(ledger, batch_id, sent)
    put_lines(moto_session, "old", "AllTraffic/i-1", [(time.time(), "unrelated")], retention=1)
    [request] = ledger.requests(batch_id=batch_id)
    timeline = TimelineService(moto_session, ledger).timeline(request.inference_id)
    assert "the logs expired" in timeline.step("started").missing
    assert "keeps 1 days" in timeline.step("container").missing
    assert timeline.instance is None and "unknown" in timeline.instance_missing


# ---- replay of a 6,000-request batch --------------------------------------------------------

@pytest.mark.slow
def test_replay_of_a_6000_request_batch_sends_exactly_the_failed_ones_once(
    moto_session: AwsSession, ledger: Ledger, tmp_path: Path,
) -> None:
    make_endpoint(moto_session, "big")
    batch_id = batch_of(ledger, tmp_path, "big", 6000)
    as_sent(ledger, batch_id, time.time())
    failed = set(random.Random(7).sample(range(6000), 137))
    for index in range(6000):
        status = Status.FAILED if index in failed else Status.SUCCEEDED
        ledger.mark_finished(batch_id, index, status, location=None, finished_at=time.time(),
                             detected_at=time.time())
    sent: list[str] = []
    runtime = moto_session.client("sagemaker-runtime")
    runtime.meta.events.register(
        "before-call.sagemaker-runtime.InvokeEndpointAsync",
        lambda params, **_: sent.append(params["headers"]["X-Amzn-SageMaker-Inference-Id"]))
    service = RequestService(moto_session, ledger)

    result = service.resubmit_failed(batch_id)
    assert result is not None and result.sent == 137 and result.batch.total == 137
    copies = ledger.copies_of(batch_id)
    assert set(copies) == failed and all(len(c) == 1 for c in copies.values())
    assert sorted(sent) == sorted(f"{result.batch.batch_id}-{n:06d}" for n in range(137))
    assert len(set(sent)) == 137  # each once

    with pytest.raises(AlreadyResent):
        service.resubmit_failed(batch_id)
    assert len(sent) == 137
    # A failure seen later (the watcher was behind) is sent on its own; nothing else again.
    late = next(i for i in range(6000) if i not in failed)
    ledger._db.execute("UPDATE requests SET status = 'failed' WHERE batch_id = ? AND idx = ?",
                       (batch_id, late))
    again = service.resubmit_failed(batch_id)
    assert again is not None and again.sent == 1
    assert ledger.copies_of(batch_id)[late] == [(again.batch.batch_id, 0)]
    assert len(sent) == 138


# ---- doctor: the startup timeout against the load time the logs show ------------------------

def test_a_startup_timeout_below_the_model_load_time_is_an_error_with_a_deploy_fix(
    moto_session: AwsSession, ledger: Ledger,
) -> None:
    make_endpoint(moto_session, "slowload", startup_timeout=60)
    start = time.time() + 1  # the instance starts after its config exists
    put_lines(moto_session, "slowload", "AllTraffic/i-9", [
        (start, "2026-12-01 10:00:00,000 INFO container: listening on http://0.0.0.0:8080"),
        (start + 95, ("2026-12-01 10:01:35,000 INFO container.server: ready: "
                     "task=summarization consumers=1 max_batch_size=8 max_batch_wait_ms=5 "
                     "max_queue_size=1024")),
    ])
    doctor = DoctorService(moto_session, ledger=ledger)
    health = doctor.check("slowload")
    finding = health.finding("startup-timeout-below-load")
    assert finding is not None and finding.severity == "error", health
    assert dict(finding.facts)["load_seconds"] == "95.0"
    assert health.mark == "✖"
    assert finding.fix.kind == "deploy" and "190" in finding.fix.summary
    # The list's quick check reads no logs: the finding needs them, so it is listed as skipped.
    quick = doctor.check("slowload", quick=True)
    assert quick.finding("startup-timeout-below-load") is None
    assert any("quick check" in skipped for skipped in quick.skipped)
    # The deploy spec the fix goes through re-creates what is deployed.
    sm = moto_session.client("sagemaker")
    fields = spec_fields("slowload", sm.describe_model(ModelName="slowload-m"),
                         sm.describe_endpoint_config(EndpointConfigName="slowload-c"))
    assert fields["variant"]["container_startup_health_check_timeout"] == 60
    assert fields["async"]["failure_path"] == "s3://out/slowload/failure"
    plan = doctor.plan_fix(finding)
    assert "~ variant.container_startup_health_check_timeout: 60 -> 190" in plan.diff


def test_a_request_run_twice_shows_the_run_that_wrote_its_result(
    moto_session: AwsSession, ledger: Ledger, tmp_path: Path,
) -> None:
    make_endpoint(moto_session, "twice")
    batch_id = batch_of(ledger, tmp_path, "twice", 1)
    sent = time.time() - 300
    as_sent(ledger, batch_id, sent)
    [request] = ledger.requests(batch_id=batch_id)
    rid = request.inference_id
    put_lines(moto_session, "twice", "AllTraffic/i-1/data-log", [
        (sent + 0.1, f"queued inference_id={rid}"),
        (sent + 0.2, f"started inference_id={rid} waited_ms=100"),
        (sent + 0.3, f"finished inference_id={rid} processing_ms=100"),  # lost in a restart
        (sent + 100.0, f"started inference_id={rid} waited_ms=99900"),
        (sent + 100.5, f"finished inference_id={rid} processing_ms=500"),
    ])
    timeline = TimelineService(moto_session, ledger).timeline(rid)
    assert timeline.step("queued").at == pytest.approx(sent + 0.1)
    assert timeline.step("started").at == pytest.approx(sent + 100.0)
    assert timeline.span("processing").seconds == pytest.approx(0.5)
    assert timeline.span("backlog").seconds == pytest.approx(99.9)


def test_an_inference_id_given_again_in_a_later_batch_shows_that_requests_own_lines(
    moto_session: AwsSession, ledger: Ledger, tmp_path: Path,
) -> None:
    # configs/requests-demo.yaml names one request `demo-named-request`: sending the file
    # again (y in the console, --again here) makes a second request with the same id.
    make_endpoint(moto_session, "again")
    path = tmp_path / "named.yaml"
    path.write_text("endpoint: again\nrequests:\n  - body: {inputs: x}\n    inference_id: same\n")
    first_sent, second_sent = time.time() - 900, time.time() - 300
    first = ledger.create_batch(RequestService.plan(path)).batch_id
    as_sent(ledger, first, first_sent)
    second = ledger.create_batch(RequestService.plan(path)).batch_id
    ledger.mark_submitting(second, 0)  # its own output path, as every batch has
    ledger.mark_pending(second, 0, output_location=f"s3://out/{second}.out",
                        failure_location=f"s3://out/{second}-error.out", submitted_at=second_sent)
    for sent, instance in ((first_sent, "i-first"), (second_sent, "i-second")):
        put_lines(moto_session, "again", f"AllTraffic/{instance}/data-log", [
            (sent + 0.1, "queued inference_id=same"),
            (sent + 0.2, "started inference_id=same waited_ms=100"),
            (sent + 0.3, "finished inference_id=same processing_ms=100"),
        ])
    # The watcher read the second one's SNS message (the first one's was found in S3).
    ledger.record_notification("same", json.dumps({
        "inferenceId": "same", "invocationStatus": "Completed",
        "responseParameters": {"outputLocation": f"s3://out/{second}.out"}}))
    service = TimelineService(moto_session, ledger)
    earlier = service.timeline(ledger.request(first, 0))
    assert earlier.instance == "AllTraffic/i-first"
    assert earlier.notification is None and earlier.step("notified").at is None
    later = service.timeline(ledger.request(second, 0))
    assert later.notification is not None
    assert later.instance == "AllTraffic/i-second"
    assert later.step("queued").at == pytest.approx(second_sent + 0.1)
