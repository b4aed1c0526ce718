"""Replay a backlog history through a scaling policy: instance-seconds billed, and how long each
request waits for capacity. Pure: no AWS calls, no clock; times are seconds.

The model, stated so the numbers can be checked by hand:
- Time moves on the history's grid (one step per `period_s`, e.g. CloudWatch's 60 s).
- Requests arrive at a step as the backlog's rise there, plus processed requests that never
  showed in the backlog, where they were processed (`arrivals_from`); they are demand, so they
  are the same under every policy. The backlog a policy sees is the recorded one,
  or the requests it still keeps waiting, whichever is larger.
- Scale-in (tracking, toward `ceil(backlog / target)` clamped to Min..Max) only after
  `scale_in_cooldown_s` without backlog and since the last scaling; scale-out after
  `scale_out_cooldown_s`. At zero instances the +1 step policy fires once the backlog has waited
  `step_evaluation_periods x step_period_s` (its alarm), no sooner than `step_cooldown_s` after its
  last firing; without it an endpoint at zero wakes only when the backlog passes the target.
- A launched instance is billed from launch and serves `cold_start_s` later. A request waits
  only while no instance serves (throughput is not modelled: once one serves, waits are 0).
- Waits still open when the history ends are counted up to its end (a lower bound).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from smconsole.models.cost import PolicyProposal

NEVER = -math.inf


@dataclass(frozen=True)
class Replay:
    instance_seconds: float
    cold_starts: int
    waits: tuple[float, ...]  # one per request, seconds of extra queue time
    open_at_end: int  # requests still waiting for capacity when the history ended


@dataclass
class _Instance:
    launched: float
    ready: float
    stopped: float | None = None


@dataclass
class _State:
    instances: list[_Instance] = field(default_factory=list)
    last_scale: float = 0.0
    last_busy: float = NEVER
    last_step_fire: float = NEVER
    waiting_since: float | None = None
    waiting: list[tuple[float, int]] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)
    cold_starts: int = 0

    def running(self) -> list[_Instance]:
        return [i for i in self.instances if i.stopped is None]

    def serving(self, t: float) -> bool:
        return any(i.ready <= t for i in self.running())

    def waiting_count(self) -> int:
        return sum(n for _, n in self.waiting)


def arrivals_from(backlog: Sequence[float], processed: Sequence[float] | None = None) -> list[int]:
    """Requests arriving at each step.

    Each rise of the (per-step maximum) backlog is that many arrivals; requests processed
    without ever showing in it (steady traffic drained within the minute) are added where
    they were processed, so the total is at least what was processed.
    """
    rises: list[int] = []
    previous = 0.0
    for value in backlog:
        rises.append(max(0, round(value - previous)))
        previous = value
    done = [max(0.0, float(processed[k])) if processed is not None and k < len(processed) else 0.0
            for k in range(len(backlog))]
    unseen = round(sum(done)) - sum(rises)
    if unseen <= 0:
        return rises
    # Spread `unseen` in proportion to what each step processed (largest remainder: whole
    # requests, and the total exact).
    total = sum(done)
    shares = [unseen * d / total for d in done]
    extra = [int(x) for x in shares]
    order = sorted(range(len(shares)), key=lambda k: shares[k] - extra[k], reverse=True)
    for k in order[:unseen - sum(extra)]:
        extra[k] += 1
    return [r + e for r, e in zip(rises, extra, strict=True)]


def replay(
    proposal: PolicyProposal, backlog: Sequence[float], *, period_s: float, cold_start_s: float,
    initial_instances: int, arrivals: Sequence[int] | None = None,
) -> Replay:
    """Step through `backlog` (one value per `period_s`, from t = 0) under `proposal`."""
    steps = len(backlog)
    end = steps * period_s
    arrivals = list(arrivals) if arrivals is not None else arrivals_from(backlog)
    state = _State()
    if proposal.fixed_instances is not None:
        count = proposal.fixed_instances
    else:
        count = max(proposal.min_capacity, min(proposal.max_capacity, initial_instances))
    state.instances = [_Instance(0.0, 0.0) for _ in range(count)]
    for k in range(steps):
        t = k * period_s
        seen = max(float(backlog[k]), float(state.waiting_count()))
        if seen > 0:
            state.last_busy = t
        if proposal.fixed_instances is None:
            _decide(proposal, state, t, seen, cold_start_s)
        _arrive(state, t, arrivals[k] if k < len(arrivals) else 0)
    open_at_end = state.waiting_count()
    for since, n in state.waiting:
        state.waits.extend([end - since] * n)
    billed = sum(min(i.stopped if i.stopped is not None else end, end) - i.launched
                 for i in state.instances)
    return Replay(billed, state.cold_starts, tuple(state.waits), open_at_end)


def _decide(p: PolicyProposal, state: _State, t: float, backlog: float, cold_start_s: float) -> None:
    running = state.running()
    if not running:
        if backlog <= 0:
            state.waiting_since = None
            return
        if p.step:
            if state.waiting_since is None:
                state.waiting_since = t
            fire_at = max(state.waiting_since + p.step_evaluation_periods * p.step_period_s,
                          state.last_step_fire + p.step_cooldown_s)
            if t >= fire_at:
                state.last_step_fire = t
                _launch(state, t, max(1, min(p.max_capacity, 1)), cold_start_s)
        elif p.target and backlog > p.target:
            _launch(state, t, min(p.max_capacity, math.ceil(backlog / p.target)), cold_start_s)
        return
    if not p.target:
        return
    desired = max(p.min_capacity, min(p.max_capacity, math.ceil(round(backlog / p.target, 6))))
    if desired > len(running) and t - state.last_scale >= p.scale_out_cooldown_s:
        _launch(state, t, desired - len(running), cold_start_s)
    elif desired < len(running) and t - max(state.last_scale, state.last_busy) >= p.scale_in_cooldown_s:
        # Instances still starting go first, then the newest.
        for instance in sorted(running, key=lambda i: (i.ready > t, i.launched), reverse=True)[
                :len(running) - desired]:
            instance.stopped = t
        state.last_scale = t


def _launch(state: _State, t: float, n: int, cold_start_s: float) -> None:
    if not state.running():
        state.cold_starts += 1
    ready = t + cold_start_s
    state.instances.extend(_Instance(t, ready) for _ in range(n))
    state.last_scale = t
    state.waiting_since = None
    for since, count in state.waiting:
        state.waits.extend([ready - since] * count)
    if state.waiting:
        state.last_busy = max(state.last_busy, ready)  # they stay in the backlog until served
    state.waiting.clear()


def _arrive(state: _State, t: float, n: int) -> None:
    if n <= 0:
        return
    if state.serving(t):
        state.waits.extend([0.0] * n)
        return
    pending = [i.ready for i in state.running()]
    if pending:
        state.waits.extend([min(pending) - t] * n)
    else:
        state.waiting.append((t, n))


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (the value at rank ceil(pct/100 x N)); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]
