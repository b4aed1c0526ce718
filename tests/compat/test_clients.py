"""The promise of docs/local-stack.md, kept by clients we did not write."""

from __future__ import annotations

import os
import pty
import subprocess
import threading
import time

import boto3
import pytest
from fixtures.compat import client_env, run_client
from fixtures.local_stack import unique

pytestmark = [pytest.mark.local_stack, pytest.mark.slow]


def test_sdk_v2_async_predictor_path(local_stack, compat_model) -> None:
    name = unique("sdk2")
    seen = run_client("sdk2", "sdk2_async.py", local_stack, dict(compat_model, name=name))
    assert seen["is_async"], seen  # Model.deploy(async_inference_config=...) → AsyncPredictor
    assert seen["output_path"].startswith(f"s3://{compat_model['bucket']}/{name}/output/")
    labels = {item["label"] for row in seen["result"]["predictions"] for item in row}
    assert labels and labels <= {"NEGATIVE", "POSITIVE"}, seen["result"]
    # AsyncInferenceModelError, carrying the container's 400 body from the failure path.
    assert seen["error"] and "invalid_request" in seen["error"], seen
    assert seen["deleted"]
    names = [e["EndpointName"] for e in local_stack.client("sagemaker").list_endpoints(
        NameContains=name)["Endpoints"]]
    assert names == [] or names == [name]  # Deleting, then gone


def test_sdk_v3_resources_path(local_stack, compat_model) -> None:
    name = unique("sdk3")
    seen = run_client("sdk3", "sdk3_resources.py", local_stack, dict(compat_model, name=name))
    assert seen["status"] == "InService"
    assert seen["output_location"] == (
        f"s3://{compat_model['bucket']}/{name}/output/{seen['inference_id']}.out")
    assert seen["async_output"] == f"s3://{compat_model['bucket']}/{name}/output"
    assert seen["deleted"]  # wait_for_delete returned: the endpoint is gone
    sm = local_stack.client("sagemaker")
    assert sm.list_endpoints(NameContains=name)["Endpoints"] == []
    # Its answer, written by the endpoint before it was deleted.
    s3 = local_stack.client("s3")
    key = seen["output_location"].split("/", 3)[3]
    assert b"label" in s3.get_object(Bucket=compat_model["bucket"], Key=key)["Body"].read()


def _log_group(local_stack, name: str) -> tuple[object, str, str]:
    logs = local_stack.client("logs")
    group = f"/aws/sagemaker/Endpoints/{name}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="AllTraffic/i-compat")
    arn = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["logGroupArn"]
    return logs, group, arn.removesuffix(":*")


def test_boto3_start_live_tail_sees_a_later_line_within_3s(local_stack, monkeypatch) -> None:
    logs, group, arn = _log_group(local_stack, unique("livetail"))
    # Unmodified boto3: the endpoint URL and, for the `stream-` host prefix, the env switch.
    for key, value in client_env(local_stack).items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_DISABLE_HOST_PREFIX_INJECTION", "true")
    tail = boto3.client("logs").start_live_tail(logGroupIdentifiers=[arn])
    stream = iter(tail["responseStream"])
    assert "sessionStart" in next(stream)
    written = time.monotonic()
    logs.put_log_events(logGroupName=group, logStreamName="AllTraffic/i-compat", logEvents=[
        {"timestamp": int(time.time() * 1000), "message": "written after the tail started"}])
    for event in stream:
        results = event["sessionUpdate"]["sessionResults"]
        if results:
            break
    assert time.monotonic() - written < 3.0
    assert [r["message"] for r in results] == ["written after the tail started"]
    tail["responseStream"].close()


def test_aws_cli_v2_logs_tail_follow(local_stack, aws_cli_v2) -> None:
    name = unique("clitail")
    logs, group, _ = _log_group(local_stack, name)
    # Debian's CLI is 2.9: below 2.13 AWS_ENDPOINT_URL is not read, --endpoint-url is. On a
    # terminal, as a person runs it (to a pipe its output waits in a buffer until it exits).
    terminal, side = pty.openpty()
    tail = subprocess.Popen(
        [str(aws_cli_v2), "--endpoint-url", local_stack.url, "logs", "tail", group,
         "--follow", "--format", "short", "--since", "1m"],
        env=client_env(local_stack), stdin=subprocess.DEVNULL, stdout=side, stderr=side)
    os.close(side)
    lines: list[str] = []

    def read() -> None:
        while True:
            try:
                chunk = os.read(terminal, 4096)
            except OSError:
                return
            if not chunk:
                return
            lines.append(chunk.decode("utf-8", "replace"))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        time.sleep(3)  # the CLI has started following
        logs.put_log_events(logGroupName=group, logStreamName="AllTraffic/i-compat",
                            logEvents=[{"timestamp": int(time.time() * 1000),
                                        "message": "followed by the CLI"}])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any("followed by the CLI" in x
                                                      for x in lines):
            assert tail.poll() is None, "".join(lines)
            time.sleep(0.25)
        assert any("followed by the CLI" in x for x in lines), "".join(lines)
    finally:
        tail.terminate()
        tail.wait(timeout=10)
        os.close(terminal)
