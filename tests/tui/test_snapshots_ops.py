"""Snapshots of the scaling editor and the deploy view at 120×40 with fixed data."""

from __future__ import annotations

from typing import Any

import pytest
from fixtures.fakes import FixedAutoscaling, FixedDeploy, OpsServices
from fixtures.screen_host import Host, until
from smconsole.locations import repo_root
from smconsole.ui.screens.deploy import DeployScreen
from smconsole.ui.screens.modals import ConfirmChangesScreen
from smconsole.ui.screens.scaling import ScalingScreen
from smconsole.ui.settings import ConsoleSettings

SIZE = (120, 40)
SPEC = "configs/deploy-demo.yaml"


class SnapHost(Host):
    TITLE = "smconsole"


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo_root())  # the deploy view shows the spec path as given


def scaling_app() -> SnapHost:
    services = OpsServices(autoscaling=FixedAutoscaling())
    return SnapHost(lambda: ScalingScreen(services, ConsoleSettings(), "summarizer-prod"))


async def scaling_loaded(pilot: Any) -> None:
    screen = pilot.app.screen
    await until(pilot, lambda: screen.state is not None and screen.series is not None)
    await pilot.pause()


def test_scaling_view(snap_compare: Any) -> None:
    assert snap_compare(scaling_app(), terminal_size=SIZE, run_before=scaling_loaded)


def test_scaling_diff_confirmation(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await scaling_loaded(pilot)
        screen = pilot.app.screen
        screen.query_one("#min-input").value = "1"
        screen.query_one("#max-input").value = "3"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmChangesScreen))
        await pilot.pause()

    assert snap_compare(scaling_app(), terminal_size=SIZE, run_before=run_before)


def deploy_app() -> SnapHost:
    return SnapHost(lambda: DeployScreen(OpsServices(deploy=FixedDeploy()), ConsoleSettings(), SPEC))


def test_deploy_dry_run(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await pilot.press("enter")
        await until(pilot, lambda: pilot.app.screen.plan is not None)
        await pilot.pause()

    assert snap_compare(deploy_app(), terminal_size=SIZE, run_before=run_before)


def test_deploy_failed_with_reason_and_logs(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        screen = pilot.app.screen
        await pilot.press("enter")
        await until(pilot, lambda: screen.plan is not None)
        await pilot.press("a")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmChangesScreen))
        await pilot.press("y")
        await until(pilot, lambda: screen.result is not None)
        await pilot.pause()

    assert snap_compare(deploy_app(), terminal_size=SIZE, run_before=run_before)
