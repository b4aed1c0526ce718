"""State survives a restart of the daemon; `local reset` wipes it; --latency-ms delays calls."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3.s3.transfer
import pytest
from fixtures.local_stack import (
    ROLE_ARN,
    deploy_async_endpoint,
    start_stack,
    upload_model,
    wait_for,
    wait_in_service,
)
from smconsole.local import control

pytestmark = pytest.mark.local_stack


def test_restart_keeps_state_and_brings_endpoints_back(tmp_path: Path, tiny_classifier) -> None:
    state = tmp_path / "state"
    stack = start_stack(state)
    try:
        session = stack.session()
        s3, sm = session.client("s3"), session.client("sagemaker")
        s3.create_bucket(Bucket="keep")
        s3.put_object(Bucket="keep", Key="small/ü.json", Body=b'{"a": 1}',
                      ContentType="application/json", Metadata={"owner": "me"})
        big = os.urandom(6 * 1024 * 1024 + 5)
        (tmp_path / "big.bin").write_bytes(big)
        s3.upload_file(str(tmp_path / "big.bin"), "keep", "big.bin",
                       Config=boto3.s3.transfer.TransferConfig(multipart_threshold=5 * 2**20))
        written = s3.head_object(Bucket="keep", Key="small/ü.json")["LastModified"]
        s3.put_object(Bucket="keep", Key="gone.txt", Body=b"x")
        s3.delete_object(Bucket="keep", Key="gone.txt")
        topic = session.client("sns").create_topic(Name="kept-topic")["TopicArn"]
        uri = upload_model(session, "keep", tiny_classifier)
        sm.create_model(ModelName="kept-model", ExecutionRoleArn=ROLE_ARN, PrimaryContainer={
            "Image": "local", "ModelDataUrl": uri,
            "Environment": {"MODEL_DIR": "/opt/ml/model/model"}})
        sm.create_endpoint_config(EndpointConfigName="kept-config", ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": "kept-model",
            "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}])
        sm.create_endpoint(EndpointName="kept", EndpointConfigName="kept-config")
        wait_in_service(session, "kept", 120)
        aas = session.client("application-autoscaling")
        aas.register_scalable_target(
            ServiceNamespace="sagemaker", ResourceId="endpoint/kept/variant/AllTraffic",
            ScalableDimension="sagemaker:variant:DesiredInstanceCount", MinCapacity=1,
            MaxCapacity=2)
        step_arn = aas.put_scaling_policy(
            PolicyName="from-zero", ServiceNamespace="sagemaker",
            ResourceId="endpoint/kept/variant/AllTraffic",
            ScalableDimension="sagemaker:variant:DesiredInstanceCount", PolicyType="StepScaling",
            StepScalingPolicyConfiguration={
                "AdjustmentType": "ChangeInCapacity", "Cooldown": 60,
                "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}]},
        )["PolicyARN"]
        session.client("cloudwatch").put_metric_alarm(
            AlarmName="kept-wakes", MetricName="HasBacklogWithoutCapacity",
            Namespace="AWS/SageMaker", Statistic="Average", Period=60, EvaluationPeriods=1,
            Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold",
            Dimensions=[{"Name": "EndpointName", "Value": "kept"}], AlarmActions=[step_arn])
    finally:
        stack.stop()
    assert not (state / "server.json").exists()

    again = start_stack(state)
    try:
        replay = next(line for line in again.output if "journal entries" in line)
        assert "(0 refused)" in replay, replay
        session = again.session()
        s3, sm = session.client("s3"), session.client("sagemaker")
        small = s3.get_object(Bucket="keep", Key="small/ü.json")
        assert small["Body"].read() == b'{"a": 1}'
        assert small["ContentType"] == "application/json"
        # The time it was written, not the restart's (seconds apart: the deploy above).
        assert small["LastModified"] == written
        assert small["Metadata"] == {"owner": "me"}
        assert s3.get_object(Bucket="keep", Key="big.bin")["Body"].read() == big
        keys = {o["Key"] for o in s3.list_objects_v2(Bucket="keep")["Contents"]}
        assert "gone.txt" not in keys
        assert topic in {t["TopicArn"] for t in session.client("sns").list_topics()["Topics"]}
        with pytest.raises(sm.exceptions.ClientError, match="already existing"):
            sm.create_endpoint_config(EndpointConfigName="kept-config", ProductionVariants=[{
                "VariantName": "AllTraffic", "ModelName": "kept-model",
                "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}])
        assert sm.describe_endpoint(EndpointName="kept")["EndpointStatus"] == "Creating"
        described = wait_in_service(session, "kept", 120)
        assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 1
        answer = session.client("sagemaker-runtime").invoke_endpoint(
            EndpointName="kept", ContentType="application/json", Body=b'{"inputs": "hi"}')
        assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
        targets = session.client("application-autoscaling").describe_scalable_targets(
            ServiceNamespace="sagemaker")["ScalableTargets"]
        assert [(t["ResourceId"], t["MinCapacity"], t["MaxCapacity"]) for t in targets] == [
            ("endpoint/kept/variant/AllTraffic", 1, 2)]
        # The policy keeps its ARN through the replay, so the alarm still names it.
        policies = session.client("application-autoscaling").describe_scaling_policies(
            ServiceNamespace="sagemaker")["ScalingPolicies"]
        assert [p["PolicyARN"] for p in policies if p["PolicyName"] == "from-zero"] == [step_arn]
        alarm = session.client("cloudwatch").describe_alarms(AlarmNames=["kept-wakes"])
        assert alarm["MetricAlarms"][0]["AlarmActions"] == [step_arn]
        logs = session.client("logs").describe_log_streams(
            logGroupName="/aws/sagemaker/Endpoints/kept")["logStreams"]
        assert len(logs) == 2  # the first run's instance and this run's
    finally:
        again.stop()

    wiped = subprocess.run(
        [sys.executable, "-m", "smconsole", "local", "reset", "--state-dir", str(state)],
        check=False, capture_output=True, text=True, timeout=60)
    assert wiped.returncode == 0, wiped.stderr
    assert not state.exists()


def test_requests_queued_when_the_daemon_stops_are_answered_after_a_restart(
    tmp_path: Path, summarizer
) -> None:
    state = tmp_path / "state"
    stack = start_stack(state)
    try:
        session = stack.session()
        info = deploy_async_endpoint(session, "queued", model=summarizer, sns=False,
                                     max_concurrency=1)
        runtime = session.client("sagemaker-runtime")
        # One at a time, each a few hundred ms: most are still queued when the daemon stops.
        body = {"text": "keep me queued", "min_length": 200, "max_length": 210}
        sent = [runtime.invoke_endpoint_async(
            EndpointName=info["endpoint"], ContentType="application/json",
            Body=json.dumps({**body, "text": f"request {n}"}).encode()) for n in range(6)]
        s3 = session.client("s3")
        answered_before = sum(_answered(s3, r) for r in sent)
    finally:
        stack.stop()
    assert answered_before < len(sent), "nothing was left queued; the test proves nothing"
    assert list((state / "pending").rglob("*.json"))

    again = start_stack(state)
    try:
        s3 = again.session().client("s3")
        wait_for(lambda: all(_answered(s3, r) for r in sent), 180)
        for response in sent:
            output = s3.get_object(**_location(response["OutputLocation"]))
            assert "summary" in json.loads(output["Body"].read())
        assert any("async request(s) still to answer" in line for line in again.output)
        assert not list((state / "pending").rglob("*.json"))
    finally:
        again.stop()


def test_endpoint_metrics_survive_a_restart(tmp_path: Path, tiny_classifier) -> None:
    """CloudWatch keeps 15 days of 1-minute data; moto keeps none across a restart. The cost
    view reads requests and backlog from these metrics, so it counted 0 after a restart."""
    state = tmp_path / "state"
    stack = start_stack(state)
    try:
        session = stack.session()
        info = deploy_async_endpoint(session, "metered", model=tiny_classifier, sns=False)
        runtime = session.client("sagemaker-runtime")
        sent = [runtime.invoke_endpoint_async(
            EndpointName=info["endpoint"], ContentType="application/json",
            Body=json.dumps({"inputs": f"request {n}"}).encode()) for n in range(3)]
        s3 = session.client("s3")
        wait_for(lambda: all(_answered(s3, r) for r in sent), 120)
        cloudwatch = session.client("cloudwatch")
        before = wait_for(lambda: _metric_totals(cloudwatch, info["endpoint"])[0] == 3
                          and _metric_totals(cloudwatch, info["endpoint"]), 30)
    finally:
        stack.stop()
    with (state / "metrics.jsonl").open("a") as handle:
        handle.write('{"region": "us-east-1", "namespace": "AWS/Sage\n')  # a torn last line

    again = start_stack(state)
    try:
        after = _metric_totals(again.session().client("cloudwatch"), info["endpoint"])
        assert after[0] == before[0] == 3  # InvocationsProcessed, summed over the hour
        assert after[1] >= before[1]  # ApproximateBacklogSize samples from before the stop
        assert any("metrics.jsonl:" in line and "skipped: not a JSON record" in line
                   for line in again.output), again.output[-20:]
    finally:
        again.stop()


def _metric_totals(cloudwatch, endpoint: str) -> tuple[float, int]:
    """(InvocationsProcessed summed, ApproximateBacklogSize samples) over the last hour."""
    now = time.time()
    window = {"StartTime": now - 3600, "EndTime": now + 60, "Period": 3600}
    processed = cloudwatch.get_metric_statistics(
        Namespace="AWS/SageMaker", MetricName="InvocationsProcessed", Statistics=["Sum"],
        Dimensions=[{"Name": "EndpointName", "Value": endpoint},
                    {"Name": "VariantName", "Value": "AllTraffic"}], **window)["Datapoints"]
    backlog = cloudwatch.get_metric_statistics(
        Namespace="AWS/SageMaker", MetricName="ApproximateBacklogSize",
        Statistics=["SampleCount"], Dimensions=[{"Name": "EndpointName", "Value": endpoint}],
        **window)["Datapoints"]
    return (sum(p["Sum"] for p in processed),
            int(sum(p["SampleCount"] for p in backlog)))


def _location(uri: str) -> dict[str, str]:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return {"Bucket": bucket, "Key": key}


def _answered(s3, response: dict) -> bool:
    try:
        s3.head_object(**_location(response["OutputLocation"]))
    except s3.exceptions.ClientError:
        return False
    return True


def test_latency_ms_delays_every_call(tmp_path: Path, local_stack) -> None:
    slow = start_stack(tmp_path / "slow", latency_ms=200)
    try:
        def five_calls(session) -> float:
            s3 = session.client("s3")
            s3.list_buckets()  # connection set-up outside the timing
            started = time.perf_counter()
            for _ in range(5):
                s3.list_buckets()
            return time.perf_counter() - started

        delayed = five_calls(slow.session())
        direct = five_calls(local_stack.session())
        assert delayed >= 1.0
        assert direct < delayed - 0.8
    finally:
        slow.stop()


def test_ensure_running_reuses_and_reset_wipes(tmp_path: Path) -> None:
    state = tmp_path / "bg"
    with ThreadPoolExecutor(2) as pool:  # two consoles started at once share one daemon
        urls = set(pool.map(lambda _: control.ensure_running(state), range(2)))
    assert len(urls) == 1
    url = urls.pop()
    try:
        assert control.ensure_running(state) == url
        shown = subprocess.run(
            [sys.executable, "-m", "smconsole", "local", "status", "--state-dir", str(state)],
            check=False, capture_output=True, text=True, timeout=60)
        status = json.loads(shown.stdout)
        assert status["running"] is True and status["url"] == url
        assert (state / "server.log").is_file()
    finally:
        control.reset(state)
    assert not state.exists()
    assert control.status(state)["running"] is False
