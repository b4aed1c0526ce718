"""Fixed cost figures for the cost view's Pilot and snapshot tests (no AWS, no clock)."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from smconsole.models.cost import (
    CapacityStep,
    EndpointCost,
    PolicyProposal,
    Price,
    Simulation,
    SimulationResult,
    WindowCost,
)
from smconsole.models.scaling import ScalingChange, ScalingPlan, ScalingResult, ScalingState

END = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
WEEK = timedelta(days=7)


def windows(hours_7d: float, idle_7d: float, requests: int, rate: float | None,
            hours_24h: float, idle_24h: float, requests_24h: int) -> tuple[WindowCost, ...]:
    def usd(h: float) -> float | None:
        return None if rate is None else h * rate

    return (
        WindowCost("24h", END - timedelta(days=1), END, hours_24h, idle_24h, requests_24h,
                   usd(hours_24h), usd(idle_24h)),
        WindowCost("7d", END - WEEK, END, hours_7d, idle_7d, requests, usd(hours_7d),
                   usd(idle_7d)),
    )


def bursty_timeline() -> tuple[CapacityStep, ...]:
    steps = [CapacityStep(END - WEEK, 0)]
    for day in range(7):
        start = END - WEEK + timedelta(days=day, hours=9)
        steps += [CapacityStep(start, 1), CapacityStep(start + timedelta(hours=2), 2),
                  CapacityStep(start + timedelta(hours=3), 1),
                  CapacityStep(start + timedelta(hours=4), 0)]
    return tuple(steps)


COSTS = [
    EndpointCost(
        name="forgotten-tutorial", region="us-east-1", instance_type="ml.g5.xlarge",
        price=Price("ml.g5.xlarge", "us-east-1", 1.408, "shipped 2026-12-01"), instances_now=1,
        has_target=False, min_capacity=None, max_capacity=None,
        windows=windows(168, 168, 0, 1.408, 24, 24, 0),
        timeline=(CapacityStep(END - WEEK, 1),), idle_for_s=9 * 86400, stranded=True,
        stranded_reason="1 instance(s), no scalable target, no backlog or request for 9d 0h"),
    EndpointCost(
        name="mystery-model", region="us-east-1", instance_type="ml.g6.xlarge",
        price=Price("ml.g6.xlarge", "us-east-1", None, "unknown"), instances_now=2,
        has_target=True, min_capacity=2, max_capacity=4,
        windows=windows(336, 300, 1200, None, 48, 40, 300),
        timeline=(CapacityStep(END - WEEK, 2),), idle_for_s=600, stranded=False),
    EndpointCost(
        name="summarizer-prod", region="us-east-1", instance_type="ml.g5.2xlarge",
        price=Price("ml.g5.2xlarge", "us-east-1", 1.515, "shipped 2026-12-01"), instances_now=0,
        has_target=True, min_capacity=0, max_capacity=2,
        windows=windows(35, 7, 42000, 1.515, 5, 1, 6000), timeline=bursty_timeline(),
        idle_for_s=3600, stranded=False, cold_start_s=212, cold_start_samples=7),
]

CURRENT = PolicyProposal("current", 0, 0, None, fixed_instances=1)


def result(p: PolicyProposal, hours: float, saved: float | None, cold: int, delayed: int,
           p50: float, p99: float) -> SimulationResult:
    return SimulationResult(p, hours, hours * 1.408, saved, cold, 480, delayed, p50, p99,
                            p99 + 30)


PROPOSALS = [PolicyProposal(f"zero-{n}", 0, 1, 5.0, scale_in_cooldown_s=c)
             for n, c in (("5m", 300), ("15m", 900), ("1h", 3600))]
SIMULATION = Simulation(
    endpoint="forgotten-tutorial", start=END - WEEK, end=END, cold_start_s=300,
    cold_start_measured=False, current=result(CURRENT, 168, None, 0, 0, 0, 0),
    proposals=(result(PROPOSALS[0], 4.2, 230.62, 21, 60, 0, 420),
               result(PROPOSALS[1], 7.5, 225.97, 14, 40, 0, 420),
               result(PROPOSALS[2], 21.0, 206.99, 7, 21, 0, 420)),
)


class FixedCost:
    """The CostApi with the figures above; records what was planned and applied."""

    def __init__(self) -> None:
        self.planned: list[str] = []
        self.applied: list[str] = []
        self.since: list[timedelta] = []
        self.lock = threading.Lock()

    def all_costs(self, *, since: timedelta = WEEK) -> list[EndpointCost]:
        self.since.append(since)
        if since == timedelta(days=1):  # the service's windows for a day: the hour, the day
            return [replace(c, windows=(replace(c.windows[0], label="1h"),
                                        replace(c.windows[-1], label="24h")))
                    for c in COSTS]
        return list(COSTS)

    def endpoint_cost(self, name: str, *, since: timedelta = WEEK) -> EndpointCost:
        self.since.append(since)
        return next(c for c in COSTS if c.name == name)

    def simulate(self, name: str, *, since: timedelta = WEEK,
                 proposals: list[PolicyProposal] | None = None) -> Simulation:
        return SIMULATION

    def plan_proposal(self, name: str, proposal: PolicyProposal) -> ScalingPlan:
        self.planned.append(proposal.name)
        state = ScalingState(name, "AllTraffic", "ml.g5.xlarge", 1, 1, None)
        return ScalingPlan(state, (ScalingChange("add", "target", state.resource_id,
                                                 after="0..1"),), min_capacity=0, max_capacity=1,
                           detail=proposal)

    def apply(self, plan: ScalingPlan) -> ScalingResult:
        self.applied.append(plan.detail.name)
        return ScalingResult(True, plan.changes, plan.before)

    def price(self, instance_type: str | None) -> Price:
        known = {c.instance_type: c.price for c in COSTS}
        return known.get(instance_type, Price(instance_type or "", "us-east-1", None, "unknown"))


class Services:
    """Only what the cost view uses; the rest of the bundle is absent."""

    def __init__(self, cost: Any = None, *, read_only: bool = False) -> None:
        self.cost = cost
        self.read_only = read_only
        self.deploy = None
        self.label = "fixed"
