"""The scale-to-zero simulator against a history small enough to work out by hand."""

from __future__ import annotations

import pytest
from smconsole.models.cost import PolicyProposal
from smconsole.services.scale_sim import arrivals_from, percentile, replay

PERIOD = 60.0
COLD_START = 120.0
PRICE = 2.0  # $/h, a round figure so the dollars below are easy to check

# One hour, one value per minute. Recorded backlog (the endpoint had one warm instance):
#   t= 600 s: 3  (3 requests arrive)      t= 900 s: 4  (4 arrive)
#   t=2400 s: 2  (2 arrive)               t=2460 s: 3  (1 more arrives)
# zero everywhere else -> arrivals 3 @600, 4 @900, 2 @2400, 1 @2460: 10 requests.
BACKLOG = [0.0] * 60
BACKLOG[10], BACKLOG[15], BACKLOG[40], BACKLOG[41] = 3, 4, 2, 3

CURRENT = PolicyProposal("current", 1, 1, None, fixed_instances=1)
AWS_SAMPLE = PolicyProposal("zero-300", 0, 1, 5.0, scale_in_cooldown_s=300)
PATIENT = PolicyProposal("zero-900", 0, 1, 5.0, scale_in_cooldown_s=900)
NO_STEP = PolicyProposal("zero-no-step", 0, 1, 5.0, scale_in_cooldown_s=300, step=False)


def run(proposal: PolicyProposal):
    return replay(proposal, BACKLOG, period_s=PERIOD, cold_start_s=COLD_START,
                  initial_instances=1)


def dollars(seconds: float) -> float:
    return seconds / 3600 * PRICE


def test_arrivals_are_the_backlog_rises() -> None:
    arrivals = arrivals_from(BACKLOG)
    assert sum(arrivals) == 10
    assert (arrivals[10], arrivals[15], arrivals[40], arrivals[41]) == (3, 4, 2, 1)
    # A burst that rose the backlog and was processed is counted once, not twice.
    assert arrivals_from([0, 20, 0], processed=[0, 20, 0]) == [0, 20, 0]
    # Steady traffic drained within each minute never raises the maximum past 1: the 14
    # processed requests it does not show are added where they were processed (14 = 5+5+4).
    assert arrivals_from([1, 1, 1, 1], processed=[0, 5, 5, 5]) == [1, 5, 5, 4]


def test_current_fixed_instance_bills_the_hour_and_never_delays() -> None:
    result = run(CURRENT)
    assert result.instance_seconds == 3600
    assert dollars(result.instance_seconds) == pytest.approx(2.0)
    assert result.waits == (0.0,) * 10


def test_aws_sample_scale_to_zero() -> None:
    # Policy applied at t=0 (the last scaling), no backlog: scale-in at 0+300     -> billed   0..300
    # t=600 backlog 3 at zero: the alarm needs 2x60 s -> launch 720, serves 840     (3 wait 840-600=240)
    # t=900 4 arrive while serving (wait 0); last busy 900 -> scale-in 900+300=1200 -> billed 720..1200
    # t=2400 2 arrive at zero; step cooldown (720+300) is past -> launch 2400+120=2520, serves 2640
    #   (2 wait 2640-2400=240; the 1 from t=2460 waits 2640-2460=180); served at 2640 -> scale-in
    #   2640+300=2940                                                                -> billed 2520..2940
    # billed 300+480+420 = 1200 s = 1/3 h -> $0.6667; saved vs the fixed instance 2 - 0.6667 = $1.3333
    # waits sorted [0,0,0,0,180,240,240,240,240,240]: p50 = rank 5 = 180, p99 = rank 10 = 240
    result = run(AWS_SAMPLE)
    assert result.instance_seconds == 1200
    assert dollars(result.instance_seconds) == pytest.approx(0.666667, abs=1e-6)
    assert dollars(3600 - result.instance_seconds) == pytest.approx(1.333333, abs=1e-6)
    assert result.cold_starts == 2
    assert sorted(result.waits) == [0, 0, 0, 0, 180, 240, 240, 240, 240, 240]
    assert percentile(result.waits, 50) == 180
    assert percentile(result.waits, 99) == 240
    assert result.open_at_end == 0


def test_longer_cooldown_keeps_the_first_bursts_warm() -> None:
    # Warm through t=600 and t=900 (waits 0); last busy 900 -> scale-in 900+900=1800 -> billed 0..1800
    # t=2400 at zero: launch 2520, serves 2640 (waits 240, 240, 180); scale-in 2640+900=3540
    #                                                                         -> billed 2520..3540
    # billed 1800+1020 = 2820 s -> $1.5667; saved $0.4333; waits [0 x7, 180, 240, 240]:
    # p50 = rank 5 = 0, p99 = rank 10 = 240
    result = run(PATIENT)
    assert result.instance_seconds == 2820
    assert dollars(result.instance_seconds) == pytest.approx(1.566667, abs=1e-6)
    assert result.cold_starts == 1
    assert percentile(result.waits, 50) == 0
    assert percentile(result.waits, 99) == 240


def test_without_the_step_policy_zero_wakes_only_past_the_target() -> None:
    # Scale-in at 300 (billed 0..300). t=600: 3 wait, 3 <= target 5: no wake. t=900: 4 more -> 7 wait.
    # t=960: 7 > 5 -> launch, serves 1080: 3 wait 1080-600=480, 4 wait 1080-900=180; scale-in at
    # 1080+300=1380 (billed 960..1380). t=2400/2460: 3 wait and never pass the target: still
    # waiting at the end (3600): 1200, 1200, 1140 (a lower bound).
    # billed 300+420 = 720 s -> $0.40; waits sorted [180 x4, 480 x3, 1140, 1200, 1200]
    # p50 = rank 5 = 480, p99 = rank 10 = 1200
    result = run(NO_STEP)
    assert result.instance_seconds == 720
    assert dollars(result.instance_seconds) == pytest.approx(0.40)
    assert sorted(result.waits) == [180] * 4 + [480] * 3 + [1140, 1200, 1200]
    assert percentile(result.waits, 50) == 480
    assert percentile(result.waits, 99) == 1200
    assert result.open_at_end == 3


def test_min_one_never_waits_and_tracks_out_and_back() -> None:
    # 1..3 instances, target 2: t=600 backlog 3 -> ceil(3/2)=2 (launch 1, billed from 600);
    # t=900 backlog 4 -> 2 still; scale-in to 1 at 900+300=1200: the extra one billed 600..1200.
    # t=2400 backlog 2 -> 1; t=2460 backlog 3 -> 2 (launch at 2460), scale-in at 2460+300=2760.
    # billed 3600 + 600 + 300 = 4500 s; every request finds the warm instance: waits all 0.
    proposal = PolicyProposal("one-warm", 1, 3, 2.0, scale_in_cooldown_s=300, scale_out_cooldown_s=60)
    result = run(proposal)
    assert result.instance_seconds == 4500
    assert set(result.waits) == {0.0}
    assert result.cold_starts == 0


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 99) == 0
    assert percentile([5.0], 50) == 5
    assert percentile([1, 2, 3, 4], 50) == 2
    assert percentile([1, 2, 3, 4], 99) == 4


def test_proposals_keep_what_they_do_not_vary() -> None:
    """Applying zero-15m to an endpoint with a 60 s step cooldown and a 1x60 s alarm changes
    the scale-in cooldown only (it proposed 300 s and 2x60 s, which no replay row showed)."""
    from smconsole.models.scaling import (
        ScalableTarget,
        ScalingAlarm,
        ScalingPolicy,
        ScalingState,
    )
    from smconsole.services.cost import STEP_METRIC, TRACKED, default_proposals, proposal_spec

    state = ScalingState(
        "ep", "AllTraffic", "ml.m5.large", 1, 1,
        ScalableTarget("endpoint/ep/variant/AllTraffic", 0, 2),
        policies=(
            ScalingPolicy("track", "TargetTrackingScaling", metric=TRACKED, target=5,
                          scale_in_cooldown=120, scale_out_cooldown=45),
            ScalingPolicy("zero", "StepScaling", adjustment=1, cooldown=60),
        ),
        alarms=(ScalingAlarm("a", STEP_METRIC, "Average", 1, "GreaterThanOrEqualToThreshold",
                             60, 1),),
    )
    for proposal in default_proposals(state):
        spec = proposal_spec(proposal)
        assert spec.scale_out_from_zero is not None
        assert (spec.scale_out_from_zero.cooldown, spec.scale_out_from_zero.period,
                spec.scale_out_from_zero.evaluation_periods) == (60, 60, 1)
        assert spec.target_tracking[0].scale_out_cooldown == 45
    assert [p.scale_in_cooldown_s for p in default_proposals(state)] == [300, 900, 3600]
