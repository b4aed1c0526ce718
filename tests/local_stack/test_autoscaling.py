"""Autoscaling against moto over HTTP: register, plan as a diff, apply, and roll back."""

from __future__ import annotations

from typing import Any

import pytest
from fixtures.moto import make_realtime_endpoint
from smconsole import errors
from smconsole.models.scaling import SCALABLE_DIMENSION
from smconsole.services.autoscaling import AutoscalingService, InvalidScaling, alarm_name
from smconsole.session import AwsSession
from smconsole.specs.scaling import ScalingSpec

SCALE_TO_ZERO = {
    "min_capacity": 0, "max_capacity": 4,
    "target_tracking": [{"metric": "ApproximateBacklogSizePerInstance", "target": 5}],
    "scale_out_from_zero": {},
}


def spec(**kw: Any) -> ScalingSpec:
    return ScalingSpec.model_validate(kw)


def raw_state(session: AwsSession, endpoint: str) -> tuple[Any, ...]:
    """What AWS holds, read straight from the APIs (not through the service under test)."""
    aas = session.client("application-autoscaling")
    rid = f"endpoint/{endpoint}/variant/AllTraffic"
    targets = aas.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[rid])
    policies = aas.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=rid)
    alarms = session.client("cloudwatch").describe_alarms()["MetricAlarms"]
    return (
        [(t["MinCapacity"], t["MaxCapacity"]) for t in targets["ScalableTargets"]],
        sorted((p["PolicyName"], p["PolicyType"]) for p in policies["ScalingPolicies"]),
        sorted((a["AlarmName"], tuple(a.get("AlarmActions", []))) for a in alarms),
    )


def test_register_on_endpoint_without_target(moto_session: AwsSession, endpoint: str) -> None:
    service = AutoscalingService(moto_session)
    assert service.describe(endpoint).target is None
    plan = service.plan(endpoint, spec(**SCALE_TO_ZERO))
    assert plan.diff_lines()[0] == f"+ target endpoint/{endpoint}/variant/AllTraffic: 0..4"
    assert [c.resource for c in plan.changes] == ["target", "policy", "policy", "alarm"]
    assert raw_state(moto_session, endpoint) == ([], [], [])  # planning changed nothing

    result = service.apply(plan)
    assert result.applied, result.message()
    targets, policies, alarms = raw_state(moto_session, endpoint)
    assert targets == [(0, 4)]
    assert policies == [("scale-out-from-zero", "StepScaling"),
                        ("track-ApproximateBacklogSizePerInstance", "TargetTrackingScaling")]
    step_arn = next(p.arn for p in result.after.policies if p.policy_type == "StepScaling")
    assert alarms == [(alarm_name(endpoint, "AllTraffic"), (step_arn,))]


def test_scale_out_from_zero_requests_match_aws_sample(moto_session: AwsSession,
                                                       endpoint: str) -> None:
    service = AutoscalingService(moto_session)
    service.apply(service.plan(endpoint, spec(**SCALE_TO_ZERO)))
    aas = moto_session.client("application-autoscaling")
    policies = {p["PolicyName"]: p for p in aas.describe_scaling_policies(
        ServiceNamespace="sagemaker")["ScalingPolicies"]}
    tracking = policies["track-ApproximateBacklogSizePerInstance"][
        "TargetTrackingScalingPolicyConfiguration"]
    assert tracking["TargetValue"] == 5.0
    assert tracking["CustomizedMetricSpecification"] == {
        "MetricName": "ApproximateBacklogSizePerInstance", "Namespace": "AWS/SageMaker",
        "Dimensions": [{"Name": "EndpointName", "Value": endpoint}], "Statistic": "Average",
    }
    step = policies["scale-out-from-zero"]["StepScalingPolicyConfiguration"]
    assert step["AdjustmentType"] == "ChangeInCapacity"
    assert step["StepAdjustments"] == [{"MetricIntervalLowerBound": 0.0, "ScalingAdjustment": 1}]
    alarm = moto_session.client("cloudwatch").describe_alarms()["MetricAlarms"][0]
    assert (alarm["MetricName"], alarm["ComparisonOperator"], alarm["Threshold"]) == (
        "HasBacklogWithoutCapacity", "GreaterThanOrEqualToThreshold", 1.0)
    assert alarm["Dimensions"] == [{"Name": "EndpointName", "Value": endpoint}]


def test_second_plan_is_empty_and_bounds_only_edit_keeps_policies(
        moto_session: AwsSession, endpoint: str) -> None:
    service = AutoscalingService(moto_session)
    service.apply(service.plan(endpoint, spec(**SCALE_TO_ZERO)))
    assert service.plan(endpoint, spec(**SCALE_TO_ZERO)).empty
    edit = service.plan(endpoint, spec(min_capacity=1, max_capacity=2))
    assert edit.diff_lines() == [f"~ target endpoint/{endpoint}/variant/AllTraffic: 0..4 -> 1..2"]
    assert service.apply(edit).applied
    targets, policies, alarms = raw_state(moto_session, endpoint)
    assert targets == [(1, 2)] and len(policies) == 2 and len(alarms) == 1


def test_replacing_policies_removes_the_step_pair(moto_session: AwsSession, endpoint: str) -> None:
    service = AutoscalingService(moto_session)
    service.apply(service.plan(endpoint, spec(**SCALE_TO_ZERO)))
    only_age = spec(target_tracking=[{"metric": "ApproximateAgeOfOldestRequest", "target": 60,
                                      "scale_in_cooldown": 30, "scale_out_cooldown": 0}])
    plan = service.plan(endpoint, only_age)
    lines = plan.diff_lines()
    assert any(line.startswith("+ policy track-ApproximateAgeOfOldestRequest: track "
                               "ApproximateAgeOfOldestRequest (Maximum) at 60") for line in lines)
    assert any(line.startswith("- policy scale-out-from-zero") for line in lines)
    assert any(line.startswith("- alarm ") for line in lines)
    assert any("wakes only once the backlog" in w for w in plan.warnings)
    assert service.apply(plan).applied
    _, policies, alarms = raw_state(moto_session, endpoint)
    assert policies == [("track-ApproximateAgeOfOldestRequest", "TargetTrackingScaling")]
    assert alarms == []


def test_invocations_per_instance_uses_the_predefined_metric(moto_session: AwsSession,
                                                             endpoint: str) -> None:
    service = AutoscalingService(moto_session)
    plan = service.plan(endpoint, spec(min_capacity=1, max_capacity=2, target_tracking=[
        {"metric": "InvocationsPerInstance", "target": 100}]))
    assert service.apply(plan).applied
    policy = service.describe(endpoint).policies[0]
    assert (policy.metric, policy.target) == ("InvocationsPerInstance", 100.0)


@pytest.mark.parametrize(("lo", "hi", "words"), [
    (3, 2, "min capacity 3 exceeds max capacity 2"),
    (-1, 2, "negative"),
    (0, 0, "at least 1"),
])
def test_bad_bounds_change_nothing(moto_session: AwsSession, endpoint: str, lo: int, hi: int,
                                   words: str) -> None:
    service = AutoscalingService(moto_session)
    service.apply(service.plan(endpoint, spec(**SCALE_TO_ZERO)))
    before = raw_state(moto_session, endpoint)
    bad = ScalingSpec.model_construct(min_capacity=lo, max_capacity=hi, target_tracking=[],
                                      scale_out_from_zero=None)
    with pytest.raises(InvalidScaling, match=words):
        service.plan(endpoint, bad)
    assert raw_state(moto_session, endpoint) == before


def test_new_target_needs_both_bounds(moto_session: AwsSession, endpoint: str) -> None:
    with pytest.raises(InvalidScaling, match="no scalable target yet: give --min"):
        AutoscalingService(moto_session).plan(endpoint, spec(max_capacity=2))


def test_quota_warning_for_g4dn(moto_session: AwsSession, endpoint: str) -> None:
    plan = AutoscalingService(moto_session).plan(endpoint, spec(min_capacity=0, max_capacity=5))
    assert any("default endpoint quota for ml.g4dn.xlarge (4)" in w for w in plan.warnings)
    assert not AutoscalingService(moto_session).plan(
        endpoint, spec(min_capacity=0, max_capacity=4)).warnings


def test_failure_half_way_restores_previous_state(moto_session: AwsSession,
                                                  endpoint: str) -> None:
    service = AutoscalingService(moto_session)
    service.apply(service.plan(endpoint, spec(min_capacity=1, max_capacity=2, target_tracking=[
        {"metric": "ApproximateAgeOfOldestRequest", "target": 60}])))
    before = raw_state(moto_session, endpoint)

    # The alarm is the last call: by then the bounds and both policies have changed.
    def refuse(**_: Any) -> None:
        raise errors.AwsError("LimitExceeded", "too many alarms", "PutMetricAlarm")

    cloudwatch = moto_session.client("cloudwatch")
    cloudwatch.meta.events.register("before-call.cloudwatch.PutMetricAlarm", refuse)
    try:
        result = service.apply(service.plan(endpoint, spec(**SCALE_TO_ZERO)))
    finally:
        cloudwatch.meta.events.unregister("before-call.cloudwatch.PutMetricAlarm", refuse)
    assert not result.applied and result.rolled_back
    assert "too many alarms" in result.message() and "previous state was restored" in (
        result.message())
    assert raw_state(moto_session, endpoint) == before


def test_failure_on_a_new_target_deregisters_it(moto_session: AwsSession, endpoint: str) -> None:
    service = AutoscalingService(moto_session)

    def refuse(**_: Any) -> None:
        raise errors.AwsError("ValidationException", "bad policy", "PutScalingPolicy")

    aas = moto_session.client("application-autoscaling")
    aas.meta.events.register("before-call.application-autoscaling.PutScalingPolicy", refuse)
    try:
        result = service.apply(service.plan(endpoint, spec(**SCALE_TO_ZERO)))
    finally:
        aas.meta.events.unregister("before-call.application-autoscaling.PutScalingPolicy", refuse)
    assert result.rolled_back
    assert raw_state(moto_session, endpoint)[0] == []
    assert service.describe(endpoint).target is None


def test_describe_missing_endpoint_is_not_found(moto_session: AwsSession) -> None:
    with pytest.raises(errors.NotFound):
        AutoscalingService(moto_session).describe("nope")


def test_variant_by_name(moto_session: AwsSession) -> None:
    make_realtime_endpoint(moto_session, "two", variant="Blue")
    service = AutoscalingService(moto_session)
    assert service.describe("two").variant == "Blue"
    with pytest.raises(errors.NotFound, match="no variant Green"):
        service.describe("two", "Green")
    assert SCALABLE_DIMENSION == "sagemaker:variant:DesiredInstanceCount"


def test_metric_history_reads_cloudwatch(moto_session: AwsSession, endpoint: str) -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    cloudwatch = moto_session.client("cloudwatch")
    cloudwatch.put_metric_data(Namespace="AWS/SageMaker", MetricData=[
        {"MetricName": "ApproximateBacklogSizePerInstance", "Value": float(v),
         "Timestamp": now - timedelta(minutes=10 - v),
         "Dimensions": [{"Name": "EndpointName", "Value": endpoint}]}
        for v in range(3)
    ])
    series = AutoscalingService(moto_session, clock=lambda: now + timedelta(minutes=1)
                                ).metric_history(endpoint)
    assert list(series.values) == [0.0, 1.0, 2.0]
