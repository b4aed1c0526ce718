"""Pilot tests for the scaling, deploy and container screens: real services on moto or local."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fixtures.fakes import FixedDeploy, OpsServices
from fixtures.moto import make_realtime_endpoint
from fixtures.screen_host import Host, until
from smconsole.services.autoscaling import AutoscalingService, alarm_name
from smconsole.services.deploy import DeployService
from smconsole.session import AwsSession
from smconsole.ui.screens.deploy import DeployScreen
from smconsole.ui.screens.modals import ConfirmChangesScreen
from smconsole.ui.screens.scaling import ScalingScreen
from smconsole.ui.settings import ConsoleSettings
from textual.widgets import Input, Log, Static

SIZE = (120, 40)


def text(screen: Any, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def aws_state(session: AwsSession, endpoint: str) -> tuple[Any, ...]:
    aas = session.client("application-autoscaling")
    targets = aas.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    policies = aas.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"]
    alarms = session.client("cloudwatch").describe_alarms()["MetricAlarms"]
    return ([(t["MinCapacity"], t["MaxCapacity"]) for t in targets],
            sorted(p["PolicyName"] for p in policies), sorted(a["AlarmName"] for a in alarms))


async def test_scaling_editor_registers_scale_to_zero_after_confirmation(
        moto_session: AwsSession) -> None:
    endpoint = make_realtime_endpoint(moto_session, "edit-me")
    services = OpsServices(autoscaling=AutoscalingService(moto_session))
    app = Host(lambda: ScalingScreen(services, ConsoleSettings(), endpoint))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, ScalingScreen)
        await until(pilot, lambda: screen.state is not None and screen.series is not None)
        assert "none registered" in text(screen, "#scaling-target")
        assert "ml.g4dn.xlarge" in text(screen, "#scaling-title")

        # A bad edit is refused before any call: nothing changes.
        screen.query_one("#min-input", Input).value = "3"
        screen.query_one("#max-input", Input).value = "2"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "not applied" in text(screen, "#scaling-message"))
        assert "must not exceed" in text(screen, "#scaling-message")
        assert aws_state(moto_session, endpoint) == ([], [], [])

        screen.query_one("#max-input", Input).value = "2"
        await pilot.press("z", "ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ConfirmChangesScreen))
        diff = str(app.screen.query_one("#changes-diff", Static).render())
        assert "+ target endpoint/edit-me/variant/AllTraffic: 0..2" in diff
        assert "+ alarm edit-me-AllTraffic-HasBacklogWithoutCapacity" in diff
        assert aws_state(moto_session, endpoint) == ([], [], [])  # not before confirming
        await pilot.press("y")
        await until(pilot, lambda: screen.last_result is not None)
        assert screen.last_result.applied
        await until(pilot, lambda: screen.query_one("#scaling-policies").row_count == 2)
        assert "0..2" in text(screen, "#scaling-target")
    assert aws_state(moto_session, endpoint) == (
        [(0, 2)], ["scale-out-from-zero", "track-ApproximateBacklogSizePerInstance"],
        [alarm_name(endpoint, "AllTraffic")])
    assert app.errors == []


async def test_scaling_cancel_changes_nothing_and_read_only_hides_apply(
        moto_session: AwsSession) -> None:
    endpoint = make_realtime_endpoint(moto_session, "keep-me")
    services = OpsServices(autoscaling=AutoscalingService(moto_session))
    app = Host(lambda: ScalingScreen(services, ConsoleSettings(), endpoint))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await until(pilot, lambda: screen.state is not None)
        await pilot.press("z", "ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ConfirmChangesScreen))
        await pilot.press("n")
        await until(pilot, lambda: "cancelled" in text(screen, "#scaling-message"))
    assert aws_state(moto_session, endpoint) == ([], [], [])

    app = Host(lambda: ScalingScreen(services, ConsoleSettings(read_only=True), endpoint))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await until(pilot, lambda: screen.state is not None)
        assert screen.check_action("plan", ()) is None
        await pilot.press("z", "ctrl+s")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmChangesScreen)


async def test_deploy_screen_dry_run_then_apply(moto_session: AwsSession,
                                                demo_spec_path: Path) -> None:
    services = OpsServices(deploy=DeployService(moto_session))
    app = Host(lambda: DeployScreen(services, ConsoleSettings(), str(demo_spec_path)))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, DeployScreen)
        assert screen.check_action("apply", ()) is None  # dimmed: dry run first
        await pilot.press("enter")  # in the spec path: the dry run
        await until(pilot, lambda: screen.plan is not None)
        diff = text(screen, "#deploy-diff")
        assert "create endpoint smconsole-demo" in diff and "+ endpoint smconsole-demo" in diff
        assert moto_session.client("sagemaker").list_endpoints()["Endpoints"] == []
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ConfirmChangesScreen))
        await pilot.press("y")
        await until(pilot, lambda: screen.result is not None, timeout=30)
        assert screen.result.ok, screen.result.summary()
        progress = screen.query_one("#deploy-progress", Log).lines
        assert any("waiting: InService" in line for line in progress)
        assert "is InService" in text(screen, "#deploy-outcome")
        assert screen.check_action("cleanup", ()) is False  # nothing failed
    names = [e["EndpointName"] for e in
             moto_session.client("sagemaker").list_endpoints()["Endpoints"]]
    assert names == ["smconsole-demo"]


async def test_deploy_screen_shows_spec_errors_with_lines(tmp_path: Path,
                                                          moto_session: AwsSession) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nmodel:\n  image: ok:1\n")
    app = Host(lambda: DeployScreen(OpsServices(deploy=DeployService(moto_session)), ConsoleSettings(),
                                    str(bad)))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await pilot.press("enter")
        await until(pilot, lambda: "cannot be deployed" in text(screen, "#deploy-status"))
        assert f"{bad}:2: model.data: required field missing" in text(screen, "#deploy-diff")
        assert screen.plan is None


async def test_deploy_failure_shows_why_and_x_cleans_up(demo_spec_path: Path) -> None:
    fake = FixedDeploy()
    app = Host(lambda: DeployScreen(OpsServices(deploy=fake), ConsoleSettings(), str(demo_spec_path)))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await pilot.press("enter")
        await until(pilot, lambda: screen.plan is not None)
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ConfirmChangesScreen))
        await pilot.press("y")
        await until(pilot, lambda: screen.result is not None)
        outcome = text(screen, "#deploy-outcome")
        assert "did not pass the ping health check" in outcome
        assert "model failed to load" in outcome
        assert screen.check_action("cleanup", ()) is True
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmChangesScreen))
        await pilot.press("y")
        await until(pilot, lambda: fake.cleaned)
        await until(pilot, lambda: "cleaned up" in text(screen, "#deploy-status"))
        assert [r.kind for r in fake.cleaned[0]] == ["model", "endpoint-config"]


async def test_scaling_view_refreshes_counts_without_losing_an_edit() -> None:
    from dataclasses import replace

    from fixtures.fakes import STATE, FixedAutoscaling

    fake = FixedAutoscaling()
    app = Host(lambda: ScalingScreen(OpsServices(autoscaling=fake),
                                     ConsoleSettings(refresh_seconds=0.05), "summarizer-prod"))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await until(pilot, lambda: screen.state is not None)
        screen.query_one("#max-input", Input).value = "3"  # an edit in progress
        fake.state = replace(STATE, current_instances=0, desired_instances=0)
        await until(pilot, lambda: "0 current / 0 desired" in text(screen, "#scaling-title"))
        assert fake.describes >= 2
        assert screen.query_one("#max-input", Input).value == "3"


async def test_an_unedited_form_changes_nothing_it_does_not_show(
        moto_session: AwsSession) -> None:
    """Issue 13.6: Ctrl+S on an untouched form proposed the step cooldown 60 → 300 s and the
    alarm 1×60 → 2×60 s, fields the form does not have; it keeps them now."""
    from smconsole.specs.scaling import ScalingSpec

    endpoint = make_realtime_endpoint(moto_session, "as-deployed")
    service = AutoscalingService(moto_session)
    spec = ScalingSpec.model_validate({
        "min_capacity": 0, "max_capacity": 2,
        "target_tracking": [{"metric": "ApproximateBacklogSizePerInstance", "target": 5,
                             "scale_out_cooldown": 60, "scale_in_cooldown": 300}],
        "scale_out_from_zero": {"cooldown": 60, "period": 60, "evaluation_periods": 1},
    })
    assert service.apply(service.plan(endpoint, spec, replace_policies=True)).applied
    app = Host(lambda: ScalingScreen(OpsServices(autoscaling=service), ConsoleSettings(), endpoint))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await until(pilot, lambda: screen.state is not None and screen.form_filled)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: screen.last_plan is not None)
        assert screen.last_plan.diff_lines() == [] or screen.last_plan.empty, \
            screen.last_plan.diff_lines()
        assert "no changes" in text(screen, "#scaling-message")
        # What the form keeps is on screen too, and the step policy names its alarm.
        assert "1×60s, cooldown 60s" in text(screen, "#step-detail")
        policies = screen.query_one("#scaling-policies")
        step_row = [str(c) for c in policies.get_row("scale-out-from-zero")]
        assert "no alarm" not in step_row[1]
    assert app.errors == []


async def test_deploy_types_into_the_path_and_read_only_says_so(demo_spec_path: Path) -> None:
    """Issue 13.5: focus starts in the spec path, so `p`, `a`... are text there; 13.7: in
    read-only the dry run does not say "a applies", and pressing `a` says why not."""
    fake = FixedDeploy()
    app = Host(lambda: DeployScreen(OpsServices(deploy=fake, read_only=True),
                                    ConsoleSettings(read_only=True), "configs/"))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        path = screen.query_one("#deploy-path", Input)
        assert app.focused is path
        path.value = ""
        await pilot.press(*str(demo_spec_path))  # holds p, a, y, ... as letters
        assert path.value == str(demo_spec_path) and screen.plan is None
        await pilot.press("enter")
        await until(pilot, lambda: screen.plan is not None)
        assert "a applies" not in text(screen, "#deploy-status")
        assert "read-only" in text(screen, "#deploy-status")
        await pilot.press("a")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmChangesScreen)
        assert any(n.message == "read-only: apply refused" for n in app._notifications)
