"""Issue 10, faults: the daemon always starts, and one fault costs at most the request it hit
(points 6-10), plus CreationTime kept through a restart."""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import time
from pathlib import Path

import httpx
import pytest
from fixtures.local_stack import (
    ROLE_ARN,
    LocalStack,
    deploy_async_endpoint,
    receive_notes,
    result_of,
    start_stack,
    subscribe_queue,
    unique,
    wait_for,
)

pytestmark = pytest.mark.local_stack


def _notes(session, queue_url: str, seen: dict[str, dict]) -> dict[str, dict]:
    for note in receive_notes(session, queue_url):
        if "inferenceId" in note:
            seen[note["inferenceId"]] = note
    return seen


def _status(url: str, endpoint: str) -> dict:
    state = httpx.get(f"{url}/_smconsole/status", timeout=5).json()
    return next(e for e in state["endpoints"] if e["name"] == endpoint)


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


def test_damaged_state_files_are_skipped_and_the_daemon_starts(tmp_path: Path) -> None:
    """Point 6: torn and garbage journal lines, a missing blob, bad instances.pids,
    scaling-activities.json, desired.json and a pending request: one line each, rest kept."""
    state = tmp_path / "state"
    stack = start_stack(state)
    try:
        s3 = stack.client("s3")
        s3.create_bucket(Bucket="survivor")
        s3.put_object(Bucket="survivor", Key="before.txt", Body=b"kept")
        s3.put_object(Bucket="survivor", Key="big.bin", Body=os.urandom(70 * 1024))  # a blob
        stack.client("sns").create_topic(Name="survivor-topic")
    finally:
        stack.stop()
    journal = state / "journal" / "journal.jsonl"
    lines = journal.read_text().splitlines()
    blob_line = next(n for n, line in enumerate(lines) if '"blob"' in line)
    (state / "journal" / "blobs" / json.loads(lines[blob_line])["blob"]).unlink()
    lines.insert(1, "this is not json at all")
    journal.write_text("\n".join(lines) + "\n" + '{"kind": "http", "environ": {"REQU')  # torn
    (state / "instances.pids").write_text("12ab\n-4\n\n")
    (state / "scaling-activities.json").write_text('[{"ActivityId": "torn')
    (state / "desired.json").write_text('["not", "a", "map"]')
    pending = state / "pending" / "us-east-1" / "gone-endpoint"
    pending.mkdir(parents=True)
    (pending / "00000000000000000001-deadbeef.json").write_text('{"inference_id": 7}')

    again = start_stack(state)
    try:
        said = "\n".join(again.output)
        assert "journal.jsonl:2: skipped: not a journal record" in said, said
        assert f"journal.jsonl:{len(lines) + 1}: skipped: truncated record" in said, said
        assert f"journal.jsonl:{blob_line + 2}: skipped: missing blob" in said, said
        assert "instances.pids:1: skipped: not a pid" in said
        assert "instances.pids:2: skipped: not a pid" in said
        assert "scaling-activities.json: skipped: unreadable" in said
        assert "desired.json: skipped: unreadable" in said
        assert "Traceback" not in said
        session = again.session()
        got = session.client("s3").get_object(Bucket="survivor", Key="before.txt")
        assert got["Body"].read() == b"kept"
        topics = [t["TopicArn"] for t in session.client("sns").list_topics()["Topics"]]
        assert any(t.endswith(":survivor-topic") for t in topics)
        activities = session.client("application-autoscaling").describe_scaling_activities(
            ServiceNamespace="sagemaker")["ScalingActivities"]
        assert activities == []
        session.client("s3").put_object(Bucket="survivor", Key="after.txt", Body=b"new")
    finally:
        again.stop()
    assert (state / "journal" / "damaged.jsonl").is_file()  # quarantined, not lost
    assert (state / "scaling-activities.json.damaged").is_file()

    third = start_stack(state)  # the damage was dealt with once: a clean start now
    try:
        said = "\n".join(third.output)
        assert "skipped" not in said and "(0 refused)" in said, said
        s3 = third.client("s3")
        assert s3.get_object(Bucket="survivor", Key="after.txt")["Body"].read() == b"new"
    finally:
        third.stop()


def test_an_instance_that_dies_costs_only_what_it_was_running(local_stack: LocalStack,
                                                              summarizer) -> None:
    """Point 7: SIGKILL the instance mid-request: only that request fails (SageMaker-like
    reason, failure path and ErrorTopic); every queued one runs on the replacement."""
    session = local_stack.session()
    info = deploy_async_endpoint(session, unique("dies"), model=summarizer, max_concurrency=1)
    notes_queue = subscribe_queue(session, [info["success_topic"], info["error_topic"]], "faults")
    runtime, s3 = session.client("sagemaker-runtime"), session.client("s3")
    body = {"min_length": 120, "max_length": 130}
    sent = [runtime.invoke_endpoint_async(
        EndpointName=info["endpoint"], ContentType="application/json",
        Body=json.dumps({**body, "text": f"request number {n}"}).encode()) for n in range(8)]

    def busy() -> dict | None:
        state = _status(local_stack.url, info["endpoint"])
        (instance,) = state["variants"][0]["instances"]
        return instance if instance["in_flight"] == 1 and state["queued"] >= 3 else None

    victim = wait_for(busy, 60, interval_s=0.05)
    os.kill(victim["pid"], signal.SIGKILL)
    outcomes = wait_for(lambda: (o := [result_of(s3, r) for r in sent]) and all(o) and o, 240)
    failed = [(r, body) for r, (kind, body) in zip(sent, outcomes, strict=True)
              if kind == "failure"]
    assert len(failed) <= 1, [b for _, b in failed]  # at most the one in flight
    assert sum(kind == "output" for kind, _ in outcomes) >= len(sent) - 1
    state = _status(local_stack.url, info["endpoint"])
    assert [i["pid"] for i in state["variants"][0]["instances"]] != [victim["pid"]]
    notes: dict[str, dict] = {}
    wait_for(lambda: len(_notes(session, notes_queue, notes)) >= len(sent), 60)
    for request, error in failed:
        reason = json.loads(error)["error"]
        assert "ServiceUnavailable" in reason and "stopped" in reason, reason
        assert notes[request["InferenceId"]]["invocationStatus"] == "Failed"
        assert notes[request["InferenceId"]]["failureReason"] == reason
    session.client("sagemaker").delete_endpoint(EndpointName=info["endpoint"])


def test_instances_die_with_the_daemon(tmp_path: Path, summarizer) -> None:
    """Point 8: SIGKILL the daemon: its instances end too, without waiting for a restart;
    what it had accepted is answered after the restart (none lost)."""
    state = tmp_path / "state"
    stack = start_stack(state)
    pids: list[int] = []
    try:
        info = deploy_async_endpoint(stack.session(), "orphan-check", model=summarizer,
                                     sns=False, instance_count=2, max_concurrency=1)
        status = _status(stack.url, info["endpoint"])
        pids = [i["pid"] for i in status["variants"][0]["instances"]]
        assert len(pids) == 2 and not any(_gone(p) for p in pids)
        runtime = stack.client("sagemaker-runtime")
        sent = [runtime.invoke_endpoint_async(
            EndpointName=info["endpoint"], ContentType="application/json",
            Body=json.dumps({"text": f"accepted {n}", "min_length": 120,
                             "max_length": 130}).encode()) for n in range(12)]
        os.kill(stack.process.pid, signal.SIGKILL)
        stack.process.wait(10)
        wait_for(lambda: all(_gone(p) for p in pids), 15)
    finally:
        for pid in pids:  # the old behaviour leaves them running: end them here
            if not _gone(pid):
                os.killpg(pid, signal.SIGKILL)
        stack.stop()
    again = start_stack(state)
    try:
        s3 = again.client("s3")
        outcomes = wait_for(lambda: (o := [result_of(s3, r) for r in sent]) and all(o) and o,
                            240)
        assert [kind for kind, _ in outcomes] == ["output"] * len(sent)
    finally:
        again.stop()


def test_an_answer_that_cannot_be_written_is_recorded_and_forgotten(
        local_stack: LocalStack, tiny_classifier) -> None:
    """Point 9: the output bucket deleted: ErrorTopic and a daemon log line say so, and the
    request is off the disk (not re-run at every start)."""
    session = local_stack.session()
    bucket = unique("doomed")
    info = deploy_async_endpoint(session, unique("no-bucket"), model=tiny_classifier,
                                 bucket=bucket)
    notes_queue = subscribe_queue(session, [info["error_topic"]], "faults")
    s3 = session.client("s3")
    for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        s3.delete_object(Bucket=bucket, Key=item["Key"])
    s3.delete_bucket(Bucket=bucket)
    sent = session.client("sagemaker-runtime").invoke_endpoint_async(
        EndpointName=info["endpoint"], ContentType="application/json",
        Body=b'{"inputs": "where does this go"}')
    notes: dict[str, dict] = {}
    note = wait_for(lambda: _notes(session, notes_queue, notes).get(sent["InferenceId"]), 120)
    assert note["invocationStatus"] == "Failed"
    assert "NoSuchBucket" in note["failureReason"]
    assert note["responseParameters"]["failureLocation"] == sent["FailureLocation"]
    assert any(sent["InferenceId"] in line and "NoSuchBucket" in line
               for line in local_stack.output)
    pending = local_stack.state_dir / "pending" / "us-east-1" / info["endpoint"]
    wait_for(lambda: not list(pending.glob("*.json")), 10)
    assert not any("Traceback" in line for line in local_stack.output[-40:])
    session.client("sagemaker").delete_endpoint(EndpointName=info["endpoint"])


def _png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_instances_read_s3_inputs_from_the_stack(local_stack: LocalStack,
                                                 image_classifier) -> None:
    """Point 10: an s3:// image input is read from the local stack, as on SageMaker with the
    endpoint's role; the same image inline gives the same answer."""
    session = local_stack.session()
    info = deploy_async_endpoint(session, unique("s3-image"), model=image_classifier,
                                 sns=False, environment={"HF_TASK": "image-classification"})
    s3 = session.client("s3")
    image = _png()
    s3.put_object(Bucket=info["bucket"], Key=f"{info['endpoint']}/red.png", Body=image)
    runtime = session.client("sagemaker-runtime")
    by_uri, inline = (runtime.invoke_endpoint_async(
        EndpointName=info["endpoint"], ContentType="application/json",
        Body=json.dumps({"inputs": [value]}).encode())
        for value in (f"s3://{info['bucket']}/{info['endpoint']}/red.png",
                      base64.b64encode(image).decode()))
    outcome = wait_for(lambda: result_of(s3, by_uri), 120)
    assert outcome[0] == "output", outcome[1]
    expected = wait_for(lambda: result_of(s3, inline), 60)
    assert json.loads(outcome[1]) == json.loads(expected[1])
    (instance,) = _status(local_stack.url, info["endpoint"])["variants"][0]["instances"]
    environ = Path(f"/proc/{instance['pid']}/environ").read_bytes().split(b"\0")
    assert f"AWS_ENDPOINT_URL={local_stack.url}".encode() in environ
    session.client("sagemaker").delete_endpoint(EndpointName=info["endpoint"])


def test_creation_time_survives_a_restart(tmp_path: Path) -> None:
    """Newcomer issue: CreationTime of models, configs and endpoints is the first one."""
    state = tmp_path / "state"
    stack = start_stack(state)
    try:
        sm = stack.client("sagemaker")
        sm.create_model(ModelName="timed", ExecutionRoleArn=ROLE_ARN,
                        PrimaryContainer={"Image": "local"})
        sm.create_endpoint_config(EndpointConfigName="timed", ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": "timed", "InstanceType": "ml.m5.large",
            "InitialInstanceCount": 1}])
        sm.create_endpoint(EndpointName="timed", EndpointConfigName="timed")
        before = (sm.describe_model(ModelName="timed")["CreationTime"],
                  sm.describe_endpoint_config(EndpointConfigName="timed")["CreationTime"],
                  sm.describe_endpoint(EndpointName="timed")["CreationTime"])
    finally:
        stack.stop()
    time.sleep(2.0)  # CreationTime has one-second resolution on the wire
    again = start_stack(state)
    try:
        sm = again.client("sagemaker")
        after = (sm.describe_model(ModelName="timed")["CreationTime"],
                 sm.describe_endpoint_config(EndpointConfigName="timed")["CreationTime"],
                 sm.describe_endpoint(EndpointName="timed")["CreationTime"])
        listed = {e["EndpointName"]: e["CreationTime"]
                  for e in sm.list_endpoints()["Endpoints"]}
        assert after == before
        assert listed["timed"] == before[2]
    finally:
        again.stop()
