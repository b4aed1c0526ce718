"""What an endpoint costs: prices, instance-hours over a window, and scale-to-zero proposals."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Price:
    """One instance type's on-demand hosting price; `usd_per_hour` None means unknown."""

    instance_type: str
    region: str
    usd_per_hour: float | None
    source: str  # "override", "pricing-api 2026-12-01", "shipped 2026-12-01", "unknown"

    @property
    def known(self) -> bool:
        return self.usd_per_hour is not None


@dataclass(frozen=True)
class CapacityStep:
    """From `start` on, `instances` were provisioned (until the next step)."""

    start: datetime
    instances: int


@dataclass(frozen=True)
class WindowCost:
    """One window (last 24 h, last 7 d) of one endpoint."""

    label: str
    start: datetime
    end: datetime
    instance_hours: float
    idle_instance_hours: float  # provisioned while the backlog was empty
    requests: int | None  # InvocationsProcessed; None when CloudWatch has no such metric
    usd: float | None  # None when the price is unknown
    idle_usd: float | None

    @property
    def usd_per_1k(self) -> float | None:
        if self.usd is None or not self.requests:
            return None
        return self.usd / self.requests * 1000


@dataclass(frozen=True)
class EndpointCost:
    """Everything the cost views show about one endpoint."""

    name: str
    region: str
    instance_type: str | None
    price: Price
    instances_now: int
    has_target: bool
    min_capacity: int | None
    max_capacity: int | None
    windows: tuple[WindowCost, ...]
    timeline: tuple[CapacityStep, ...]  # oldest first, over the longest window
    idle_for_s: float | None  # since the backlog was last non-empty (None: never seen)
    stranded: bool
    stranded_reason: str | None = None
    cold_start_s: float | None = None  # median measured scale-out-from-zero → serving
    cold_start_samples: int = 0
    notes: tuple[str, ...] = ()

    @property
    def usd_per_hour_now(self) -> float | None:
        if self.price.usd_per_hour is None:
            return None
        return self.instances_now * self.price.usd_per_hour

    def window(self, label: str) -> WindowCost | None:
        return next((w for w in self.windows if w.label == label), None)

    def instances_per_bucket(self, buckets: int) -> list[float]:
        """Mean instances in each of `buckets` equal slices of the longest window (for plots)."""
        if not self.windows or buckets < 1:
            return []
        start, end = self.windows[-1].start, self.windows[-1].end
        size = (end - start) / buckets
        steps = list(self.timeline)
        out: list[float] = []
        for b in range(buckets):
            lo, hi = start + size * b, start + size * (b + 1)
            total = 0.0
            for i, step in enumerate(steps):
                until = steps[i + 1].start if i + 1 < len(steps) else end
                overlap = (min(until, hi) - max(step.start, lo)).total_seconds()
                if overlap > 0:
                    total += step.instances * overlap
            out.append(total / size.total_seconds() if size.total_seconds() else 0.0)
        return out


@dataclass(frozen=True)
class PolicyProposal:
    """A scaling policy to replay history through (the fields the simulator understands)."""

    name: str
    min_capacity: int
    max_capacity: int
    target: float | None  # ApproximateBacklogSizePerInstance target; None: no tracking
    scale_in_cooldown_s: int = 300
    scale_out_cooldown_s: int = 60
    step: bool = True  # the +1 step policy on HasBacklogWithoutCapacity
    step_period_s: int = 60
    step_evaluation_periods: int = 2
    step_cooldown_s: int = 300
    fixed_instances: int | None = None  # no scalable target: this many, always

    def describe(self) -> str:
        if self.fixed_instances is not None:
            return f"no autoscaling, {self.fixed_instances} instance(s)"
        step = (f", +1 step after {self.step_evaluation_periods}x{self.step_period_s}s"
                if self.step else ", no step policy")
        target = f"backlog/instance {self.target:g}" if self.target else "no tracking"
        return (f"{self.min_capacity}..{self.max_capacity}, {target}, "
                f"scale-in {self.scale_in_cooldown_s}s{step}")


@dataclass(frozen=True)
class SimulationResult:
    """One proposal replayed through the history."""

    proposal: PolicyProposal
    instance_hours: float
    usd: float | None
    saved_usd: float | None  # against the current policy replayed the same way
    cold_starts: int
    requests: int
    delayed_requests: int
    extra_wait_p50_s: float
    extra_wait_p99_s: float
    extra_wait_max_s: float


@dataclass(frozen=True)
class Simulation:
    """Side by side: the current policy and 2-3 proposals over the same history."""

    endpoint: str
    start: datetime
    end: datetime
    cold_start_s: float
    cold_start_measured: bool
    current: SimulationResult
    proposals: tuple[SimulationResult, ...] = field(default=())
