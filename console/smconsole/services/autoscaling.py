"""Application Auto Scaling for endpoint variants: describe, plan an edit as a diff, apply, roll back.

An edit is planned in full before any call: bounds checked (0 <= Min <= Max), policies built,
the diff computed. Apply then makes the calls in order; when one fails, the variant is put back
to the state described before planning (target, policies, alarms) and the result says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from smconsole import errors
from smconsole.models.metrics import MetricSeries
from smconsole.models.scaling import (
    SCALABLE_DIMENSION,
    SERVICE_NAMESPACE,
    ScalableTarget,
    ScalingAlarm,
    ScalingChange,
    ScalingPlan,
    ScalingPolicy,
    ScalingResult,
    ScalingState,
    resource_id,
)
from smconsole.session import AwsSession
from smconsole.specs.scaling import (
    ASYNC_METRICS,
    ScaleOutFromZeroSpec,
    ScalingSpec,
    TargetTrackingSpec,
)

NAMESPACE = "AWS/SageMaker"
SCALE_OUT_FROM_ZERO_POLICY = "scale-out-from-zero"
STEP_METRIC = "HasBacklogWithoutCapacity"
PREDEFINED_INVOCATIONS = "SageMakerVariantInvocationsPerInstance"

# Default per-account endpoint quotas people hit first (Service Quotas can raise them). The seed
# caps g4dn.xlarge at 4 for this reason; unknown types get no warning rather than a guess.
DEFAULT_QUOTAS: dict[str, int] = {
    "ml.g4dn.xlarge": 4, "ml.g4dn.2xlarge": 4, "ml.g4dn.4xlarge": 4, "ml.g4dn.8xlarge": 4,
    "ml.g4dn.12xlarge": 4, "ml.g4dn.16xlarge": 4,
    "ml.g5.xlarge": 4, "ml.g5.2xlarge": 4, "ml.g5.4xlarge": 4, "ml.g5.8xlarge": 4,
    "ml.g5.12xlarge": 4, "ml.g5.16xlarge": 4, "ml.g5.24xlarge": 4, "ml.g5.48xlarge": 4,
    "ml.g6.xlarge": 4, "ml.g6.2xlarge": 4, "ml.g6.4xlarge": 4, "ml.g6.12xlarge": 4,
    "ml.p3.2xlarge": 2, "ml.p4d.24xlarge": 0, "ml.p5.48xlarge": 0,
}

_ALARM_FIELDS = (
    "AlarmName", "AlarmDescription", "ActionsEnabled", "OKActions", "AlarmActions",
    "InsufficientDataActions", "MetricName", "Namespace", "Statistic", "Dimensions", "Period",
    "EvaluationPeriods", "DatapointsToAlarm", "Threshold", "ComparisonOperator",
    "TreatMissingData",
)


class InvalidScaling(errors.SmconsoleError):
    """An edit that cannot be applied as given (bounds out of order, no bounds for a new target)."""


def alarm_name(endpoint: str, variant: str) -> str:
    """Alarm names are account-wide, so ours carries the endpoint and variant."""
    return f"{endpoint}-{variant}-{STEP_METRIC}"


def tracking_policy_name(metric: str) -> str:
    return f"track-{metric}"


@dataclass(frozen=True)
class _Snapshot:
    """The raw describe answers an edit may have to restore."""

    target: dict[str, Any] | None
    policies: dict[str, dict[str, Any]]
    alarms: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class _Desired:
    min_capacity: int
    max_capacity: int
    register: bool
    put_policies: tuple[dict[str, Any], ...] = ()
    delete_policies: tuple[str, ...] = ()
    alarm: dict[str, Any] | None = None  # PutMetricAlarm's request, AlarmActions still empty
    # The step policy the alarm fires: AlarmActions get its ARN at apply time (from the
    # PutScalingPolicy answer, or looked up when the policy itself is unchanged).
    alarm_policy: str = SCALE_OUT_FROM_ZERO_POLICY
    delete_alarms: tuple[str, ...] = ()
    snapshot: _Snapshot = field(default_factory=lambda: _Snapshot(None, {}, {}))


class AutoscalingService:
    """Scalable targets, scaling policies and the scale-from-zero alarm of endpoint variants."""

    def __init__(self, session: AwsSession, *, clock: Callable[[], datetime] | None = None) -> None:
        self._session = session
        self._clock = clock or (lambda: datetime.now(UTC))

    @property
    def _aas(self) -> Any:
        return self._session.client("application-autoscaling")

    @property
    def _cw(self) -> Any:
        return self._session.client("cloudwatch")

    # ---- describe -----------------------------------------------------------------------

    def describe(self, endpoint: str, variant: str | None = None) -> ScalingState:
        """The variant's target, policies and their alarms, with current and desired counts."""
        state, _ = self._describe(endpoint, variant)
        return state

    def _describe(self, endpoint: str, variant: str | None) -> tuple[ScalingState, _Snapshot]:
        desc = self._session.client("sagemaker").describe_endpoint(EndpointName=endpoint)
        variants = desc.get("ProductionVariants") or []
        chosen = next((v for v in variants if variant in (None, v.get("VariantName"))), None)
        if variant is None and chosen is None:
            raise errors.NotFound(f"endpoint {endpoint} has no production variant yet")
        variant = variant or chosen["VariantName"]
        if chosen is None:
            names = ", ".join(v.get("VariantName", "?") for v in variants) or "none"
            raise errors.NotFound(f"endpoint {endpoint} has no variant {variant} (has: {names})")
        instance_type = chosen.get("CurrentInstanceType") or chosen.get("InstanceType")
        if instance_type is None:
            instance_type = self._config_instance_type(desc.get("EndpointConfigName"), variant)
        rid = resource_id(endpoint, variant)
        snapshot = self._snapshot(endpoint, variant)
        raw_target = snapshot.target
        target = None if raw_target is None else ScalableTarget(
            rid, int(raw_target["MinCapacity"]), int(raw_target["MaxCapacity"]),
            raw_target.get("RoleARN"),
        )
        state = ScalingState(
            endpoint=endpoint, variant=variant, instance_type=instance_type,
            current_instances=chosen.get("CurrentInstanceCount"),
            desired_instances=chosen.get("DesiredInstanceCount"),
            target=target,
            policies=tuple(_policy(p) for p in snapshot.policies.values()),
            alarms=tuple(_alarm(a) for a in snapshot.alarms.values()),
        )
        return state, snapshot

    def _config_instance_type(self, config_name: str | None, variant: str) -> str | None:
        if not config_name:
            return None
        config = self._session.client("sagemaker").describe_endpoint_config(
            EndpointConfigName=config_name)
        for item in config.get("ProductionVariants", []):
            if item.get("VariantName") == variant:
                return item.get("InstanceType")
        return None

    def _snapshot(self, endpoint: str, variant: str) -> _Snapshot:
        rid = resource_id(endpoint, variant)
        targets = self._aas.describe_scalable_targets(
            ServiceNamespace=SERVICE_NAMESPACE, ResourceIds=[rid],
            ScalableDimension=SCALABLE_DIMENSION,
        ).get("ScalableTargets", [])
        raw_policies = self._aas.describe_scaling_policies(
            ServiceNamespace=SERVICE_NAMESPACE, ResourceId=rid,
            ScalableDimension=SCALABLE_DIMENSION,
        ).get("ScalingPolicies", [])
        policies = {p["PolicyName"]: p for p in raw_policies}
        names = {alarm_name(endpoint, variant)}
        for policy in raw_policies:
            names.update(a["AlarmName"] for a in policy.get("Alarms", []) if a.get("AlarmName"))
        raw_alarms = self._cw.describe_alarms(AlarmNames=sorted(names)).get("MetricAlarms", [])
        return _Snapshot(
            target=targets[0] if targets else None,
            policies=policies,
            alarms={a["AlarmName"]: a for a in raw_alarms},
        )

    def metric_history(
        self, endpoint: str, metric: str = "ApproximateBacklogSizePerInstance", *,
        statistic: str = "Average", variant: str | None = None, hours: float = 1.0,
        period: int = 60,
    ) -> MetricSeries:
        """The tracked metric over the last `hours`, oldest first (for the editor's plot)."""
        dims = [{"Name": "EndpointName", "Value": endpoint}]
        if metric not in ASYNC_METRICS and variant:
            dims.append({"Name": "VariantName", "Value": variant})
        end = self._clock()
        start = end - timedelta(hours=hours)
        answer = self._cw.get_metric_data(
            MetricDataQueries=[{
                "Id": "m0", "ReturnData": True,
                "MetricStat": {
                    "Metric": {"Namespace": NAMESPACE, "MetricName": metric,
                               "Dimensions": dims},
                    "Period": period, "Stat": statistic,
                },
            }],
            StartTime=start, EndTime=end, ScanBy="TimestampAscending",
        )
        results = answer.get("MetricDataResults") or [{}]
        pairs = sorted(zip(results[0].get("Timestamps", []), results[0].get("Values", []),
                           strict=False))
        return MetricSeries(
            name=metric, stat=statistic,
            timestamps=tuple(t for t, _ in pairs), values=tuple(float(v) for _, v in pairs),
            dimensions=tuple((d["Name"], d["Value"]) for d in dims),
        )

    # ---- plan ---------------------------------------------------------------------------

    def plan(
        self, endpoint: str, spec: ScalingSpec, *, variant: str | None = None,
        replace_policies: bool | None = None,
    ) -> ScalingPlan:
        """The diff that makes the variant match `spec`; no call changes anything here.

        Bounds missing from `spec` keep the current ones. Policies are replaced by the spec's
        when it names any (or `replace_policies` says so); otherwise they stay as they are.
        """
        state, snapshot = self._describe(endpoint, variant)
        return self.plan_against(state, snapshot, spec, replace_policies=replace_policies)

    def plan_new(
        self, endpoint: str, variant: str, instance_type: str | None, spec: ScalingSpec,
    ) -> ScalingPlan:
        """The plan for a variant that does not exist yet (a deploy's dry run)."""
        state = ScalingState(endpoint, variant, instance_type, None, None, None)
        return self.plan_against(state, _Snapshot(None, {}, {}), spec, replace_policies=True)

    def plan_against(
        self, state: ScalingState, snapshot: _Snapshot, spec: ScalingSpec, *,
        replace_policies: bool | None = None,
    ) -> ScalingPlan:
        """The plan for `state`/`snapshot` as already described; see `decide`."""
        return decide(state, snapshot, spec, replace_policies=replace_policies)

    # ---- apply --------------------------------------------------------------------------

    def apply(self, plan: ScalingPlan) -> ScalingResult:
        """Make the planned calls; on a failure restore the snapshot taken when planning."""
        desired: _Desired = plan.detail
        state = plan.before
        if plan.empty:
            return ScalingResult(True, (), state)
        try:
            self._apply(state, desired)
        except errors.SmconsoleError as exc:
            try:
                self._restore(state, desired.snapshot)
            except errors.SmconsoleError as again:
                return ScalingResult(False, plan.changes, None, error=str(exc),
                                     rollback_error=str(again))
            return ScalingResult(False, plan.changes, self.describe(state.endpoint, state.variant),
                                 error=str(exc), rolled_back=True)
        return ScalingResult(True, plan.changes, self.describe(state.endpoint, state.variant))

    def _apply(self, state: ScalingState, desired: _Desired) -> None:
        rid = state.resource_id
        if desired.register:
            self._register(rid, desired.min_capacity, desired.max_capacity)
        for name in desired.delete_alarms:
            self._cw.delete_alarms(AlarmNames=[name])
        for name in desired.delete_policies:
            self._delete_policy(rid, name)
        step_arn = ""
        for request in desired.put_policies:
            answer = self._aas.put_scaling_policy(**request)
            if request["PolicyType"] == "StepScaling":
                step_arn = answer["PolicyARN"]
        if desired.alarm is not None:
            if not step_arn:
                step_arn = self._policy_arn(rid, desired.alarm_policy)
            params = {**desired.alarm, "AlarmActions": [step_arn]}
            self._cw.put_metric_alarm(**params)

    def _restore(self, state: ScalingState, snap: _Snapshot) -> None:
        """Converge back to `snap`: bounds, policies and alarms as they were."""
        rid = state.resource_id
        now = self._snapshot(state.endpoint, state.variant)
        for name in now.alarms.keys() - snap.alarms.keys():
            self._cw.delete_alarms(AlarmNames=[name])
        for name in now.policies.keys() - snap.policies.keys():
            self._delete_policy(rid, name)
        if snap.target is None:
            if now.target is not None:
                self._aas.deregister_scalable_target(
                    ServiceNamespace=SERVICE_NAMESPACE, ResourceId=rid,
                    ScalableDimension=SCALABLE_DIMENSION,
                )
            return
        self._register(rid, int(snap.target["MinCapacity"]), int(snap.target["MaxCapacity"]))
        for raw in snap.policies.values():
            if now.policies.get(raw["PolicyName"]) != raw:
                self._aas.put_scaling_policy(**_policy_request(raw))
        for raw in snap.alarms.values():
            if now.alarms.get(raw["AlarmName"]) != raw:
                self._cw.put_metric_alarm(**{k: raw[k] for k in _ALARM_FIELDS if k in raw})

    def _register(self, rid: str, lo: int, hi: int) -> None:
        self._aas.register_scalable_target(
            ServiceNamespace=SERVICE_NAMESPACE, ResourceId=rid,
            ScalableDimension=SCALABLE_DIMENSION, MinCapacity=lo, MaxCapacity=hi,
        )

    def _delete_policy(self, rid: str, name: str) -> None:
        self._aas.delete_scaling_policy(
            PolicyName=name, ServiceNamespace=SERVICE_NAMESPACE, ResourceId=rid,
            ScalableDimension=SCALABLE_DIMENSION,
        )

    def _policy_arn(self, rid: str, name: str) -> str:
        found = self._aas.describe_scaling_policies(
            ServiceNamespace=SERVICE_NAMESPACE, ResourceId=rid, PolicyNames=[name],
            ScalableDimension=SCALABLE_DIMENSION,
        ).get("ScalingPolicies", [])
        if not found:
            raise errors.NotFound(f"step policy {name} is missing")
        return str(found[0]["PolicyARN"])

    def remove(self, endpoint: str, variant: str) -> None:
        """Delete the variant's alarm, policies and target (cleanup after a failed deploy)."""
        snap = self._snapshot(endpoint, variant)
        rid = resource_id(endpoint, variant)
        for name in snap.alarms:
            self._cw.delete_alarms(AlarmNames=[name])
        for name in snap.policies:
            self._delete_policy(rid, name)
        if snap.target is not None:
            self._aas.deregister_scalable_target(
                ServiceNamespace=SERVICE_NAMESPACE, ResourceId=rid,
                ScalableDimension=SCALABLE_DIMENSION,
            )


# ---- deciding what changes (pure: no calls) ---------------------------------------------

def decide(
    state: ScalingState, snapshot: _Snapshot, spec: ScalingSpec, *,
    replace_policies: bool | None = None,
) -> ScalingPlan:
    """What must change for the variant described by `state`/`snapshot` to match `spec`.

    Bounds missing from `spec` keep the current ones. Policies (and the step alarm) are
    replaced by the spec's when it names any, or when `replace_policies` says so.
    """
    lo, hi = _decide_bounds(state.target, spec)
    register, changes = _decide_target(state, lo, hi)
    if replace_policies is None:
        replace_policies = bool(spec.target_tracking) or spec.scale_out_from_zero is not None
    put: list[dict[str, Any]] = []
    delete: list[str] = []
    alarm: dict[str, Any] | None = None
    delete_alarms: list[str] = []
    if replace_policies:
        policy_changes, put, delete = _decide_policies(state, snapshot, spec)
        alarm_changes, alarm, delete_alarms = _decide_alarm(state, snapshot, spec, put)
        changes += policy_changes + alarm_changes
    detail = _Desired(
        min_capacity=lo, max_capacity=hi, register=register, put_policies=tuple(put),
        delete_policies=tuple(delete), alarm=alarm, alarm_policy=alarm_policy_name(spec),
        delete_alarms=tuple(delete_alarms), snapshot=snapshot,
    )
    return ScalingPlan(
        before=state, changes=tuple(changes),
        warnings=tuple(_warnings(state, lo, hi, spec, replace_policies=replace_policies)),
        min_capacity=lo, max_capacity=hi, detail=detail,
    )


def _decide_bounds(current: ScalableTarget | None, spec: ScalingSpec) -> tuple[int, int]:
    """(min, max) to register: the spec's, else the current target's; checked."""
    lo = spec.min_capacity if spec.min_capacity is not None else (
        current.min_capacity if current else None)
    hi = spec.max_capacity if spec.max_capacity is not None else (
        current.max_capacity if current else None)
    check_bounds(lo, hi, has_target=current is not None)
    assert lo is not None and hi is not None
    return lo, hi


def _decide_target(state: ScalingState, lo: int, hi: int) -> tuple[bool, list[ScalingChange]]:
    """Whether to (re-)register the scalable target, and the change that shows."""
    current = state.target
    if current is None:
        return True, [ScalingChange("add", "target", state.resource_id, after=f"{lo}..{hi}")]
    if (current.min_capacity, current.max_capacity) == (lo, hi):
        return False, []
    return True, [ScalingChange(
        "change", "target", state.resource_id,
        before=f"{current.min_capacity}..{current.max_capacity}", after=f"{lo}..{hi}",
    )]


def _decide_policies(
    state: ScalingState, snapshot: _Snapshot, spec: ScalingSpec,
) -> tuple[list[ScalingChange], list[dict[str, Any]], list[str]]:
    """(changes, PutScalingPolicy requests, names to delete) making the policies the spec's."""
    wanted = [tracking_policy(state, tt) for tt in spec.target_tracking]
    if spec.scale_out_from_zero is not None:
        wanted.append(scale_out_from_zero_policy(state, spec.scale_out_from_zero))
    changes: list[ScalingChange] = []
    put: list[dict[str, Any]] = []
    for request in wanted:
        name = request["PolicyName"]
        new = _policy(request).summary()
        old_raw = snapshot.policies.get(name)
        if old_raw is None:
            changes.append(ScalingChange("add", "policy", name, after=new))
            put.append(request)
        elif _policy(old_raw).summary() != new:
            changes.append(ScalingChange("change", "policy", name,
                                         before=_policy(old_raw).summary(), after=new))
            put.append(request)
    wanted_names = {w["PolicyName"] for w in wanted}
    delete: list[str] = []
    for name, raw in snapshot.policies.items():
        if name not in wanted_names:
            changes.append(ScalingChange("remove", "policy", name, before=_policy(raw).summary()))
            delete.append(name)
    return changes, put, delete


def _decide_alarm(
    state: ScalingState, snapshot: _Snapshot, spec: ScalingSpec, put: list[dict[str, Any]],
) -> tuple[list[ScalingChange], dict[str, Any] | None, list[str]]:
    """(changes, PutMetricAlarm request or None, alarms to delete) for our step alarm."""
    our_alarm = alarm_name(state.endpoint, state.variant)
    old_alarm = snapshot.alarms.get(our_alarm)
    if spec.scale_out_from_zero is None:
        if old_alarm is None:
            return [], None, []
        return ([ScalingChange("remove", "alarm", our_alarm, before=_alarm(old_alarm).summary())],
                None, [our_alarm])
    alarm = scale_out_from_zero_alarm(state, spec.scale_out_from_zero)
    new = _alarm(alarm).summary()
    if old_alarm is None:
        return [ScalingChange("add", "alarm", our_alarm, after=new)], alarm, []
    if _alarm(old_alarm).summary() != new:
        return ([ScalingChange("change", "alarm", our_alarm,
                               before=_alarm(old_alarm).summary(), after=new)], alarm, [])
    step_changed = any(p["PolicyName"] == alarm_policy_name(spec) for p in put)
    if not step_changed and _has_action(old_alarm, snapshot, spec):
        return [], None, []  # unchanged and already pointing at the step policy
    return [], alarm, []  # same alarm, but its action must name the (new) step policy's ARN


def _warnings(
    state: ScalingState, lo: int, hi: int, spec: ScalingSpec, *, replace_policies: bool,
) -> list[str]:
    warnings = quota_warnings(state.instance_type, hi)
    if lo == 0 and replace_policies and spec.scale_out_from_zero is None:
        warnings.append(
            "min 0 without scale_out_from_zero: at zero instances the endpoint wakes only "
            "once the backlog passes the tracking target"
        )
    return warnings


# ---- building requests and reading answers ----------------------------------------------

def check_bounds(lo: int | None, hi: int | None, *, has_target: bool = True) -> None:
    """0 <= Min <= Max and Max >= 1, or InvalidScaling naming the bound at fault."""
    if lo is None or hi is None:
        which = "--min and --max" if lo is None and hi is None else (
            "--min" if lo is None else "--max")
        if not has_target:
            raise InvalidScaling(f"the variant has no scalable target yet: give {which}")
        raise InvalidScaling(f"missing {which}")
    if lo < 0:
        raise InvalidScaling(f"min capacity {lo} is negative")
    if hi < 1:
        raise InvalidScaling(f"max capacity {hi} must be at least 1")
    if lo > hi:
        raise InvalidScaling(f"min capacity {lo} exceeds max capacity {hi}")


def quota_warnings(instance_type: str | None, max_capacity: int) -> list[str]:
    quota = DEFAULT_QUOTAS.get(instance_type or "")
    if quota is not None and max_capacity > quota:
        return [(
            f"max {max_capacity} is above the default endpoint quota for {instance_type} "
            f"({quota}); scaling stops at your account's quota unless it was raised"
        )]
    return []


def tracking_policy(state: ScalingState, spec: TargetTrackingSpec) -> dict[str, Any]:
    config: dict[str, Any] = {
        "TargetValue": float(spec.target),
        "ScaleInCooldown": spec.scale_in_cooldown,
        "ScaleOutCooldown": spec.scale_out_cooldown,
        "DisableScaleIn": spec.disable_scale_in,
    }
    if spec.metric == "InvocationsPerInstance":
        config["PredefinedMetricSpecification"] = {"PredefinedMetricType": PREDEFINED_INVOCATIONS}
    else:
        config["CustomizedMetricSpecification"] = {
            "MetricName": spec.metric, "Namespace": NAMESPACE,
            "Dimensions": [{"Name": "EndpointName", "Value": state.endpoint}],
            "Statistic": spec.effective_statistic,
        }
    return {
        "PolicyName": spec.name or tracking_policy_name(spec.metric),
        "ServiceNamespace": SERVICE_NAMESPACE, "ResourceId": state.resource_id,
        "ScalableDimension": SCALABLE_DIMENSION, "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": config,
    }


def scale_out_from_zero_policy(state: ScalingState, spec: ScaleOutFromZeroSpec) -> dict[str, Any]:
    return {
        "PolicyName": spec.name or SCALE_OUT_FROM_ZERO_POLICY,
        "ServiceNamespace": SERVICE_NAMESPACE, "ResourceId": state.resource_id,
        "ScalableDimension": SCALABLE_DIMENSION, "PolicyType": "StepScaling",
        "StepScalingPolicyConfiguration": {
            "AdjustmentType": "ChangeInCapacity",
            "MetricAggregationType": "Average",
            "Cooldown": spec.cooldown,
            "StepAdjustments": [
                {"MetricIntervalLowerBound": 0.0, "ScalingAdjustment": spec.adjustment},
            ],
        },
    }


def scale_out_from_zero_alarm(state: ScalingState, spec: ScaleOutFromZeroSpec) -> dict[str, Any]:
    """The alarm that fires the step policy; AlarmActions get the policy's ARN at apply time."""
    return {
        "AlarmName": alarm_name(state.endpoint, state.variant),
        "AlarmDescription": f"Scale {state.endpoint} out from zero when requests wait",
        "ActionsEnabled": True,
        "MetricName": STEP_METRIC, "Namespace": NAMESPACE, "Statistic": "Average",
        "Dimensions": [{"Name": "EndpointName", "Value": state.endpoint}],
        "Period": spec.period, "EvaluationPeriods": spec.evaluation_periods,
        "DatapointsToAlarm": spec.datapoints_to_alarm or spec.evaluation_periods,
        "Threshold": 1.0, "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "missing",
        "AlarmActions": [],
    }


def alarm_policy_name(spec: ScalingSpec) -> str:
    step = spec.scale_out_from_zero
    return (step.name if step and step.name else SCALE_OUT_FROM_ZERO_POLICY)


def _has_action(raw_alarm: dict[str, Any], snap: _Snapshot, spec: ScalingSpec) -> bool:
    policy = snap.policies.get(alarm_policy_name(spec))
    return policy is not None and policy.get("PolicyARN") in (raw_alarm.get("AlarmActions") or [])


def _policy_request(raw: dict[str, Any]) -> dict[str, Any]:
    keys = ("PolicyName", "ServiceNamespace", "ResourceId", "ScalableDimension", "PolicyType",
            "TargetTrackingScalingPolicyConfiguration", "StepScalingPolicyConfiguration")
    return {k: raw[k] for k in keys if k in raw}


def _policy(raw: dict[str, Any]) -> ScalingPolicy:
    name, kind = raw["PolicyName"], raw.get("PolicyType", "")
    alarms = tuple(a.get("AlarmName", "") for a in raw.get("Alarms", []))
    if kind == "TargetTrackingScaling":
        config = raw.get("TargetTrackingScalingPolicyConfiguration", {})
        custom = config.get("CustomizedMetricSpecification")
        if custom:
            metric, statistic = custom.get("MetricName"), custom.get("Statistic")
        else:
            predefined = config.get("PredefinedMetricSpecification", {})
            kind_name = predefined.get("PredefinedMetricType", "")
            metric = "InvocationsPerInstance" if kind_name == PREDEFINED_INVOCATIONS else kind_name
            statistic = "Sum"
        return ScalingPolicy(
            name=name, policy_type=kind, arn=raw.get("PolicyARN", ""), metric=metric,
            statistic=statistic, target=float(config.get("TargetValue", 0.0)),
            scale_in_cooldown=config.get("ScaleInCooldown"),
            scale_out_cooldown=config.get("ScaleOutCooldown"), alarms=alarms,
        )
    config = raw.get("StepScalingPolicyConfiguration", {})
    steps = config.get("StepAdjustments") or [{}]
    return ScalingPolicy(
        name=name, policy_type=kind, arn=raw.get("PolicyARN", ""),
        adjustment=steps[0].get("ScalingAdjustment"), cooldown=config.get("Cooldown"),
        alarms=alarms,
    )


def _alarm(raw: dict[str, Any]) -> ScalingAlarm:
    return ScalingAlarm(
        name=raw["AlarmName"], metric=raw.get("MetricName", ""),
        statistic=raw.get("Statistic", ""), threshold=float(raw.get("Threshold", 0.0)),
        comparison=raw.get("ComparisonOperator", ""), period=int(raw.get("Period", 0)),
        evaluation_periods=int(raw.get("EvaluationPeriods", 0)),
        actions=tuple(raw.get("AlarmActions") or ()), state=raw.get("StateValue"),
        datapoints_to_alarm=raw.get("DatapointsToAlarm"),
    )

