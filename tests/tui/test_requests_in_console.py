"""`:requests` in the real console app mounts RequestsScreen with the app's services."""

from __future__ import annotations

from fixtures.fakes import FakeOutputs, FakeRequests, FakeServices
from fixtures.screen_host import until
from smconsole.ui.app import SMConsole
from smconsole.ui.screens.requests import RequestsScreen
from textual.widgets import DataTable


async def test_jump_to_requests_and_back() -> None:
    services = FakeServices(requests=FakeRequests(), outputs=FakeOutputs())
    app = SMConsole(services)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.jump(":requests")
        await until(pilot, lambda: isinstance(app.screen, RequestsScreen)
                    and app.screen.query("#requests-table"))
        table = app.screen.query_one("#requests-table", DataTable)
        await until(pilot, lambda: table.row_count == 5)
        assert services.outputs.running.wait(5)  # the watcher thread runs while mounted
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, RequestsScreen))
