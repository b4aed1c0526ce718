"""Pilot tests of the shell: help, `:` jumps, Esc, palette, themes, header."""

from __future__ import annotations

from fixtures.moto import make_endpoint
from fixtures.screen_host import until
from smconsole.services.registry import Services
from smconsole.ui.app import SMConsole
from smconsole.ui.screens.endpoint_detail import EndpointDetailScreen
from smconsole.ui.screens.endpoints import EndpointsScreen
from smconsole.ui.screens.logs import LogsScreen
from smconsole.ui.screens.modals import HelpScreen, JumpScreen
from textual.command import CommandPalette


async def _ready(pilot, app: SMConsole) -> None:
    await until(pilot, lambda: app.endpoints_screen.loaded)


async def test_header_help_and_escape(moto_session) -> None:
    make_endpoint(moto_session, "shown")
    app = SMConsole(Services.build(moto_session))
    async with app.run_test(size=(120, 40)) as pilot:
        await _ready(pilot, app)
        assert app.sub_title == "local · ● connected"
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        from textual.widgets import DataTable

        rows = [app.screen.query_one(DataTable).get_row_at(i)
                for i in range(app.screen.query_one(DataTable).row_count)]
        ids = {str(r[3]) for r in rows}
        assert {"endpoints.delete", "endpoints.filter", "endpoints.logs", "app.jump"} <= ids
        # Issue 13.13: the app's keys first, Textual's own (cursor keys, copy...) last.
        sections = [str(r[0]) for r in rows]
        assert sections[0] == "endpoints" and "textual" in sections
        assert sections == sorted(sections, key=["endpoints", "console", "textual"].index)
        await pilot.press("escape")
        assert isinstance(app.screen, EndpointsScreen)
        await pilot.press("escape")  # the root view stays
        assert isinstance(app.screen, EndpointsScreen)
        # Issue 13.10: and the footer does not offer an Esc that goes nowhere.
        assert app.check_action("back", ()) is False
        app.open_detail("shown")
        await until(pilot, lambda: isinstance(app.screen, EndpointDetailScreen))
        assert app.check_action("back", ()) is True
        await pilot.pause()


async def test_colon_jumps_to_views(moto_session) -> None:
    make_endpoint(moto_session, "target")
    app = SMConsole(Services.build(moto_session))
    async with app.run_test(size=(120, 40)) as pilot:
        await _ready(pilot, app)
        await pilot.press("colon")
        assert isinstance(app.screen, JumpScreen)
        await pilot.press(*"logs target", "enter")
        await until(pilot, lambda: isinstance(app.screen, LogsScreen))
        assert app.screen.endpoint_name == "target"
        await pilot.press("colon", *"endpoint target", "enter")
        await until(pilot, lambda: isinstance(app.screen, EndpointDetailScreen))
        await pilot.press("colon", *"endpoints", "enter")
        await until(pilot, lambda: isinstance(app.screen, EndpointsScreen))
        assert len(app.screen_stack) == 2

        await pilot.press("colon", *"nonsense", "enter")
        assert any("unknown view :nonsense" in n.message for n in app._notifications)


async def test_palette_lists_actions_as_area_verb(moto_session) -> None:
    make_endpoint(moto_session, "paletted")
    app = SMConsole(Services.build(moto_session))
    async with app.run_test(size=(120, 40)) as pilot:
        await _ready(pilot, app)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "endpoints: refresh" in titles and "endpoints: delete" in titles
        assert "logs: tail paletted" in titles and "endpoint: open paletted" in titles
        await pilot.press("ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"logs: tail pal")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, LogsScreen))


async def test_theme_from_settings(moto_session) -> None:
    from smconsole.ui.settings import ConsoleSettings

    app = SMConsole(Services.build(moto_session), ConsoleSettings(theme="nord"))
    async with app.run_test(size=(120, 40)) as pilot:
        await _ready(pilot, app)
        assert app.theme == "nord"


async def test_colon_mounts_the_other_views(moto_session) -> None:
    make_endpoint(moto_session, "scaled")
    app = SMConsole(Services.build(moto_session))
    async with app.run_test(size=(120, 40)) as pilot:
        await _ready(pilot, app)
        for command, class_name in [
            (":requests", "RequestsScreen"), (":scaling scaled", "ScalingScreen"),
            (":deploy", "DeployScreen"), (":container", "ContainerScreen"),
        ]:
            app.jump(command)
            await until(pilot, lambda c=class_name: type(app.screen).__name__ == c
                        and app.screen.is_mounted)
            await pilot.pause()
            if command.startswith(":scaling"):
                assert app.screen.endpoint_name == "scaled"
            app.jump(":endpoints")
            await until(pilot, lambda: isinstance(app.screen, EndpointsScreen))


async def test_end_and_home_in_the_help_reach_its_last_and_first_key(moto_session) -> None:
    # The help is longer than 40 rows; End scrolled sideways (DataTable's own End), so
    # the last keys could only be reached with PageDown.
    app = SMConsole(Services.build(moto_session))
    async with app.run_test(size=(120, 40)) as pilot:
        await _ready(pilot, app)
        await pilot.press("question_mark")
        from textual.widgets import DataTable

        table = app.screen.query_one(DataTable)
        await pilot.press("end")
        assert table.cursor_row == table.row_count - 1 and table.scroll_y > 0
        await pilot.press("home")
        assert table.cursor_row == 0 and table.scroll_y == 0

