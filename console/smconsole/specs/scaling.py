"""Autoscaling specs: bounds, target-tracking policies and the scale-out-from-zero step policy.

Used on its own by `smconsole scale NAME --policy FILE.yaml` and as the `autoscaling:` block of a
deploy spec.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from smconsole.specs.common import Spec
from smconsole.specs.located import load_spec

# The metrics a SageMaker variant can track. The async ones need a customized metric
# specification; only InvocationsPerInstance has a predefined type (and async endpoints do not
# publish it, so it suits real-time variants).
ASYNC_METRICS = (
    "ApproximateBacklogSizePerInstance",
    "ApproximateBacklogSize",
    "ApproximateAgeOfOldestRequest",
    "HasBacklogWithoutCapacity",
)
TrackedMetric = Literal[
    "ApproximateBacklogSizePerInstance",
    "ApproximateBacklogSize",
    "ApproximateAgeOfOldestRequest",
    "HasBacklogWithoutCapacity",
    "InvocationsPerInstance",
]
Statistic = Literal["Average", "Maximum", "Minimum", "Sum", "SampleCount"]

# What AWS's samples use per metric when the spec names none.
DEFAULT_STATISTIC: dict[str, Statistic] = {
    "ApproximateBacklogSizePerInstance": "Average",
    "ApproximateBacklogSize": "Average",
    "ApproximateAgeOfOldestRequest": "Maximum",
    "HasBacklogWithoutCapacity": "Average",
    "InvocationsPerInstance": "Sum",
}

# pydantic checks `pattern` with Rust regex, whose `$` is the end of the text (no trailing \n).
POLICY_NAME = r"^[a-zA-Z0-9][a-zA-Z0-9_.:/-]{0,255}$"


class TargetTrackingSpec(Spec):
    """A target-tracking policy on one metric of the variant."""

    metric: TrackedMetric
    target: float = Field(gt=0)
    statistic: Statistic | None = None
    scale_in_cooldown: int = Field(default=300, ge=0, le=86400)
    scale_out_cooldown: int = Field(default=60, ge=0, le=86400)
    disable_scale_in: bool = False
    name: str | None = Field(default=None, pattern=POLICY_NAME)

    @property
    def effective_statistic(self) -> Statistic:
        return self.statistic or DEFAULT_STATISTIC[self.metric]


class ScaleOutFromZeroSpec(Spec):
    """The +1 StepScaling policy fired by an alarm on HasBacklogWithoutCapacity.

    Without it an endpoint at zero instances wakes only once the backlog passes the tracking
    target, because there is no instance to divide the backlog by.
    """

    adjustment: int = Field(default=1, ge=1, le=100)
    cooldown: int = Field(default=300, ge=0, le=86400)
    period: int = Field(default=60, ge=10, le=86400)
    evaluation_periods: int = Field(default=2, ge=1, le=100)
    datapoints_to_alarm: int | None = Field(default=None, ge=1, le=100)
    name: str | None = Field(default=None, pattern=POLICY_NAME)

    @model_validator(mode="after")
    def _datapoints_fit(self) -> ScaleOutFromZeroSpec:
        if self.datapoints_to_alarm is not None and self.datapoints_to_alarm > self.evaluation_periods:
            raise ValueError("datapoints_to_alarm must not exceed evaluation_periods")
        return self


class ScalingSpec(Spec):
    """Bounds and policies for one variant; bounds may come from the command line instead."""

    min_capacity: int | None = Field(default=None, ge=0, le=10000)
    max_capacity: int | None = Field(default=None, ge=0, le=10000)
    target_tracking: list[TargetTrackingSpec] = Field(default_factory=list, max_length=10)
    scale_out_from_zero: ScaleOutFromZeroSpec | None = None

    @model_validator(mode="after")
    def _bounds_ordered(self) -> ScalingSpec:
        lo, hi = self.min_capacity, self.max_capacity
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"min_capacity ({lo}) must not exceed max_capacity ({hi})")
        if hi == 0:
            raise ValueError("max_capacity must be at least 1")
        names = [p.metric for p in self.target_tracking]
        dupes = sorted({m for m in names if names.count(m) > 1})
        if dupes:
            raise ValueError(f"one target-tracking policy per metric: {', '.join(dupes)} repeats")
        return self


def load_scaling_spec(path: str | Path) -> ScalingSpec:
    """Read and validate a scaling policy file; SpecError (file:line: field) when it is wrong."""
    return load_spec(path, ScalingSpec)
