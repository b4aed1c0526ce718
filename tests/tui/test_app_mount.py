"""The console mounts the ops screens by `:scaling NAME`, `:deploy` and `:container`."""

from __future__ import annotations

from fixtures.fakes import FakeServices, FixedAutoscaling, FixedDeploy
from fixtures.screen_host import until
from smconsole.ui.app import SMConsole
from smconsole.ui.screens.container_ops import ContainerScreen
from smconsole.ui.screens.deploy import DeployScreen
from smconsole.ui.screens.scaling import ScalingScreen
from smconsole.ui.settings import ConsoleSettings
from textual.widgets import Static


def container_status(app: SMConsole) -> str:
    found = app.screen.query("#container-status")
    return str(found.first(Static).render()) if found else ""


async def test_jumps_open_the_ops_screens() -> None:
    services = FakeServices(autoscaling=FixedAutoscaling(), deploy=FixedDeploy(),
                            container=None)
    app = SMConsole(services, ConsoleSettings())
    async with app.run_test(size=(120, 40)) as pilot:
        app.jump(":scaling summarizer-prod")
        await until(pilot, lambda: isinstance(app.screen, ScalingScreen)
                    and app.screen.state is not None)
        assert app.screen.endpoint_name == "summarizer-prod"
        app.jump(":deploy")
        await until(pilot, lambda: isinstance(app.screen, DeployScreen) and app.screen.is_mounted)
        app.jump(":container")
        # No container service given: the screen says so rather than crashing.
        await until(pilot, lambda: isinstance(app.screen, ContainerScreen)
                    and "not available" in container_status(app))


async def test_read_only_console_dims_mutating_keys() -> None:
    services = FakeServices(autoscaling=FixedAutoscaling(), deploy=FixedDeploy(),
                            read_only=True)
    app = SMConsole(services, ConsoleSettings(read_only=True))
    async with app.run_test(size=(120, 40)) as pilot:
        app.jump(":scaling summarizer-prod")
        await until(pilot, lambda: isinstance(app.screen, ScalingScreen)
                    and app.screen.state is not None)
        assert app.screen.check_action("plan", ()) is None
        app.jump(":deploy")
        await until(pilot, lambda: isinstance(app.screen, DeployScreen)
                    and app.screen.is_mounted)
        assert app.screen.check_action("apply", ()) is None
        assert app.screen.check_action("plan", ()) is True
