"""Instances over time, from a variant's scaling activities: pure functions, no AWS calls.

SageMaker publishes no instance-count metric, so the count is rebuilt from what Application
Auto Scaling recorded (`DescribeScalingActivities`: each successful activity moved the desired
count from X to Y at its StartTime) and the endpoint's creation time and current count.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from smconsole.models.cost import CapacityStep

_TO = re.compile(r"desired (?:instance )?(?:count|capacity) to (\d+)", re.IGNORECASE)
_FROM_TO = re.compile(r"from (\d+) to (\d+)", re.IGNORECASE)
# A sample closer to zero than this is a record that ends when it starts (no fulfilment time).
_MIN_COLD_START_S = 0.5

Point = tuple[datetime, float]


@dataclass(frozen=True)
class Activity:
    """One scaling activity, as far as counting instances goes."""

    start: datetime
    end: datetime | None
    status: str
    from_count: int | None
    to_count: int | None

    @property
    def counts(self) -> bool:
        return self.status in ("Successful", "InProgress") and self.to_count is not None


def parse_activity(raw: dict[str, Any]) -> Activity:
    text = f"{raw.get('Description', '')} {raw.get('Cause', '')}"
    pair = _FROM_TO.search(str(raw.get("Cause", "")))
    to = _TO.search(text)
    to_count = int(pair.group(2)) if pair else (int(to.group(1)) if to else None)
    return Activity(
        start=raw["StartTime"], end=raw.get("EndTime"), status=str(raw.get("StatusCode", "")),
        from_count=int(pair.group(1)) if pair else None, to_count=to_count,
    )


def timeline(
    activities: Iterable[Activity], *, instances_now: int, created: datetime | None,
    start: datetime, end: datetime,
) -> tuple[list[CapacityStep], list[str]]:
    """Steps covering [start, end] (first at `start`), and notes on what had to be assumed."""
    acts = sorted((a for a in activities if a.counts and a.start <= end), key=lambda a: a.start)
    if created is not None:
        acts = [a for a in acts if a.start >= created]
    notes: list[str] = []
    if not acts:
        initial = instances_now
    else:
        first = acts[0]
        initial = first.from_count if first.from_count is not None else instances_now
        if acts[-1].to_count != instances_now:
            notes.append(
                f"the last scaling activity set {acts[-1].to_count} instance(s) but "
                f"{instances_now} run now (a manual change?): counted from the activities")
    changes: list[tuple[datetime, int]] = []
    if created is not None and created > start:
        changes.append((start, 0))
        changes.append((created, initial))
    else:
        changes.append((start, initial))
    for act in acts:
        assert act.to_count is not None
        changes.append((max(act.start, start), act.to_count))
    steps: list[CapacityStep] = []
    for when, count in sorted(changes, key=lambda c: c[0]):
        if steps and steps[-1].start == when:
            steps[-1] = CapacityStep(when, count)  # the last word at one instant wins
        elif not steps or steps[-1].instances != count:
            steps.append(CapacityStep(when, count))
    return steps, notes


def instance_seconds(steps: Sequence[CapacityStep], end: datetime) -> float:
    total = 0.0
    for i, step in enumerate(steps):
        until = steps[i + 1].start if i + 1 < len(steps) else end
        total += step.instances * max(0.0, (min(until, end) - step.start).total_seconds())
    return total


def idle_instance_seconds(
    steps: Sequence[CapacityStep], backlog: Sequence[Point], end: datetime,
) -> float:
    """Instance-seconds while the backlog was empty (each backlog value holds until the next;
    before the first one the backlog counts as empty: an endpoint reports it from creation)."""
    if not steps:
        return 0.0
    times = sorted({s.start for s in steps} | {t for t, _ in backlog if steps[0].start < t < end})
    total = 0.0
    for i, t in enumerate(times):
        until = times[i + 1] if i + 1 < len(times) else end
        if value_at(backlog, t) == 0:
            total += count_at(steps, t) * max(0.0, (until - t).total_seconds())
    return total


def count_at(steps: Sequence[CapacityStep], when: datetime) -> int:
    current = 0
    for step in steps:
        if step.start > when:
            break
        current = step.instances
    return current


def value_at(points: Sequence[Point], when: datetime) -> float:
    current = 0.0
    for t, v in points:
        if t > when:
            break
        current = v
    return current


def cold_starts(
    activities: Iterable[Activity], without_capacity: Sequence[Point] = (),
) -> list[float]:
    """Seconds from each scale-out-from-zero activity to an instance serving.

    An activity with a fulfilment time (EndTime after StartTime, as AWS records them) gives
    it directly; otherwise the first time `HasBacklogWithoutCapacity` drops back to 0 after
    the activity started, when that metric was 1 around it.
    """
    samples: list[float] = []
    for act in activities:
        if act.from_count != 0 or not act.to_count or act.status != "Successful":
            continue
        if act.end is not None and (act.end - act.start).total_seconds() >= _MIN_COLD_START_S:
            samples.append((act.end - act.start).total_seconds())
            continue
        window = act.start - timedelta(minutes=5)
        waiting = [p for p in without_capacity if window <= p[0] <= act.start and p[1] >= 1]
        served = next((t for t, v in without_capacity if t > act.start and v == 0), None)
        if waiting and served is not None:
            samples.append((served - act.start).total_seconds())
    return samples


def median(samples: Sequence[float]) -> float | None:
    return statistics.median(samples) if samples else None
