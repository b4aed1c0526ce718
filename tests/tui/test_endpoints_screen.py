"""Pilot tests of the endpoints table on a real moto server over HTTP."""

from __future__ import annotations

import pytest
from fixtures.moto import fail_endpoint, make_endpoint
from fixtures.screen_host import until
from smconsole import errors
from smconsole.services.registry import Services
from smconsole.session import AwsSession
from smconsole.ui.app import SMConsole
from smconsole.ui.screens.endpoint_detail import EndpointDetailScreen
from smconsole.ui.screens.endpoints import EndpointsScreen
from smconsole.ui.screens.logs import LogsScreen
from smconsole.ui.screens.modals import ConfirmDeleteScreen
from smconsole.ui.settings import ConsoleSettings


def _table_names(screen: EndpointsScreen) -> list[str]:
    from textual.widgets import DataTable

    table = screen.query_one(DataTable)
    return [str(row.key.value) for row in table.ordered_rows]


async def _loaded(pilot, app: SMConsole) -> EndpointsScreen:
    screen = app.endpoints_screen
    await until(pilot, lambda: screen.loaded and screen.endpoints
                and all(e.described for e in screen.endpoints.values()))
    return screen


async def test_table_shows_every_column_then_filters_and_sorts(moto_session) -> None:
    make_endpoint(moto_session, "alpha", instance_type="ml.m5.xlarge", count=2)
    make_endpoint(moto_session, "beta-rt", is_async=False)
    make_endpoint(moto_session, "gamma")
    fail_endpoint("gamma", "CannotStartContainerError: /ping never answered")
    app = SMConsole(Services.build(moto_session))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _loaded(pilot, app)
        assert _table_names(screen) == ["alpha", "beta-rt", "gamma"]
        from textual.widgets import DataTable

        await until(pilot, lambda: "ml.m5.xlarge" in screen.prices)
        # H: the doctor's quick check (alpha, on moto, has no scalable target: a warning).
        await until(pilot, lambda: "alpha" in screen.health)
        row = [str(cell) for cell in screen.query_one(DataTable).get_row("alpha")]
        # $/h: 2 instances x ml.m5.xlarge's 0.23 in the shipped us-east-1 price table
        assert row[:7] == ["alpha", "InService", "!", "ml.m5.xlarge", "2/2", "0.460", "async"]
        assert str(screen.query_one(DataTable).get_row("beta-rt")[2]) == ""  # real-time
        assert str(screen.query_one(DataTable).get_row("beta-rt")[6]) == "real-time"

        await pilot.press("slash", "b", "e")
        assert _table_names(screen) == ["beta-rt"]
        await pilot.press("escape")  # closes the filter, clears it
        assert _table_names(screen) == ["alpha", "beta-rt", "gamma"]
        assert isinstance(app.screen, EndpointsScreen)

        await pilot.press("s")  # by status: Failed < InService
        assert screen.sort_column == "status"
        assert _table_names(screen)[0] == "gamma"
        await pilot.press("S")
        assert _table_names(screen)[-1] == "gamma"

        await pilot.press("f")  # InService only
        assert set(_table_names(screen)) == {"alpha", "beta-rt"}
        for _ in range(3):  # Creating, Updating, Failed
            await pilot.press("f")
        assert screen.status_filter == "Failed"
        assert _table_names(screen) == ["gamma"]


async def test_refresh_keeps_cursor_on_the_same_endpoint(moto_session) -> None:
    for name in ("b-one", "c-two", "d-three"):
        make_endpoint(moto_session, name)
    app = SMConsole(Services.build(moto_session))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _loaded(pilot, app)
        await pilot.press("down")
        assert screen.selected_name() == "c-two"
        make_endpoint(moto_session, "a-new")  # sorts first: shifts every row down
        await pilot.press("r")
        await until(pilot, lambda: "a-new" in screen.endpoints)
        await until(pilot, lambda: "a-new" in _table_names(screen))
        assert _table_names(screen) == ["a-new", "b-one", "c-two", "d-three"]
        assert screen.selected_name() == "c-two"


async def test_delete_needs_the_name_typed(moto_session) -> None:
    make_endpoint(moto_session, "doomed")
    make_endpoint(moto_session, "kept")
    app = SMConsole(Services.build(moto_session))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _loaded(pilot, app)
        assert screen.selected_name() == "doomed"
        await pilot.press("ctrl+d")
        assert isinstance(app.screen, ConfirmDeleteScreen)
        await pilot.press(*"doome", "enter")  # not the name: stays open, deletes nothing
        assert isinstance(app.screen, ConfirmDeleteScreen)
        names = [e["EndpointName"] for e in
                 moto_session.client("sagemaker").list_endpoints()["Endpoints"]]
        assert "doomed" in names
        await pilot.press("d", "enter")  # "d" is text here, not a key
        await until(pilot, lambda: "doomed" not in _table_names(screen))
        names = [e["EndpointName"] for e in
                 moto_session.client("sagemaker").list_endpoints()["Endpoints"]]
        assert names == ["kept"]


async def test_read_only_disables_delete_and_the_session_refuses(moto_url) -> None:
    writable = AwsSession.local(moto_url)
    make_endpoint(writable, "precious")
    session = AwsSession.local(moto_url, read_only=True)
    services = Services.build(session)
    app = SMConsole(services, ConsoleSettings(read_only=True))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _loaded(pilot, app)
        assert "READ-ONLY" in app.sub_title
        delete = next(b for b in screen.active_bindings.values() if b.binding.action == "delete")
        assert delete.enabled is False  # shown dimmed in the footer
        await pilot.press("ctrl+d")
        assert isinstance(app.screen, EndpointsScreen)  # no confirmation offered
        # Issue 13.7: and the press says why rather than nothing.
        assert any(n.message == "read-only: delete refused" for n in app._notifications)
        await pilot.press("enter")
        assert isinstance(app.screen, EndpointDetailScreen)
        await until(pilot, lambda: app.screen.detail is not None)
        await pilot.press("ctrl+d")
        assert isinstance(app.screen, EndpointDetailScreen)
    with pytest.raises(errors.ReadOnlyRefused):
        services.endpoints.delete("precious")
    assert writable.client("sagemaker").describe_endpoint(EndpointName="precious")


async def test_failed_endpoint_detail_shows_reason_and_opens_logs(moto_session) -> None:
    make_endpoint(moto_session, "broken")
    fail_endpoint("broken", "ping health check did not pass: model failed to load")
    app = SMConsole(Services.build(moto_session))
    async with app.run_test(size=(120, 40)) as pilot:
        await _loaded(pilot, app)
        await pilot.press("enter")
        detail = app.screen
        assert isinstance(detail, EndpointDetailScreen)
        await until(pilot, lambda: detail.detail is not None)
        from textual.widgets import Static

        failure = detail.query_one("#detail-failure", Static)
        assert failure.display
        assert "model failed to load" in str(failure.render())
        await pilot.press("l")
        assert isinstance(app.screen, LogsScreen)
        assert app.screen.endpoint_name == "broken"
        await pilot.press("escape", "escape")
        assert isinstance(app.screen, EndpointsScreen)


async def test_network_down_is_a_notification_not_an_exit() -> None:
    services = Services.build(AwsSession.local("http://127.0.0.1:9"))
    services.session.max_attempts = 1
    app = SMConsole(services)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.connection_error is not None)
        assert "✖" in app.sub_title
        assert app.is_running
        assert any("127.0.0.1:9" in n.message for n in app._notifications)


async def test_detail_of_an_endpoint_deleted_elsewhere_says_so(moto_session) -> None:
    make_endpoint(moto_session, "fleeting")
    app = SMConsole(Services.build(moto_session))
    async with app.run_test(size=(120, 40)) as pilot:
        await _loaded(pilot, app)
        await pilot.press("enter")
        detail = app.screen
        assert isinstance(detail, EndpointDetailScreen)
        await until(pilot, lambda: detail.detail is not None)
        moto_session.client("sagemaker").delete_endpoint(EndpointName="fleeting")
        await pilot.press("r")
        from textual.widgets import Static

        title = detail.query_one("#detail-title", Static)
        await until(pilot, lambda: "no longer exists" in str(title.render()))
        assert app.is_running and detail.detail is None
