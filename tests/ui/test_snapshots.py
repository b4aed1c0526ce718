"""Snapshots of each console screen at 120×40 with fixed data, clock and time zone."""

from __future__ import annotations

import os
import time

import pytest
from smconsole.ui.app import SMConsole
from smconsole.ui.screens.endpoint_detail import EndpointDetailScreen
from smconsole.ui.screens.logs import LogsScreen
from smconsole.ui.settings import ConsoleSettings

from tests.ui.fakes import NOW, FakeServices
from tests.ui.helpers import until

SIZE = (120, 40)


@pytest.fixture(autouse=True)
def _utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.delenv("TZ")
    time.tzset()
    os.environ.get("TZ")


def _app(**settings: object) -> SMConsole:
    return SMConsole(FakeServices(), ConsoleSettings(clock=NOW.timestamp, **settings))


async def _endpoints_ready(pilot) -> None:
    screen = pilot.app.endpoints_screen
    await until(pilot, lambda: screen.loaded and screen.query_one("DataTable").row_count == 6)


def test_endpoints_view(snap_compare) -> None:
    assert snap_compare(_app(), terminal_size=SIZE, run_before=_endpoints_ready)


def test_endpoints_view_read_only_filtered(snap_compare) -> None:
    async def run_before(pilot) -> None:
        await _endpoints_ready(pilot)
        await pilot.press("slash", *"summ", "enter")

    assert snap_compare(_app(read_only=True), terminal_size=SIZE, run_before=run_before)


def test_failed_endpoint_detail(snap_compare) -> None:
    async def run_before(pilot) -> None:
        await _endpoints_ready(pilot)
        pilot.app.open_detail("broken-model")
        await until(pilot, lambda: isinstance(pilot.app.screen, EndpointDetailScreen)
                    and pilot.app.screen.detail is not None)
        await until(pilot, lambda: pilot.app.screen.query_one("#spark-0").data)

    assert snap_compare(_app(), terminal_size=SIZE, run_before=run_before)


def test_logs_view(snap_compare) -> None:
    async def run_before(pilot) -> None:
        await _endpoints_ready(pilot)
        pilot.app.open_logs("summarizer-prod")
        await until(pilot, lambda: isinstance(pilot.app.screen, LogsScreen)
                    and pilot.app.screen.is_mounted
                    and pilot.app.screen.view.event_count == 10
                    and pilot.app.screen.status.state.value == "caught up")

    assert snap_compare(_app(), terminal_size=SIZE, run_before=run_before)


def test_logs_view_search_and_ping_hidden(snap_compare) -> None:
    async def run_before(pilot) -> None:
        await _endpoints_ready(pilot)
        pilot.app.open_logs("summarizer-prod")
        await until(pilot, lambda: isinstance(pilot.app.screen, LogsScreen)
                    and pilot.app.screen.is_mounted
                    and pilot.app.screen.view.event_count == 10
                    and pilot.app.screen.status.state.value == "caught up")
        await pilot.press("h", "J", "slash", *"uvicorn", "enter", "n")

    assert snap_compare(_app(), terminal_size=SIZE, run_before=run_before)
