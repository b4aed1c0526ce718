"""Deploy against moto over HTTP: the plan is a diff, deploy records what it created, cleanup."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from smconsole import errors
from smconsole.models.deploy import DeployProgress
from smconsole.services.deploy import DeployService
from smconsole.session import AwsSession
from smconsole.specs.deploy import DeploySpec, load_deploy_spec


def stepping_now() -> object:
    """A clock that moves one second per call, so each plan gets new timestamped names."""
    start = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    counter = itertools.count()
    return lambda: start + timedelta(seconds=next(counter))


@pytest.fixture
def service(moto_session: AwsSession) -> DeployService:
    return DeployService(moto_session, now=stepping_now(), sleep=lambda _s: None)


@pytest.fixture
def demo(demo_spec_path: Path) -> DeploySpec:
    return load_deploy_spec(demo_spec_path)


def sagemaker_names(session: AwsSession) -> tuple[list[str], list[str], list[str]]:
    sm = session.client("sagemaker")
    return (
        sorted(m["ModelName"] for m in sm.list_models()["Models"]),
        sorted(c["EndpointConfigName"] for c in sm.list_endpoint_configs()["EndpointConfigs"]),
        sorted(e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]),
    )


def test_dry_run_plans_a_create_and_calls_nothing(moto_session: AwsSession,
                                                  service: DeployService,
                                                  demo: DeploySpec) -> None:
    plan = service.plan(demo)
    assert plan.action == "create"
    assert plan.model_name == plan.config_name == "smconsole-demo-20261125-080000"
    lines = plan.diff_lines()
    assert lines[:4] == ["create endpoint smconsole-demo",
                         "+ model smconsole-demo-20261125-080000",
                         "+ endpoint-config smconsole-demo-20261125-080000",
                         "+ endpoint smconsole-demo"]
    assert "+ variant.instance_type: ml.m5.large" in lines
    assert "  + target endpoint/smconsole-demo/variant/AllTraffic: 0..2" in lines
    assert any("model data" in w and "not found" in w for w in plan.warnings)
    assert sagemaker_names(moto_session) == ([], [], [])


def test_deploy_creates_model_config_endpoint_and_autoscaling(
        moto_session: AwsSession, service: DeployService, demo: DeploySpec) -> None:
    ticks: list[DeployProgress] = []
    result = service.deploy(demo, ticks.append)
    assert result.ok, result.summary()
    assert [r.kind for r in result.created] == ["model", "endpoint-config", "endpoint"]
    assert [t.stage for t in ticks][:3] == ["model", "endpoint-config", "endpoint"]
    assert ticks[-1].stage == "done" and ticks[-1].status == "InService"

    sm = moto_session.client("sagemaker")
    config = sm.describe_endpoint_config(EndpointConfigName=result.created[1].name)
    output = config["AsyncInferenceConfig"]["OutputConfig"]
    assert output["S3OutputPath"] == "s3://smconsole-local-demo/async/outputs"
    assert output["NotificationConfig"]["IncludeInferenceResponseIn"] == [
        "SUCCESS_NOTIFICATION_TOPIC", "ERROR_NOTIFICATION_TOPIC"]
    assert config["AsyncInferenceConfig"]["ClientConfig"] == {
        "MaxConcurrentInvocationsPerInstance": 32}
    model = sm.describe_model(ModelName=result.created[0].name)
    assert model["PrimaryContainer"]["Environment"]["MODEL_DIR"] == "/opt/ml/model/model"
    assert result.scaling is not None and result.scaling.applied
    assert result.scaling.after.target.max_capacity == 2


def test_redeploy_without_update_is_refused(service: DeployService, demo: DeploySpec) -> None:
    service.deploy(demo)
    with pytest.raises(errors.SmconsoleError, match="set `update: true`"):
        service.plan(demo.model_copy(update={"update": False}))


def test_update_plan_is_a_diff_against_what_exists(service: DeployService,
                                                   demo: DeploySpec) -> None:
    first = service.deploy(demo)
    bigger = demo.model_copy(update={
        "variant": demo.variant.model_copy(update={"instance_count": 2})})
    plan = service.plan(bigger)
    assert plan.action == "update"
    assert plan.creates[-1].kind == "endpoint-config"
    assert [c.line() for c in plan.changes] == ["~ variant.instance_count: 1 -> 2"]
    assert plan.current_config == first.created[1].name
    assert plan.scaling is not None and plan.scaling.empty


def test_cleanup_deletes_everything_created(moto_session: AwsSession, service: DeployService,
                                            demo: DeploySpec) -> None:
    result = service.deploy(demo)
    cleaned = service.cleanup(result.created)
    assert cleaned.ok and len(cleaned.deleted) == 3
    assert sagemaker_names(moto_session) == ([], [], [])
    aas = moto_session.client("application-autoscaling")
    assert aas.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"] == []
    assert moto_session.client("cloudwatch").describe_alarms()["MetricAlarms"] == []


def test_create_failure_keeps_the_list_for_cleanup(moto_session: AwsSession,
                                                   service: DeployService,
                                                   demo: DeploySpec) -> None:
    def refuse(**_: object) -> None:
        raise errors.AwsError("ResourceLimitExceeded", "no capacity", "CreateEndpoint")

    sm = moto_session.client("sagemaker")
    sm.meta.events.register("before-call.sagemaker.CreateEndpoint", refuse)
    try:
        result = service.deploy(demo)
    finally:
        sm.meta.events.unregister("before-call.sagemaker.CreateEndpoint", refuse)
    assert not result.ok and "no capacity" in result.summary()
    assert [r.kind for r in result.created] == ["model", "endpoint-config"]
    assert service.cleanup(result.created).ok
    assert sagemaker_names(moto_session) == ([], [], [])


def test_failure_reason_and_log_lines(moto_session: AwsSession, service: DeployService) -> None:
    logs = moto_session.client("logs")
    group = "/aws/sagemaker/Endpoints/broken"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="AllTraffic/i-1")
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    logs.put_log_events(logGroupName=group, logStreamName="AllTraffic/i-1", logEvents=[
        {"timestamp": now_ms + i, "message": f"line {i}"} for i in range(30)])
    lines = service.last_log_lines("broken", count=5)
    assert lines == [f"line {i}" for i in range(25, 30)]
    assert service.last_log_lines("never-deployed") == []


def test_wait_times_out_with_injected_clock(moto_session: AwsSession, demo: DeploySpec) -> None:
    times = itertools.count(0, 100)
    service = DeployService(moto_session, clock=lambda: float(next(times)),
                            sleep=lambda _s: None)
    service.deploy(demo)
    status, reason = service.wait("smconsole-demo", timeout=50,
                                  expect_config="a-config-that-never-comes")
    assert status == "TimedOut" and "after 50s" in reason


def test_an_error_while_waiting_still_lists_what_was_created(
        moto_session: AwsSession, service: DeployService, demo: DeploySpec) -> None:
    def throttle(**_: object) -> None:
        raise errors.Throttled("DescribeEndpoint: Rate exceeded")

    plan = service.plan(demo)
    sm = moto_session.client("sagemaker")
    sm.meta.events.register("before-call.sagemaker.DescribeEndpoint", throttle)
    try:
        result = service.deploy(plan)
    finally:
        sm.meta.events.unregister("before-call.sagemaker.DescribeEndpoint", throttle)
    assert not result.ok and "Rate exceeded" in result.summary()
    assert [r.kind for r in result.created] == ["model", "endpoint-config", "endpoint"]
    assert service.cleanup(result.created).ok
