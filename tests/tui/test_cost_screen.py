"""The cost view with fixed figures: every binding, read-only, and snapshots at 120x40, 80x24."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fixtures.fakes import CostServices, FixedCost
from fixtures.screen_host import Host, until
from smconsole.ui.screens.cost import CostScreen
from smconsole.ui.screens.scaling import ConfirmChangesScreen
from smconsole.ui.settings import ConsoleSettings
from textual.widgets import DataTable, Static

SIZES = [(120, 40), (80, 24)]


class CostHost(Host):
    TITLE = "smconsole"


def app(api: FixedCost | None = None, *, read_only: bool = False,
        name: str | None = None) -> CostHost:
    services = CostServices(api if api is not None else FixedCost())
    return CostHost(lambda: CostScreen(services, ConsoleSettings(read_only=read_only), name))


def text(screen: Any, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def loaded(pilot: Any) -> None:
    screen = pilot.app.screen
    await until(pilot, lambda: screen.costs, timeout=10)
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
async def test_table_plot_and_summary_follow_the_cursor(size: tuple[int, int]) -> None:
    host = app()
    async with host.run_test(size=size) as pilot:
        await loaded(pilot)
        screen = host.screen
        table = screen.query_one("#cost-table", DataTable)
        assert table.row_count == 3
        row = table.get_row("forgotten-tutorial")
        assert (row[1].plain, row[3].plain, row[5].plain, row[7].plain) == ("STRANDED", "1.408", "236.54",
                                                                 "-")
        assert table.get_row("mystery-model")[3].plain == "?"  # price unknown, never a guess
        title = text(screen, "#cost-title")
        assert "1 stranded" in title and "1 price unknown" in title
        assert "STRANDED" in text(screen, "#cost-summary")
        await pilot.press("down", "down")
        await pilot.pause()
        assert screen.selected_name() == "summarizer-prod"
        assert "cold start 212 s" in text(screen, "#cost-summary")
        assert max(screen.plotted) > 0 and min(screen.plotted) == 0  # daily bursts, zero between
        assert "█" in text(screen, "#cost-plot")
    assert host.errors == []


async def test_window_toggle_reloads_for_24h() -> None:
    api = FixedCost()
    host = app(api)
    async with host.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("w")
        await until(pilot, lambda: len(api.since) == 2, timeout=10)
        assert api.since == [timedelta(days=7), timedelta(days=1)]
        await pilot.pause()
        table = pilot.app.screen.query_one("#cost-table")
        await until(pilot, lambda: "24h $" in [c.label.plain for c in table.columns.values()],
                    timeout=10)
        headers = [c.label.plain for c in table.columns.values()]
        assert headers[4:6] == ["1h $", "24h $"]  # not the day twice
        assert "1h $" in pilot.app.screen.query_one("#cost-table").render_line(0).text


async def test_simulate_choose_and_apply_through_the_plan() -> None:
    api = FixedCost()
    host = app(api)
    async with host.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        screen = host.screen
        await pilot.press("s")
        await until(pilot, lambda: screen.simulation is not None, timeout=10)
        sim = screen.query_one("#cost-sim", DataTable)
        assert sim.display and [str(c.label) for c in sim.ordered_columns][1:] == [
            "current", "zero-5m", "zero-15m", "zero-1h"]
        assert sim.get_row("saved")[2] == "230.62"
        assert sim.get_row("p99")[2] == "7m00s"
        await pilot.press("right")  # zero-15m
        await pilot.press("a")
        await until(pilot, lambda: isinstance(host.screen, ConfirmChangesScreen), timeout=10)
        assert api.planned == ["zero-15m"] and api.applied == []
        await pilot.press("y")
        await until(pilot, lambda: api.applied == ["zero-15m"], timeout=10)
        await until(pilot, lambda: "applied 1 change" in text(screen, "#cost-status"), timeout=10)


async def test_cancel_applies_nothing_and_read_only_dims_apply() -> None:
    api = FixedCost()
    host = app(api)
    async with host.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("s")
        await until(pilot, lambda: host.screen.simulation is not None, timeout=10)
        await pilot.press("a")
        await until(pilot, lambda: isinstance(host.screen, ConfirmChangesScreen), timeout=10)
        await pilot.press("n")
        await pilot.pause()
        # Another endpoint's row closes the replay (it was this endpoint's); Esc does too.
        host.screen.query_one("#cost-table").focus()
        await pilot.press("down")
        await pilot.pause()
        assert host.screen.simulation is None
        assert not host.screen.query_one("#cost-sim").display
        await pilot.pause()
        assert api.applied == [] and "not applied" in text(host.screen, "#cost-status")
    api = FixedCost()
    host = app(api, read_only=True)
    async with host.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("s")
        await until(pilot, lambda: host.screen.simulation is not None, timeout=10)
        assert host.screen.check_action("apply", ()) is None
        await pilot.press("a")
        await pilot.pause()
        assert api.planned == []


async def test_one_endpoint_and_no_cost_service() -> None:
    api = FixedCost()
    host = app(api, name="summarizer-prod")
    async with host.run_test(size=(80, 24)) as pilot:
        await loaded(pilot)
        assert list(host.screen.costs) == ["summarizer-prod"]
    host = CostHost(lambda: CostScreen(CostServices(None), ConsoleSettings()))
    async with host.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "not available" in text(host.screen, "#cost-status")


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_cost_view(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(app(), terminal_size=size, run_before=loaded)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_cost_replay(snap_compare: Any, size: tuple[int, int]) -> None:
    async def run_before(pilot: Any) -> None:
        await loaded(pilot)
        await pilot.press("s")
        await until(pilot, lambda: pilot.app.screen.simulation is not None, timeout=10)
        await pilot.pause()

    assert snap_compare(app(), terminal_size=size, run_before=run_before)
