"""Autoscaling as the console shows it: a variant's target, policies, alarm, and edits to them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

SERVICE_NAMESPACE = "sagemaker"
SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"


def resource_id(endpoint: str, variant: str) -> str:
    return f"endpoint/{endpoint}/variant/{variant}"


@dataclass(frozen=True)
class ScalableTarget:
    resource_id: str
    min_capacity: int
    max_capacity: int
    role_arn: str | None = None


@dataclass(frozen=True)
class ScalingPolicy:
    """One policy; target-tracking fields or step fields are None for the other type."""

    name: str
    policy_type: str  # TargetTrackingScaling | StepScaling
    arn: str = ""
    metric: str | None = None
    statistic: str | None = None
    target: float | None = None
    scale_in_cooldown: int | None = None
    scale_out_cooldown: int | None = None
    adjustment: int | None = None
    cooldown: int | None = None
    alarms: tuple[str, ...] = ()

    def summary(self) -> str:
        """One line: what the policy watches and what it does."""
        if self.policy_type == "TargetTrackingScaling":
            return (
                f"track {self.metric} ({self.statistic}) at {_num(self.target)}, "
                f"cooldown out {self.scale_out_cooldown}s / in {self.scale_in_cooldown}s"
            )
        step = f"{self.adjustment:+d}" if self.adjustment is not None else "?"
        alarms = ", ".join(self.alarms) or "no alarm"
        return f"step {step} on alarm ({alarms}), cooldown {self.cooldown}s"


@dataclass(frozen=True)
class ScalingAlarm:
    name: str
    metric: str
    statistic: str
    threshold: float
    comparison: str
    period: int
    evaluation_periods: int
    actions: tuple[str, ...] = ()
    state: str | None = None
    datapoints_to_alarm: int | None = None

    def summary(self) -> str:
        op = {"GreaterThanOrEqualToThreshold": ">=", "GreaterThanThreshold": ">",
              "LessThanThreshold": "<", "LessThanOrEqualToThreshold": "<="}.get(
                  self.comparison, self.comparison)
        return (
            f"{self.metric} {self.statistic} {op} {_num(self.threshold)} for "
            f"{self.evaluation_periods}x{self.period}s"
        )


@dataclass(frozen=True)
class ScalingState:
    """What exists now for one endpoint variant."""

    endpoint: str
    variant: str
    instance_type: str | None
    current_instances: int | None
    desired_instances: int | None
    target: ScalableTarget | None
    policies: tuple[ScalingPolicy, ...] = ()
    alarms: tuple[ScalingAlarm, ...] = ()

    @property
    def resource_id(self) -> str:
        return resource_id(self.endpoint, self.variant)


ChangeKind = Literal["add", "change", "remove"]


@dataclass(frozen=True)
class ScalingChange:
    """One line of the diff a person confirms."""

    kind: ChangeKind
    resource: str  # target | policy | alarm
    name: str
    before: str | None = None
    after: str | None = None

    def line(self) -> str:
        sign = {"add": "+", "change": "~", "remove": "-"}[self.kind]
        if self.kind == "change":
            return f"{sign} {self.resource} {self.name}: {self.before} -> {self.after}"
        detail = self.after if self.kind == "add" else self.before
        return f"{sign} {self.resource} {self.name}: {detail}"


@dataclass(frozen=True)
class ScalingPlan:
    """Edits planned against a state; `detail` holds the requests that make them (service-private)."""

    before: ScalingState
    changes: tuple[ScalingChange, ...]
    warnings: tuple[str, ...] = ()
    min_capacity: int = 0
    max_capacity: int = 0
    detail: Any = field(default=None, repr=False, compare=False)

    @property
    def empty(self) -> bool:
        return not self.changes

    def diff_lines(self) -> list[str]:
        return [c.line() for c in self.changes] or ["no changes"]


@dataclass(frozen=True)
class ScalingResult:
    """What apply did: every change, or a rollback and why."""

    applied: bool
    changes: tuple[ScalingChange, ...]
    after: ScalingState | None
    error: str | None = None
    rolled_back: bool = False
    rollback_error: str | None = None

    def message(self) -> str:
        if self.applied:
            return f"applied {len(self.changes)} change(s)"
        if self.rolled_back:
            return f"failed ({self.error}); the previous state was restored"
        if self.rollback_error:
            return (f"failed ({self.error}); restoring the previous state also failed: "
                    f"{self.rollback_error}")
        return f"failed ({self.error})"


def _num(value: float | None) -> str:
    if value is None:
        return "?"
    return f"{value:g}"
