"""Cost on the local stack (real daemon, real instances): an endpoint driven idle -> burst ->
idle, checked against its own scaling record; a stranded endpoint; a proposal applied."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fixtures.local_stack import deploy_async_endpoint, unique, wait_for
from smconsole import locations
from smconsole.services.autoscaling import AutoscalingService
from smconsole.services.cost import CostService
from smconsole.specs.scaling import ScaleOutFromZeroSpec, ScalingSpec, TargetTrackingSpec

pytestmark = [pytest.mark.local_stack, pytest.mark.slow]

HOUR = timedelta(hours=1)
PRICE = 1.408  # ml.g5.xlarge, us-east-1, in the shipped table
BURST = 6


def tiny_classifier(folder: Path) -> Path:
    path = locations.container_dir() / "tools" / "tiny_models.py"
    spec = importlib.util.spec_from_file_location("tiny_models", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return Path(module.build_text_classifier(folder))


@pytest.fixture(scope="module")
def endpoint(local_stack: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    name = unique("cost")
    model = tiny_classifier(tmp_path_factory.mktemp("cost-model"))
    deploy_async_endpoint(local_stack.session(), name, model=model, sns=False)
    return name


def instances(session: Any, name: str) -> int:
    desc = session.client("sagemaker").describe_endpoint(EndpointName=name)
    return int(desc["ProductionVariants"][0].get("CurrentInstanceCount") or 0)


def recorded_instance_seconds(session: Any, name: str, start: datetime, end: datetime) -> float:
    """Straight from the daemon's record: 1 instance from creation, then each activity's count."""
    created = session.client("sagemaker").describe_endpoint(EndpointName=name)["CreationTime"]
    raw = session.client("application-autoscaling").describe_scaling_activities(
        ServiceNamespace="sagemaker", ResourceId=f"endpoint/{name}/variant/AllTraffic",
    )["ScalingActivities"]
    changes = [(max(created, start), 1)]
    for act in sorted(raw, key=lambda a: a["StartTime"]):
        count = int(re.search(r"count to (\d+)", act["Description"]).group(1))
        changes.append((act["StartTime"], count))
    total = 0.0
    for (t, n), (t_next, _) in zip(changes, [*changes[1:], (end, 0)], strict=True):
        total += n * (t_next - t).total_seconds()
    return total


def test_one_instance_without_a_target_left_idle_is_stranded(local_stack: Any,
                                                             endpoint: str) -> None:
    service = CostService(local_stack.session(), stranded_after=timedelta(seconds=3))
    cost = wait_for(lambda: (c := service.endpoint_cost(endpoint, since=HOUR)).stranded and c,
                    timeout_s=30)
    assert cost.instances_now == 1 and not cost.has_target
    assert "1 instance(s), no scalable target, no backlog or request for" in cost.stranded_reason
    assert cost.usd_per_hour_now == pytest.approx(PRICE)
    assert cost.price.source == "shipped 2026-12-01"


def test_idle_burst_idle_matches_the_scaling_record(local_stack: Any, endpoint: str) -> None:
    session = local_stack.session()
    spec = ScalingSpec(
        min_capacity=0, max_capacity=1,
        target_tracking=[TargetTrackingSpec(metric="ApproximateBacklogSizePerInstance", target=5,
                                            scale_in_cooldown=3, scale_out_cooldown=0)],
        scale_out_from_zero=ScaleOutFromZeroSpec(cooldown=0, period=10, evaluation_periods=1),
    )
    scaling = AutoscalingService(session)
    assert scaling.apply(scaling.plan(endpoint, spec)).applied
    wait_for(lambda: instances(session, endpoint) == 0, timeout_s=60)          # idle
    runtime = session.client("sagemaker-runtime")
    for i in range(BURST):                                                     # burst
        runtime.invoke_endpoint_async(EndpointName=endpoint, ContentType="application/json",
                                      Body=json.dumps({"inputs": f"request {i}"}).encode())
    # 5-second points: the whole cycle takes seconds, CloudWatch's minute would hide the idle.
    service = CostService(session, stranded_after=timedelta(seconds=3), period_s=5)
    wait_for(lambda: service.endpoint_cost(endpoint, since=HOUR).window("1h").requests == BURST,
             timeout_s=120, interval_s=1)
    wait_for(lambda: instances(session, endpoint) == 0, timeout_s=60)          # idle again

    cost = service.endpoint_cost(endpoint, since=HOUR)
    window = cost.window("1h")
    expected = recorded_instance_seconds(session, endpoint, window.start, window.end)
    assert window.instance_hours * 3600 == pytest.approx(expected, abs=0.5)
    assert expected > 0
    assert window.usd == pytest.approx(window.instance_hours * PRICE)
    assert window.requests == BURST
    assert window.usd_per_1k == pytest.approx(window.usd / BURST * 1000)
    # Idle: at least the first stretch (one instance, no backlog, before the first scale-in).
    assert 0 < window.idle_instance_hours < window.instance_hours
    assert [s.instances for s in cost.timeline][-3:] == [0, 1, 0]
    assert not cost.stranded and cost.has_target and cost.min_capacity == 0
    # The scale-out from zero ended when its instance answered /ping: a measured cold start.
    assert cost.cold_start_samples >= 1 and 0 < cost.cold_start_s < 120


def test_a_simulated_proposal_applied_reaches_the_scaling_target(local_stack: Any,
                                                                 endpoint: str) -> None:
    session = local_stack.session()
    service = CostService(session)
    simulation = service.simulate(endpoint, since=HOUR)
    assert simulation.cold_start_measured
    assert [r.proposal.name for r in simulation.proposals] == ["zero-5m", "zero-15m", "zero-1h"]
    assert simulation.current.proposal.step and simulation.current.proposal.min_capacity == 0
    chosen = simulation.proposals[1].proposal
    plan = service.plan_proposal(endpoint, chosen)
    assert any("scale_in" in line or "in 900s" in line for line in plan.diff_lines()), plan
    assert service.apply(plan).applied
    state = AutoscalingService(session).describe(endpoint)
    assert (state.target.min_capacity, state.target.max_capacity) == (0, 1)
    tracking = next(p for p in state.policies if p.policy_type == "TargetTrackingScaling")
    assert (tracking.metric, tracking.target, tracking.scale_in_cooldown) == (
        "ApproximateBacklogSizePerInstance", 5.0, 900)
    step = next(p for p in state.policies if p.policy_type == "StepScaling")
    assert any(a.actions == (step.arn,) for a in state.alarms)


def test_cli_json(local_stack: Any, endpoint: str) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "smconsole", "cost", *args, "--endpoint-url", local_stack.url],
            check=False, capture_output=True, text=True, timeout=120)

    done = cli(endpoint, "--since", "1h", "--json")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    [row] = answer["endpoints"]
    assert row["name"] == endpoint and row["price"] == {"usd_per_hour": PRICE,
                                                        "source": "shipped 2026-12-01"}
    window = row["windows"][0]
    assert window["label"] == "1h" and window["requests"] == BURST
    assert window["usd_per_1k"] == pytest.approx(window["usd"] / BURST * 1000)
    listed = json.loads(cli("--since", "1h", "--json").stdout)
    assert endpoint in [e["name"] for e in listed["endpoints"]]
    simulated = json.loads(cli(endpoint, "--since", "1h", "--simulate", "--json").stdout)
    assert len(simulated["proposals"]) == 3 and "policy" in simulated["current"]
    bad = cli(endpoint, "--since", "soon")
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0
    assert "--since 'soon'" in bad.stderr and "Traceback" not in bad.stderr


async def test_the_cost_view_applies_a_proposal_that_reaches_the_target(local_stack: Any,
                                                                       endpoint: str) -> None:
    """Through the console's own services: s replays, → chooses zero-1h, a shows the diff,
    y applies; the variant's target then carries that policy."""
    from fixtures.screen_host import Host, until
    from smconsole.services.registry import Services
    from smconsole.ui.screens.cost import CostScreen
    from smconsole.ui.screens.modals import ConfirmChangesScreen
    from smconsole.ui.settings import ConsoleSettings

    session = local_stack.session()
    services = Services.build(session)
    host = Host(lambda: CostScreen(services, ConsoleSettings(), endpoint))
    async with host.run_test(size=(120, 40)) as pilot:
        screen = host.screen
        await until(pilot, lambda: screen.costs, timeout=60)
        assert screen.costs[endpoint].has_target
        await pilot.press("s")
        await until(pilot, lambda: screen.simulation is not None, timeout=60)
        await pilot.press("right", "right")  # current, zero-5m, zero-15m -> zero-1h
        await pilot.press("a")
        await until(pilot, lambda: isinstance(host.screen, ConfirmChangesScreen), timeout=60)
        await pilot.press("y")
        await until(pilot, lambda: "applied" in str(screen.query_one("#cost-status").render()),
                    timeout=60)
    assert host.errors == []
    state = AutoscalingService(session).describe(endpoint)
    tracking = next(p for p in state.policies if p.policy_type == "TargetTrackingScaling")
    assert tracking.scale_in_cooldown == 3600 and state.target.min_capacity == 0
