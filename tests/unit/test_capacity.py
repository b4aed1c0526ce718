"""Instances over time from scaling activities, as DescribeScalingActivities returns them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from smconsole.models.cost import Price
from smconsole.services import capacity

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def activity(minute: float, before: int, after: int, *, end_minute: float | None = None,
             status: str = "Successful") -> dict:
    return {
        "ActivityId": f"a{minute}", "ServiceNamespace": "sagemaker",
        "ResourceId": "endpoint/e/variant/AllTraffic",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
        "Description": f"Setting desired instance count to {after}.",
        "Cause": f"monitor alarm x in state ALARM triggered policy y changing the desired "
                 f"capacity from {before} to {after}.",
        "StartTime": at(minute), "EndTime": at(end_minute if end_minute is not None else minute),
        "StatusCode": status,
    }


def test_count_rebuilt_from_creation_and_activities() -> None:
    # Created at minute 10 with 1 instance; 1 -> 0 at 20, 0 -> 2 at 40 (serving at 43), 2 -> 0 at 50.
    acts = [capacity.parse_activity(a) for a in (
        activity(50, 2, 0), activity(40, 0, 2, end_minute=43), activity(20, 1, 0),
        activity(30, 0, 0, status="Failed"))]
    steps, notes = capacity.timeline(acts, instances_now=0, created=at(10), start=at(0),
                                     end=at(60))
    assert [(s.start, s.instances) for s in steps] == [
        (at(0), 0), (at(10), 1), (at(20), 0), (at(40), 2), (at(50), 0)]
    assert notes == []
    # 1 x 10 min + 2 x 10 min = 30 instance-minutes
    assert capacity.instance_seconds(steps, at(60)) == 30 * 60
    # Backlog 3 from minute 40 to 45: idle = 10 (first instance) + 2 x 5 (minutes 45-50) = 20 min
    backlog = [(at(40), 3.0), (at(45), 0.0)]
    assert capacity.idle_instance_seconds(steps, backlog, at(60)) == 20 * 60
    assert capacity.cold_starts(acts) == [180.0]  # 40 -> 43, the one scale-out from zero
    assert capacity.count_at(steps, at(41)) == 2


def test_a_count_the_record_does_not_explain_is_noted_not_hidden() -> None:
    acts = [capacity.parse_activity(activity(5, 1, 2))]
    steps, notes = capacity.timeline(acts, instances_now=3, created=None, start=at(0), end=at(10))
    assert [(s.start, s.instances) for s in steps] == [(at(0), 1), (at(5), 2)]
    assert notes and "3 run now" in notes[0]


def test_no_activity_means_the_current_count_throughout() -> None:
    steps, _ = capacity.timeline([], instances_now=1, created=at(-100), start=at(0), end=at(60))
    assert capacity.instance_seconds(steps, at(60)) == 3600


def test_cold_start_from_the_metric_when_the_record_has_no_fulfilment_time() -> None:
    acts = [capacity.parse_activity(activity(10, 0, 1))]  # EndTime == StartTime
    without = [(at(9), 1.0), (at(10), 1.0), (at(12), 0.0)]
    assert capacity.cold_starts(acts, without) == [120.0]
    assert capacity.cold_starts(acts, []) == []


def test_instances_per_bucket_is_the_mean_count_of_each_slice() -> None:
    from smconsole.models.cost import CapacityStep, EndpointCost, Price, WindowCost

    window = WindowCost("1h", at(0), at(60), 0.0, 0.0, 0, None, None)
    cost = EndpointCost(
        name="e", region="us-east-1", instance_type=None, price=Price("", "", None, "unknown"),
        instances_now=0, has_target=False, min_capacity=None, max_capacity=None,
        windows=(window,), timeline=(CapacityStep(at(0), 0), CapacityStep(at(15), 2),
                                     CapacityStep(at(45), 0)),
        idle_for_s=None, stranded=False)
    # quarters: 0 | 2 | 2 | 0; halves: 1 | 1
    assert cost.instances_per_bucket(4) == [0, 2, 2, 0]
    assert cost.instances_per_bucket(2) == [1, 1]


def test_a_minute_whose_requests_were_answered_within_it_is_not_idle() -> None:
    """The backlog is sampled once a minute: requests answered in under a minute never show
    in it, so the requests processed count as work too (for that period only)."""
    from smconsole.models.scaling import ScalingState
    from smconsole.services.cost import CostService, _History

    now = T0 + timedelta(minutes=10)
    history = _History(
        name="ep", now=now, start=T0, since=timedelta(minutes=10), period=60, created=T0,
        state=ScalingState("ep", "AllTraffic", "ml.m5.large", 1, 1, None),
        instances_now=1, activities=[],
        backlog=[(T0 + timedelta(minutes=m), 0.0) for m in range(10)],
        without_capacity=[], processed=[(T0 + timedelta(minutes=3), 5.0)],
    )
    service = CostService.__new__(CostService)  # only the arithmetic: no session, no prices
    service.stranded_after = timedelta(hours=1)
    service.price = lambda _type: Price("ml.m5.large", "us-east-1", 0.115, "test")  # type: ignore[method-assign]
    service._session = type("S", (), {"region_name": "us-east-1"})()
    cost = service._cost(history)
    window = cost.windows[0]
    assert window.instance_hours * 60 == pytest.approx(10)
    assert window.idle_instance_hours * 60 == pytest.approx(9)  # all but minute 3
    assert cost.idle_for_s == pytest.approx(6 * 60)  # since minute 3's period ended


def test_the_day_view_pairs_the_last_hour_with_the_day_not_the_day_twice() -> None:
    from smconsole.services.cost import _windows

    assert [label for label, _ in _windows(timedelta(days=7))] == ["24h", "7d"]
    assert [label for label, _ in _windows(timedelta(days=1))] == ["1h", "24h"]
    assert [label for label, _ in _windows(timedelta(hours=1))] == ["1h"]
