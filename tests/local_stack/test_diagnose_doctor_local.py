"""Acceptance on the local stack: one deliberately misconfigured endpoint per finding the local
stack can express; `smconsole doctor` finds each, its one-key fix (`--fix CODE --yes`, through
the scaling or deploy plan) puts it right, and the endpoint is clean afterwards.

A clean baseline: CPU instance type, S3FailurePath, both topics, MaxConcurrentInvocationsPerInstance
equal to the container's batch size (BATCH_MAX_SIZE=4), a 1..1 target tracking the backlog with a
300 s scale-in cooldown. Each case breaks exactly one thing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fixtures.local_stack import (
    ROLE_ARN,
    LocalStack,
    ensure_bucket,
    unique,
    upload_model,
    wait_for,
    wait_in_service,
)
from smconsole.ledger import Ledger
from smconsole.services.autoscaling import AutoscalingService
from smconsole.services.doctor import DoctorService
from smconsole.services.requests import RequestService
from smconsole.services.watcher import OutputWatcher
from smconsole.specs.scaling import ScalingSpec, TargetTrackingSpec

pytestmark = [pytest.mark.local_stack, pytest.mark.slow]

BUCKET = "smconsole-doctor"
BATCH = 4
BACKLOG = TargetTrackingSpec(metric="ApproximateBacklogSizePerInstance", target=5)

# code -> what the misconfigured endpoint changes from the baseline
CASES: dict[str, dict[str, Any]] = {
    "no-scalable-target": {"scaling": None},
    "min-zero-never-wakes": {"scaling": ScalingSpec(min_capacity=0, max_capacity=1,
                                                    target_tracking=[BACKLOG])},
    "tracks-invocations-per-instance": {"scaling": ScalingSpec(
        min_capacity=1, max_capacity=1,
        target_tracking=[TargetTrackingSpec(metric="InvocationsPerInstance", target=10)])},
    "scale-in-cooldown-short": {"scaling": ScalingSpec(
        min_capacity=1, max_capacity=1,
        target_tracking=[BACKLOG.model_copy(update={"scale_in_cooldown": 0})])},
    "no-failure-path": {"failure_path": False},
    "no-error-topic": {"topics": ("success",)},
    "include-response-without-topic": {"topics": ("error",),
                                       "include": ["SUCCESS_NOTIFICATION_TOPIC"]},
    "concurrency-vs-batch": {"max_concurrent": 1},
    "invocation-timeout-below-processing": {"model": "summarizer"},
    "gpu-driver-too-old": {"instance_type": "ml.g5.xlarge"},
    "max-capacity-over-quota": {"instance_type": "ml.g5.xlarge",
                                "ami": "al2-ami-sagemaker-inference-gpu-3-1",
                                "scaling": ScalingSpec(min_capacity=1, max_capacity=8,
                                                       target_tracking=[BACKLOG])},
}
MANUAL = {"no-error-topic", "invocation-timeout-below-processing"}


def create_endpoint(session: Any, name: str, model_uri: str, *, instance_type: str = "ml.m5.large",
                    failure_path: bool = True, topics: tuple[str, ...] = ("success", "error"),
                    include: list[str] | None = None, max_concurrent: int = BATCH,
                    ami: str | None = None, **_: Any) -> None:
    sm, sns = session.client("sagemaker"), session.client("sns")
    sm.create_model(ModelName=f"{name}-model", ExecutionRoleArn=ROLE_ARN, PrimaryContainer={
        "Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/smconsole:latest",
        "ModelDataSource": {"S3DataSource": {"S3Uri": model_uri, "S3DataType": "S3Object",
                                             "CompressionType": "Gzip"}},
        "Environment": {"MODEL_DIR": "/opt/ml/model/model", "BATCH_MAX_SIZE": str(BATCH)},
    })
    output: dict[str, Any] = {"S3OutputPath": f"s3://{BUCKET}/{name}/output"}
    if failure_path:
        output["S3FailurePath"] = f"s3://{BUCKET}/{name}/failure"
    note: dict[str, Any] = {}
    for kind in topics:
        arn = sns.create_topic(Name=f"{name}-{kind}")["TopicArn"]
        note["SuccessTopic" if kind == "success" else "ErrorTopic"] = arn
    note["IncludeInferenceResponseIn"] = include if include is not None else [
        {"success": "SUCCESS_NOTIFICATION_TOPIC", "error": "ERROR_NOTIFICATION_TOPIC"}[k]
        for k in topics]
    output["NotificationConfig"] = note
    variant: dict[str, Any] = {"VariantName": "AllTraffic", "ModelName": f"{name}-model",
                               "InstanceType": instance_type, "InitialInstanceCount": 1,
                               "InitialVariantWeight": 1.0}
    if ami:
        variant["InferenceAmiVersion"] = ami
    sm.create_endpoint_config(EndpointConfigName=f"{name}-config", ProductionVariants=[variant],
                              AsyncInferenceConfig={"OutputConfig": output, "ClientConfig": {
                                  "MaxConcurrentInvocationsPerInstance": max_concurrent}})
    sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config")


@pytest.fixture(scope="module")
def endpoints(local_stack: LocalStack,
              summarizer: Path, tiny_classifier: Path) -> dict[str, str]:
    """code -> endpoint name, all created at once (instances start in parallel), InService."""
    session = local_stack.session()
    ensure_bucket(session, BUCKET)
    uris = {"classifier": upload_model(session, BUCKET, tiny_classifier),
            "summarizer": upload_model(session, BUCKET, summarizer)}
    names = {}
    for code, case in CASES.items():
        name = unique(f"dr-{code[:20]}")
        create_endpoint(session, name, uris[case.get("model", "classifier")], **case)
        names[code] = name
    scaling = AutoscalingService(session)
    baseline = ScalingSpec(min_capacity=1, max_capacity=1, target_tracking=[BACKLOG])
    for code, name in names.items():
        wait_in_service(session, name, 300)
        spec = CASES[code].get("scaling", baseline)
        if spec is not None:
            assert scaling.apply(scaling.plan(name, spec, replace_policies=True)).applied
    return names


def doctor_cli(local_stack: LocalStack, *args: str) -> tuple[int, dict[str, Any]]:
    env = {**os.environ, "SMCONSOLE_LOCAL_DIR": str(local_stack.state_dir)}
    out = subprocess.run([sys.executable, "-m", "smconsole", "--local", "doctor", *args,
                          "--json"], check=False, capture_output=True, text=True, timeout=600,
                         env=env)
    assert "Traceback" not in out.stderr, out.stderr
    return out.returncode, json.loads(out.stdout)


def codes(report: dict[str, Any]) -> list[str]:
    return [f["code"] for e in report["endpoints"] for f in e["findings"]]


def time_out_one_request(local_stack: LocalStack, ledger: Ledger, endpoint: str,
                         tmp_path: Path) -> None:
    """A request whose processing outlasts its InvocationTimeoutSeconds (1 s)."""
    path = tmp_path / "slow.yaml"
    # 16 long texts forced to 900 generated tokens: seconds of work on a CPU.
    texts = json.dumps(["word " * 900] * 16)
    path.write_text(f"endpoint: {endpoint}\ndefaults: {{invocation_timeout_seconds: 1}}\n"
                    f"requests:\n  - body: {{text: {texts}, max_length: 1000, "
                    "min_length: 900}\n")
    service = RequestService(local_stack.session(), ledger)
    batch = service.submit(service.plan(path)).batch
    OutputWatcher(local_stack.session(), ledger, tick=0.5).run(batch_ids=[batch.batch_id],
                                                               until_done=True)
    [request] = ledger.requests(batch_id=batch.batch_id)
    assert "InvocationTimeoutSeconds" in (request.error or ""), request


@pytest.mark.parametrize("code", sorted(CASES))
def test_each_misconfiguration_is_found_fixed_and_clean_afterwards(
    code: str, local_stack: LocalStack, endpoints: dict[str, str], ledger: Ledger,
    tmp_path: Path,
) -> None:
    name = endpoints[code]
    if code == "invocation-timeout-below-processing":
        time_out_one_request(local_stack, ledger, name, tmp_path)
    session = local_stack.session()
    doctor = DoctorService(session, ledger=ledger)
    # The log-based facts arrive a second or two after the container wrote them.
    health = wait_for(lambda: (h := doctor.check(name)).finding(code) and h, timeout_s=60)
    found = {f.code for f in health.findings}
    assert found == {code}, [(f.code, f.title) for f in health.findings]
    finding = health.finding(code)
    assert finding.why and finding.title and finding.fix.summary

    if code in MANUAL:
        assert not finding.fix.applicable and finding.fix.steps
        rc, report = doctor_cli(local_stack, name, "--fix", code, "--yes")
        assert report["fixes"][0]["applied"] is False
        assert "not a fix the console makes" in report["fixes"][0]["message"]
        return

    rc, report = doctor_cli(local_stack, name, "--fix", code, "--yes")
    [fix] = report["fixes"]
    assert fix["applied"], fix
    assert fix["diff"], "the change is shown as a diff before it is made"
    assert report["endpoints"][0]["findings"] == [], report["endpoints"][0]
    assert report["endpoints"][0]["mark"] == "✓"
    assert rc == 0


def test_doctor_json_lists_every_endpoint_with_its_mark(
    local_stack: LocalStack, endpoints: dict[str, str],
) -> None:
    rc, report = doctor_cli(local_stack)
    by_name = {e["endpoint"]: e for e in report["endpoints"]}
    assert set(endpoints.values()) <= set(by_name)
    for entry in by_name.values():
        assert entry["mark"] in "✖!·✓?"
        for finding in entry["findings"]:
            assert {"code", "severity", "why", "fix"} <= set(finding)
    assert rc in (0, 1)


def test_a_manual_fix_prints_the_exact_commands(local_stack: LocalStack,
                                                endpoints: dict[str, str]) -> None:
    env = {**os.environ, "SMCONSOLE_LOCAL_DIR": str(local_stack.state_dir)}
    out = subprocess.run([sys.executable, "-m", "smconsole", "--local", "doctor",
                          endpoints["no-error-topic"]], check=False, capture_output=True,
                         text=True, timeout=300, env=env)
    assert "aws sns create-topic --name" in out.stdout, out.stdout
    assert "async.notifications.error_topic: arn:aws:sns:us-east-1:" in out.stdout
    assert out.returncode == 0  # a warning, not an error



def test_a_fix_that_fails_half_way_leaves_the_endpoint_as_it_was(
    local_stack: LocalStack, tiny_classifier: Path, ledger: Ledger,
) -> None:
    """The update's new instances cannot load their model: the endpoint rolls back to its old
    config, and the model and config the fix created are deleted."""
    session = local_stack.session()
    s3, sm = session.client("s3"), session.client("sagemaker")
    name = unique("dr-rollback")
    shared = upload_model(session, BUCKET, tiny_classifier)
    key = f"{name}/model.tar.gz"  # its own copy: deleting it must not break the others
    s3.copy_object(Bucket=BUCKET, Key=key, CopySource={"Bucket": BUCKET,
                                                       "Key": shared.split("/", 3)[3]})
    create_endpoint(session, name, f"s3://{BUCKET}/{key}", failure_path=False)
    wait_in_service(session, name, 300)
    doctor = DoctorService(session, ledger=ledger)
    finding = doctor.check(name).finding("no-failure-path")
    assert finding is not None
    plan = doctor.plan_fix(finding)
    before = sm.describe_endpoint(EndpointName=name)["EndpointConfigName"]
    s3.delete_object(Bucket=BUCKET, Key=key)  # after planning: the update itself fails

    result = doctor.apply_fix(plan)
    assert not result.applied and result.rolled_back, result
    assert "the new model and config were removed" in result.message
    after = sm.describe_endpoint(EndpointName=name)
    assert after["EndpointStatus"] == "InService"
    assert after["EndpointConfigName"] == before
    deploy_plan = plan.detail
    with pytest.raises(sm.exceptions.ClientError, match="Could not find"):
        sm.describe_model(ModelName=deploy_plan.model_name)
    with pytest.raises(sm.exceptions.ClientError, match="Could not find"):
        sm.describe_endpoint_config(EndpointConfigName=deploy_plan.config_name)
    assert doctor.check(name).finding("no-failure-path") is not None  # still to fix
