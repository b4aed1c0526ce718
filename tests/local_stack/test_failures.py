"""What goes wrong, goes where SageMaker puts it: failure path, error topic, Failed status."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest
from fixtures.local_stack import (
    ROLE_ARN,
    deploy_async_endpoint,
    read_object,
    receive_notes,
    result_of,
    subscribe_queue,
    unique,
    upload_broken_model,
    wait_for,
)

pytestmark = pytest.mark.local_stack


def _outcome(s3, response: dict, timeout_s: float = 120) -> tuple[str, bytes]:
    """Wait for the output or the failure: ("output"|"failure", body)."""
    return wait_for(lambda: result_of(s3, response), timeout_s)


@pytest.fixture(scope="module")
def summarizer_endpoint(local_stack, failing_summarizer):
    """One instance of the tiny summarizer that fails (500) on long inputs; max 1 at a time."""
    session = local_stack.session()
    info = deploy_async_endpoint(session, unique("failing"), model=failing_summarizer,
                                 max_concurrency=1)
    info["queue"] = subscribe_queue(session, [info["success_topic"], info["error_topic"]], "notes")
    yield info
    session.client("sagemaker").delete_endpoint(EndpointName=info["endpoint"])


def test_model_error_lands_in_failure_path_and_error_topic(
        local_stack, summarizer_endpoint, failing_text) -> None:
    session = local_stack.session()
    s3, runtime = session.client("s3"), session.client("sagemaker-runtime")
    ok = runtime.invoke_endpoint_async(
        EndpointName=summarizer_endpoint["endpoint"], ContentType="application/json",
        Body=json.dumps({"text": "the model reads a short text", "max_length": 8}).encode())
    bad = runtime.invoke_endpoint_async(
        EndpointName=summarizer_endpoint["endpoint"], ContentType="application/json",
        Body=json.dumps({"text": failing_text}).encode(), InferenceId="too-long-1")
    assert bad["InferenceId"] == "too-long-1"
    assert bad["FailureLocation"] == f"{summarizer_endpoint['failure_path']}/too-long-1-error.out"
    error_body = json.loads(wait_for(lambda: read_object(s3, bad["FailureLocation"]), 120))
    assert "error" in json.dumps(error_body).lower()
    assert read_object(s3, bad["OutputLocation"]) is None
    assert _outcome(s3, ok)[0] == "output"
    assert "summary" in json.loads(read_object(s3, ok["OutputLocation"]))

    notes: dict[str, dict] = {}

    def both() -> bool:
        for note in receive_notes(session, summarizer_endpoint["queue"]):
            notes[note["inferenceId"]] = note
        return {"too-long-1", ok["InferenceId"]} <= notes.keys()

    wait_for(both, 120)
    failed = notes["too-long-1"]
    assert failed["invocationStatus"] == "Failed"
    assert failed["responseParameters"]["failureLocation"] == bad["FailureLocation"]
    assert "(500)" in failed["failureReason"]
    assert json.loads(base64.b64decode(failed["responseBody"]["content"])) == error_body
    assert notes[ok["InferenceId"]]["invocationStatus"] == "Completed"


def test_output_naming_and_invocation_timeout(local_stack, summarizer) -> None:
    session = local_stack.session()
    info = deploy_async_endpoint(session, unique("slow"), model=summarizer, sns=False)
    s3, runtime = session.client("s3"), session.client("sagemaker-runtime")
    named = runtime.invoke_endpoint_async(
        EndpointName=info["endpoint"], ContentType="application/json",
        Body=b'{"text": "name the output", "max_length": 8}',
        S3OutputPathExtension="batch-7", Filename="first.json")
    assert named["OutputLocation"] == f"{info['output_path']}/batch-7/first.json"
    kind, body = _outcome(s3, named)
    assert (kind, "summary") == ("output", next(iter(json.loads(body)))), body
    # 32 long texts, each forced to 900 generated tokens: ~8 s on this machine's CPU (one
    # text alone can finish within the 1 s budget on an idle core).
    s3.put_object(Bucket=info["bucket"], Key=f"{info['endpoint']}/long.json",
                  Body=json.dumps({"text": ["word " * 900] * 32, "min_length": 900,
                                   "max_length": 1000}).encode())  # over the inline limit
    slow = runtime.invoke_endpoint_async(
        EndpointName=info["endpoint"], ContentType="application/json",
        InputLocation=f"s3://{info['bucket']}/{info['endpoint']}/long.json",
        InvocationTimeoutSeconds=1)
    kind, body = _outcome(s3, slow)
    assert kind == "failure"
    assert "InvocationTimeoutSeconds" in json.loads(body)["error"]
    session.client("sagemaker").delete_endpoint(EndpointName=info["endpoint"])


def test_inline_body_limit_and_bad_requests(local_stack, summarizer_endpoint) -> None:
    runtime = local_stack.session().client("sagemaker-runtime")
    with pytest.raises(runtime.exceptions.ValidationError, match="128000"):
        runtime.invoke_endpoint_async(EndpointName=summarizer_endpoint["endpoint"],
                                      Body=b"x" * 128_001)
    with pytest.raises(runtime.exceptions.ValidationError, match="not found"):
        runtime.invoke_endpoint_async(EndpointName="no-such-endpoint", Body=b"{}")


def _create(session, name: str, model_uri: str, **env: str) -> None:
    sm = session.client("sagemaker")
    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE_ARN, PrimaryContainer={
        "Image": "local", "ModelDataUrl": model_uri,
        "Environment": {"MODEL_DIR": "/opt/ml/model/model", **env}})
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": name, "InstanceType": "ml.m5.large",
        "InitialInstanceCount": 1}])
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)


def _settled(session, name: str) -> dict:
    sm = session.client("sagemaker")
    return wait_for(lambda: (d := sm.describe_endpoint(EndpointName=name))[
        "EndpointStatus"] not in ("Creating",) and d, 120)


def test_container_that_exits_leaves_endpoint_failed_with_its_log(local_stack) -> None:
    session = local_stack.session()
    name = unique("broken")
    _create(session, name, upload_broken_model(session, "smconsole-tests", name))
    described = _settled(session, name)
    assert described["EndpointStatus"] == "Failed"
    reason = described["FailureReason"]
    assert "did not pass the ping health check" in reason
    assert "exited with code" in reason
    assert "cannot serve: no config.json" in reason  # the container's own last log line
    assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 0
    session.client("sagemaker").delete_endpoint(EndpointName=name)


def test_container_never_healthy_in_time_is_failed(local_stack, tiny_classifier) -> None:
    session = local_stack.session()
    name = unique("slow-start")
    from fixtures.local_stack import upload_model

    uri = upload_model(session, "smconsole-tests", tiny_classifier)
    started = time.monotonic()
    # AWS's own minimum is 60 s; the local stack takes a shorter budget from the model's env.
    _create(session, name, uri, SMCONSOLE_LOCAL_HEALTH_TIMEOUT_S="1")
    described = _settled(session, name)
    assert described["EndpointStatus"] == "Failed"
    assert "within 1 seconds" in described["FailureReason"]
    assert time.monotonic() - started < 90  # the 1 s budget, not the 600 s default
    sm = session.client("sagemaker")
    sm.delete_endpoint(EndpointName=name)
    wait_for(lambda: name not in [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]],
             120)


def test_model_folder_gets_sagemaker_layout(local_stack, tmp_path: Path) -> None:
    """MODEL_DIR under /opt/ml/model is rewritten to the unpacked local folder."""
    models = Path(local_stack.state_dir) / "models"
    unpacked = [p for p in models.rglob("opt_ml_model/model/config.json")]
    assert unpacked, "no model unpacked as /opt/ml/model/model"


def test_max_concurrent_invocations_per_instance(local_stack, summarizer) -> None:
    """With MaxConcurrentInvocationsPerInstance=1 the container never sees two at once."""
    import httpx

    session = local_stack.session()
    info = deploy_async_endpoint(session, unique("one-at-a-time"), model=summarizer, sns=False,
                                 max_concurrency=1)
    runtime, s3 = session.client("sagemaker-runtime"), session.client("s3")
    sent = [runtime.invoke_endpoint_async(
        EndpointName=info["endpoint"], ContentType="application/json",
        Body=json.dumps({"text": f"request {n}", "min_length": 20, "max_length": 25}).encode())
        for n in range(4)]
    seen_in_flight, seen_queued = set(), set()

    def all_done() -> bool:
        state = httpx.get(f"{local_stack.url}/_smconsole/status", timeout=5).json()
        mine = next(e for e in state["endpoints"] if e["name"] == info["endpoint"])
        seen_queued.add(mine["queued"])
        for instance in mine["variants"][0]["instances"]:
            seen_in_flight.add(instance["in_flight"])
            stats = httpx.get(f"{instance['url']}/stats", timeout=5).json()
            seen_in_flight.add(stats["in_flight"])
        return all(read_object(s3, r["OutputLocation"]) for r in sent)

    wait_for(all_done, 120, interval_s=0.1)
    assert max(seen_in_flight) == 1
    assert max(seen_queued) >= 1  # the others waited in the local queue, not the container
    session.client("sagemaker").delete_endpoint(EndpointName=info["endpoint"])
