"""A bare app that shows one ops screen, and fixed-data services for snapshots."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fixtures.screen_host import Host  # noqa: F401  (re-exported for the ops screen tests)
from fixtures.screen_host import until as shared_until
from smconsole.models.deploy import (
    CleanupResult,
    DeployPlan,
    DeployProgress,
    DeployResult,
    FieldChange,
    Resource,
)
from smconsole.models.metrics import MetricSeries
from smconsole.models.scaling import (
    ScalableTarget,
    ScalingAlarm,
    ScalingChange,
    ScalingPlan,
    ScalingPolicy,
    ScalingResult,
    ScalingState,
)
from smconsole.ui.settings import ConsoleSettings

NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)


until = functools.partial(shared_until, timeout=20.0)


STATE = ScalingState(
    endpoint="summarizer-prod", variant="AllTraffic", instance_type="ml.g4dn.xlarge",
    current_instances=2, desired_instances=2,
    target=ScalableTarget("endpoint/summarizer-prod/variant/AllTraffic", 0, 4),
    policies=(
        ScalingPolicy("track-ApproximateBacklogSizePerInstance", "TargetTrackingScaling",
                      metric="ApproximateBacklogSizePerInstance", statistic="Average",
                      target=5.0, scale_in_cooldown=300, scale_out_cooldown=60),
        ScalingPolicy("scale-out-from-zero", "StepScaling", arn="arn:step", adjustment=1,
                      cooldown=300, alarms=("summarizer-prod-AllTraffic-HasBacklogWithoutCapacity",)),
    ),
    alarms=(ScalingAlarm("summarizer-prod-AllTraffic-HasBacklogWithoutCapacity",
                         "HasBacklogWithoutCapacity", "Average", 1.0,
                         "GreaterThanOrEqualToThreshold", 60, 2, ("arn:step",), "OK"),),
)


@dataclass
class FixedAutoscaling:
    """Fixed state and history; plans say what a real plan would for a bounds change."""

    state: ScalingState = STATE
    applied: list[ScalingPlan] = field(default_factory=list)
    describes: int = 0

    def describe(self, endpoint: str, variant: str | None = None) -> ScalingState:
        self.describes += 1
        return self.state

    def metric_history(self, endpoint: str, metric: str = "", *, statistic: str = "Average",
                       variant: str | None = None, hours: float = 1.0,
                       period: int = 60) -> MetricSeries:
        values = tuple(float((i * 7) % 13) for i in range(60))
        stamps = tuple(NOW - timedelta(minutes=60 - i) for i in range(60))
        return MetricSeries(metric, statistic, stamps, values)

    def plan(self, endpoint: str, spec: Any, *, variant: str | None = None,
             replace_policies: bool | None = None) -> ScalingPlan:
        change = ScalingChange("change", "target", self.state.resource_id, before="0..4",
                               after=f"{spec.min_capacity}..{spec.max_capacity}")
        return ScalingPlan(self.state, (change,), (), spec.min_capacity, spec.max_capacity)

    def apply(self, plan: ScalingPlan) -> ScalingResult:
        self.applied.append(plan)
        return ScalingResult(True, plan.changes, self.state)


PLAN = DeployPlan(
    endpoint="smconsole-demo", action="update", model_name="smconsole-demo-20261125-093000",
    config_name="smconsole-demo-20261125-093000", variant="AllTraffic",
    changes=(FieldChange("variant.instance_count", "1", "2"),
             FieldChange("model.environment.HF_TASK", None, "feature-extraction")),
    creates=(Resource("model", "smconsole-demo-20261125-093000"),
             Resource("endpoint-config", "smconsole-demo-20261125-093000")),
    current_config="smconsole-demo-20261124-120000",
)

FAILED = DeployResult(
    endpoint="smconsole-demo", status="Failed", elapsed=312.0,
    created=PLAN.creates,
    failure_reason="The primary container for production variant AllTraffic did not pass the "
                   "ping health check.",
    log_lines=("2026-11-25 09:31:02 INFO container.model: loading feature-extraction model",
               ("2026-11-25 09:31:03 ERROR container.server: model failed to load: OSError: "
               "no config.json in /opt/ml/model/model")),
)


@dataclass
class FixedDeploy:
    result: DeployResult = FAILED
    cleaned: list[tuple[Resource, ...]] = field(default_factory=list)

    def plan(self, spec: Any) -> DeployPlan:
        return PLAN

    def deploy(self, target: Any, progress: Any = None, *, timeout: float = 3600.0
               ) -> DeployResult:
        for i, status in enumerate(("Updating", "Updating", "Failed")):
            if progress:
                progress(DeployProgress("waiting", status, 100.0 * (i + 1)))
        return self.result

    def cleanup(self, created: tuple[Resource, ...]) -> CleanupResult:
        self.cleaned.append(tuple(created))
        return CleanupResult(tuple(reversed(created)))


@dataclass
class Services:
    """The ops screens' share of ui.protocols.ServicesApi; the rest is not used by them."""

    autoscaling: Any = None
    deploy: Any = None
    container: Any = None
    endpoints: Any = None
    logs: Any = None
    metrics: Any = None
    requests: Any = None
    outputs: Any = None
    label: str = "local"
    read_only: bool = False


Settings = ConsoleSettings
