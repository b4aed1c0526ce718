"""What each endpoint costs and what scale to zero would save, read the way any client can.

Instances over time come from Application Auto Scaling's activity record and the endpoint's
current count (services/capacity.py); the backlog, `HasBacklogWithoutCapacity` and
`InvocationsProcessed` from CloudWatch; prices from the price book. The same calls work on AWS
and on the local stack.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from smconsole import errors
from smconsole.models.cost import (
    CapacityStep,
    EndpointCost,
    PolicyProposal,
    Price,
    Simulation,
    SimulationResult,
    WindowCost,
)
from smconsole.models.scaling import (
    SCALABLE_DIMENSION,
    SERVICE_NAMESPACE,
    ScalingPlan,
    ScalingState,
)
from smconsole.services import capacity, scale_sim
from smconsole.services.autoscaling import STEP_METRIC, AutoscalingService
from smconsole.services.prices import PRICING_REGION, PriceBook
from smconsole.session import AwsSession
from smconsole.specs.scaling import ScaleOutFromZeroSpec, ScalingSpec, TargetTrackingSpec

NAMESPACE = "AWS/SageMaker"
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
STRANDED_AFTER = timedelta(hours=1)
# No scale-out from zero in the record to measure: AWS publishes no figure. Five minutes is
# what a GPU instance launch plus a model download and load commonly takes; it is a stated
# placeholder, shown as such, never presented as measured.
DEFAULT_COLD_START_S = 300.0
TRACKED = "ApproximateBacklogSizePerInstance"


def metric_period(span: timedelta) -> int:
    """CloudWatch keeps 1-minute points 15 days, 5-minute points 63 days."""
    if span <= timedelta(days=15):
        return 60
    return 300 if span <= timedelta(days=63) else 3600


class CostService:
    """Cost per endpoint and the scale-to-zero replay, through one session."""

    def __init__(
        self, session: AwsSession, *, prices: PriceBook | None = None,
        clock: Callable[[], datetime] | None = None,
        stranded_after: timedelta = STRANDED_AFTER, period_s: int | None = None,
    ) -> None:
        """`period_s`: the metrics' resolution (default: 60 s, CloudWatch's for SageMaker, coarser
        for long windows); a local stack publishes on change, so finer periods mean something."""
        self._session = session
        self._clock = clock or (lambda: datetime.now(UTC))
        self._prices = prices
        self._prices_lock = threading.Lock()
        self.stranded_after = stranded_after
        self.period_s = period_s
        self.autoscaling = AutoscalingService(session, clock=self._clock)
        self.notes: list[str] = []

    # ---- prices -------------------------------------------------------------------------

    @property
    def region(self) -> str:
        return self._session.region_name

    @property
    def prices(self) -> PriceBook:
        """Built on first use (it reads the user's override file); refreshed from the Pricing
        API when on AWS and the cache is missing or over 30 days old."""
        with self._prices_lock:
            if self._prices is None:
                self._prices = PriceBook()
                if self._on_aws and self._prices.is_stale(self.region):
                    try:
                        self._prices.refresh(self._pricing, self.region)
                    except errors.SmconsoleError as exc:
                        self.notes.append(f"prices not refreshed from the Pricing API: {exc}")
            return self._prices

    @property
    def _on_aws(self) -> bool:
        return self._session.endpoint_url is None and not self._session.is_local

    @property
    def _pricing(self) -> Any:
        return self._session.client("pricing", region=PRICING_REGION)

    def refresh_prices(self) -> int:
        """Read this region's hosting prices from the Pricing API now; how many were found."""
        return self.prices.refresh(self._pricing, self.region)

    def price(self, instance_type: str | None) -> Price:
        return self.prices.price(instance_type, self.region)

    # ---- cost of one endpoint -------------------------------------------------------------

    def endpoint_cost(self, name: str, *, since: timedelta = 7 * DAY) -> EndpointCost:
        history = self._history(name, since)
        return self._cost(history)

    def all_costs(self, *, since: timedelta = 7 * DAY) -> list[EndpointCost]:
        names: list[str] = []
        token = None
        sm = self._session.client("sagemaker")
        while True:
            kwargs: dict[str, Any] = {"MaxResults": 100}
            if token:
                kwargs["NextToken"] = token
            page = sm.list_endpoints(**kwargs)
            names += [e["EndpointName"] for e in page.get("Endpoints", [])]
            token = page.get("NextToken")
            if not token:
                break
        out = []
        for name in sorted(names):
            try:
                out.append(self.endpoint_cost(name, since=since))
            except errors.NotFound:
                continue  # deleted between the listing and the describe
        return out

    def _history(self, name: str, since: timedelta) -> _History:
        now = self._clock()
        start = now - since
        desc = self._session.client("sagemaker").describe_endpoint(EndpointName=name)
        state = self.autoscaling.describe(name)
        variants = desc.get("ProductionVariants") or []
        notes: list[str] = []
        if len(variants) > 1:
            notes.append(f"{len(variants)} variants: only {state.variant} is counted")
        activities = self._activities(state.resource_id, start, notes)
        period = self.period_s or metric_period(since)
        series = self._metrics(name, state.variant, _floor(start, period), now, period)
        return _History(
            name=name, now=now, start=start, since=since, period=period,
            created=desc.get("CreationTime"), state=state,
            instances_now=int(state.current_instances or 0), activities=activities,
            backlog=series.get("backlog", []), without_capacity=series.get("without", []),
            processed=series.get("processed", []), notes=notes,
        )

    def _activities(self, rid: str, start: datetime, notes: list[str]) -> list[capacity.Activity]:
        """Newest first from the API; read back to the first one before `start` (the count
        the window opens with) and no further."""
        aas = self._session.client("application-autoscaling")
        kwargs: dict[str, Any] = {"ServiceNamespace": SERVICE_NAMESPACE, "ResourceId": rid,
                                  "ScalableDimension": SCALABLE_DIMENSION, "MaxResults": 50}
        found: list[capacity.Activity] = []
        try:
            while True:
                page = aas.describe_scaling_activities(**kwargs)
                acts = [capacity.parse_activity(a) for a in page.get("ScalingActivities", [])]
                found += acts
                token = page.get("NextToken")
                if not token or any(a.start < start and a.counts for a in acts):
                    return found
                kwargs["NextToken"] = token
        except errors.SmconsoleError as exc:
            notes.append(f"scaling activities unavailable ({exc}): instances assumed constant")
            return found

    def _metrics(self, name: str, variant: str, start: datetime, end: datetime,
                 period: int) -> dict[str, list[capacity.Point]]:
        endpoint = [{"Name": "EndpointName", "Value": name}]
        queries = [
            ("backlog", "ApproximateBacklogSize", "Maximum", endpoint),
            ("without", STEP_METRIC, "Maximum", endpoint),
            ("processed", "InvocationsProcessed", "Sum",
             [*endpoint, {"Name": "VariantName", "Value": variant}]),
        ]
        kwargs: dict[str, Any] = {
            "MetricDataQueries": [{
                "Id": key, "ReturnData": True,
                "MetricStat": {"Metric": {"Namespace": NAMESPACE, "MetricName": metric,
                                          "Dimensions": dims}, "Period": period, "Stat": stat},
            } for key, metric, stat, dims in queries],
            "StartTime": start, "EndTime": end, "ScanBy": "TimestampAscending",
        }
        out: dict[str, list[capacity.Point]] = {}
        while True:
            page = self._session.client("cloudwatch").get_metric_data(**kwargs)
            for result in page.get("MetricDataResults", []):
                out.setdefault(result["Id"], []).extend(zip(
                    result.get("Timestamps", []), map(float, result.get("Values", [])),
                    strict=False))
            token = page.get("NextToken")
            if not token:
                break
            kwargs["NextToken"] = token
        return {k: sorted(v) for k, v in out.items()}

    def _cost(self, h: _History) -> EndpointCost:
        state = h.state
        price = self.price(state.instance_type)
        steps, notes = capacity.timeline(
            h.activities, instances_now=h.instances_now, created=h.created, start=h.start,
            end=h.now)
        windows = []
        activity = _activity(h)
        for label, span in _windows(h.since):
            ws = h.now - span
            clipped = _clip(steps, ws)
            backlog = [p for p in activity if p[0] >= ws] or _before(activity, ws)
            seconds = capacity.instance_seconds(clipped, h.now)
            idle = capacity.idle_instance_seconds(clipped, backlog, h.now)
            requests = int(sum(v for t, v in h.processed if t >= ws))
            rate = price.usd_per_hour
            windows.append(WindowCost(
                label=label, start=ws, end=h.now, instance_hours=seconds / 3600,
                idle_instance_hours=idle / 3600, requests=requests,
                usd=None if rate is None else seconds / 3600 * rate,
                idle_usd=None if rate is None else idle / 3600 * rate,
            ))
        idle_for = self._idle_for(h, activity)
        target = state.target
        stranded, reason = False, None
        if h.instances_now >= 1 and (target is None or target.min_capacity >= 1) and \
                idle_for is not None and idle_for > self.stranded_after.total_seconds():
            stranded = True
            why = "no scalable target" if target is None else f"MinCapacity {target.min_capacity}"
            reason = (f"{h.instances_now} instance(s), {why}, no backlog or request for "
                      f"{_span(idle_for)}")
        samples = capacity.cold_starts(h.activities, h.without_capacity)
        return EndpointCost(
            name=h.name, region=self.region, instance_type=state.instance_type, price=price,
            instances_now=h.instances_now, has_target=target is not None,
            min_capacity=target.min_capacity if target else None,
            max_capacity=target.max_capacity if target else None,
            windows=tuple(windows), timeline=tuple(steps), idle_for_s=idle_for,
            stranded=stranded, stranded_reason=reason, cold_start_s=capacity.median(samples),
            cold_start_samples=len(samples), notes=tuple(h.notes + notes),
        )

    def _idle_for(self, h: _History, activity: list[capacity.Point]) -> float | None:
        """Seconds since the endpoint last had work (`activity`: a backlog, or requests
        processed); 0 while it has."""
        busy = [t for t, v in activity if v > 0]
        if busy and activity[-1][1] > 0:
            return 0.0
        if busy:
            after = [t for t, v in activity if t > busy[-1]]
            return (h.now - (after[0] if after else busy[-1])).total_seconds()
        since = max(h.start, h.created) if h.created else h.start
        return (h.now - since).total_seconds()

    # ---- scale-to-zero replay -------------------------------------------------------------

    def simulate(
        self, name: str, *, since: timedelta = 7 * DAY,
        proposals: list[PolicyProposal] | None = None,
    ) -> Simulation:
        h = self._history(name, since)
        cost = self._cost(h)
        cold = cost.cold_start_s if cost.cold_start_s is not None else DEFAULT_COLD_START_S
        # An endpoint younger than the window is replayed from its creation, with the count it
        # was created with (before that nothing ran under any policy).
        begin = _floor(max(h.start, h.created) if h.created else h.start, h.period)
        steps = int((h.now - begin).total_seconds() // h.period)
        grid = [begin + timedelta(seconds=k * h.period) for k in range(steps)]
        backlog = [capacity.value_at(h.backlog, t) for t in grid]
        processed_at = {t: v for t, v in h.processed}
        processed = [processed_at.get(t, 0.0) for t in grid]
        arrivals = scale_sim.arrivals_from(backlog, processed)
        initial = capacity.count_at(list(cost.timeline), max(h.start, h.created or h.start))
        current = current_policy(h.state)
        proposals = proposals if proposals is not None else default_proposals(h.state)
        rate = cost.price.usd_per_hour

        def run(p: PolicyProposal, baseline: float | None) -> SimulationResult:
            r = scale_sim.replay(p, backlog, period_s=h.period, cold_start_s=cold,
                                 initial_instances=initial, arrivals=arrivals)
            usd = None if rate is None else r.instance_seconds / 3600 * rate
            return SimulationResult(
                proposal=p, instance_hours=r.instance_seconds / 3600, usd=usd,
                saved_usd=None if usd is None or baseline is None else baseline - usd,
                cold_starts=r.cold_starts, requests=len(r.waits),
                delayed_requests=sum(1 for w in r.waits if w > 0),
                extra_wait_p50_s=scale_sim.percentile(r.waits, 50),
                extra_wait_p99_s=scale_sim.percentile(r.waits, 99),
                extra_wait_max_s=max(r.waits, default=0.0),
            )

        now_result = run(current, None)
        return Simulation(
            endpoint=name, start=begin, end=h.now, cold_start_s=cold,
            cold_start_measured=cost.cold_start_s is not None, current=now_result,
            proposals=tuple(run(p, now_result.usd) for p in proposals),
        )

    def plan_proposal(self, name: str, proposal: PolicyProposal) -> ScalingPlan:
        """The scaling plan (diff) that puts `proposal` in place; apply it with `apply`."""
        return self.autoscaling.plan(name, proposal_spec(proposal), replace_policies=True)

    def apply(self, plan: ScalingPlan) -> Any:
        return self.autoscaling.apply(plan)


@dataclass
class _History:
    """What one endpoint's cost is computed from (raw, before any arithmetic)."""

    name: str
    now: datetime
    start: datetime
    since: timedelta
    period: int
    created: datetime | None
    state: ScalingState
    instances_now: int
    activities: list[capacity.Activity]
    backlog: list[capacity.Point]
    without_capacity: list[capacity.Point]
    processed: list[capacity.Point]
    notes: list[str] = field(default_factory=list)


def current_policy(state: ScalingState) -> PolicyProposal:
    """The variant's policy as the replay understands it."""
    target = state.target
    if target is None:
        return PolicyProposal("current", 0, 0, None,
                              fixed_instances=int(state.current_instances or 0))
    tracking = next((p for p in state.policies if p.policy_type == "TargetTrackingScaling"
                     and p.metric == TRACKED), None)
    step = next((p for p in state.policies if p.policy_type == "StepScaling"), None)
    alarm = next((a for a in state.alarms if a.metric == STEP_METRIC), None)
    return PolicyProposal(
        name="current", min_capacity=target.min_capacity, max_capacity=target.max_capacity,
        target=tracking.target if tracking else None,
        scale_in_cooldown_s=int(tracking.scale_in_cooldown or 300) if tracking else 300,
        scale_out_cooldown_s=int(tracking.scale_out_cooldown or 60) if tracking else 60,
        step=step is not None and alarm is not None,
        step_period_s=alarm.period if alarm else 60,
        step_evaluation_periods=alarm.evaluation_periods if alarm else 2,
        step_cooldown_s=int(step.cooldown or 300) if step else 300,
    )


def default_proposals(state: ScalingState) -> list[PolicyProposal]:
    """AWS's scale-to-zero pair with three warm periods (how long an idle instance stays)."""
    hi = max(1, state.target.max_capacity if state.target else int(state.current_instances or 1))
    tracking = next((p for p in state.policies if p.metric == TRACKED and p.target), None)
    target = tracking.target if tracking and tracking.target else 5.0
    # What a proposal does not vary stays as the endpoint has it (the step policy's cooldown,
    # its alarm's periods, the scale-out cooldown): applying one changes only what its row
    # in the replay shows.
    base = current_policy(state)
    kept = {} if base.fixed_instances is not None else {
        "scale_out_cooldown_s": base.scale_out_cooldown_s}
    if base.fixed_instances is None and base.step:
        kept |= {"step_period_s": base.step_period_s,
                 "step_evaluation_periods": base.step_evaluation_periods,
                 "step_cooldown_s": base.step_cooldown_s}
    return [
        PolicyProposal(f"zero-{label}", 0, hi, target, scale_in_cooldown_s=cooldown, **kept)
        for label, cooldown in (("5m", 300), ("15m", 900), ("1h", 3600))
    ]


def proposal_spec(p: PolicyProposal) -> ScalingSpec:
    """The scaling spec that the existing plan/apply path puts in place for `p`."""
    if p.fixed_instances is not None:
        raise errors.SmconsoleError("a fixed instance count is not a scaling policy to apply")
    tracking = [] if not p.target else [TargetTrackingSpec(
        metric=TRACKED, target=p.target, scale_in_cooldown=p.scale_in_cooldown_s,
        scale_out_cooldown=p.scale_out_cooldown_s)]
    step = ScaleOutFromZeroSpec(cooldown=p.step_cooldown_s, period=p.step_period_s,
                             evaluation_periods=p.step_evaluation_periods) if p.step else None
    return ScalingSpec(min_capacity=p.min_capacity, max_capacity=p.max_capacity,
                       target_tracking=tracking, scale_out_from_zero=step)


def _windows(since: timedelta) -> list[tuple[str, timedelta]]:
    # A shorter window first, for the list's second money column (the last hour inside a day).
    out = [("24h", DAY)] if since > DAY else [("1h", HOUR)] if since > HOUR else []
    out.append((_label(since), since))
    return out


def _label(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    if seconds < 2 * 86400 and seconds % 3600 == 0:
        return f"{seconds // 3600}h"  # 24h, not 1d: as the windows are named elsewhere
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _span(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours < 48 else f"{hours // 24}d {hours % 24}h"


def _floor(when: datetime, period: int) -> datetime:
    """The start of the metric period holding `when` (CloudWatch's buckets are aligned so)."""
    epoch = when.timestamp()
    return datetime.fromtimestamp(epoch - epoch % period, UTC)


def _clip(steps: list[CapacityStep], start: datetime) -> list[CapacityStep]:
    inside = [s for s in steps if s.start > start]
    return [CapacityStep(start, capacity.count_at(steps, start)), *inside]


def _activity(h: _History) -> list[capacity.Point]:
    """Per period, the larger of the backlog and the requests processed: a minute whose
    requests were each answered within the minute never shows a backlog at the sampling,
    yet its instance was not idle."""
    merged: dict[datetime, float] = dict(h.backlog)
    period = timedelta(seconds=h.period)
    sums = dict(h.processed)
    for when, processed in h.processed:
        merged[when] = max(merged.get(when, 0.0), processed)
        after = when + period  # a Sum covers its period only; the backlog's value holds on
        if after not in sums and after not in merged:
            merged[after] = capacity.value_at(h.backlog, after)
    return sorted(merged.items())


def _before(points: list[capacity.Point], when: datetime) -> list[capacity.Point]:
    """The last point before `when`, moved to it (the value that held as the window opened)."""
    earlier = [p for p in points if p[0] < when]
    return [(when, earlier[-1][1])] if earlier else []
