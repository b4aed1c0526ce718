"""Every console view at 120×40 and 80×24 (issue 13.11), with fixed data, clock and zone.

Each is reached as a person would: the app starts on the endpoints list and the view is
opened by its `:` jump (or its key), so what is drawn is what the console shows.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from fixtures.fakes import (
    NOW,
    FakeOutputs,
    FakeRequests,
    FakeServices,
    FixedAutoscaling,
    FixedContainer,
    FixedDeploy,
)
from fixtures.screen_host import until
from smconsole.locations import repo_root
from smconsole.ui.app import SMConsole
from smconsole.ui.screens.logs import LogsScreen
from smconsole.ui.screens.modals import HelpScreen
from smconsole.ui.settings import ConsoleSettings
from textual.widgets import DataTable, Input
from textual.worker import WorkerState

SIZES = {"120x40": (120, 40), "80x24": (80, 24)}


@pytest.fixture(autouse=True)
def _fixed_place(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.chdir(repo_root())  # the deploy view shows the spec path as given
    yield
    monkeypatch.delenv("TZ")
    time.tzset()


def console() -> SMConsole:
    services = FakeServices(requests=FakeRequests(), outputs=FakeOutputs(),
                            autoscaling=FixedAutoscaling(), deploy=FixedDeploy(),
                            container=FixedContainer())
    # No periodic refresh: under load a snapshot taken past 15 s caught the list mid-refresh
    # ("refreshing…" where the saved one says "refreshed 09:30:00").
    settings = ConsoleSettings(clock=lambda: NOW.timestamp(), refresh_seconds=3600)
    return SMConsole(services, settings)


async def listed(pilot: Any) -> None:
    screen = pilot.app.endpoints_screen
    await until(pilot, lambda: screen.loaded and screen.table.row_count == 6
                and screen.refreshed_at is not None)
    # Prices and health marks land after the listing, each from a worker of its own.
    # A worker queued but not yet started is not 'running': wait for those too.
    await until(pilot, lambda: not any(w.state in (WorkerState.PENDING, WorkerState.RUNNING)
                                       for w in pilot.app.workers))


async def endpoints(pilot: Any) -> None:
    await listed(pilot)


async def detail(pilot: Any) -> None:
    await listed(pilot)
    pilot.app.jump(":endpoint broken-model")
    await until(pilot, lambda: getattr(pilot.app.screen, "detail", None) is not None)
    await until(pilot, lambda: pilot.app.screen.query_one("#spark-0").data)


async def logs(pilot: Any) -> None:
    await listed(pilot)
    pilot.app.jump(":logs summarizer-prod")
    await until(pilot, lambda: isinstance(pilot.app.screen, LogsScreen)
                and pilot.app.screen.is_mounted and pilot.app.screen.view.event_count == 10
                and pilot.app.screen.status.state.value == "caught up")


async def requests(pilot: Any) -> None:
    await listed(pilot)
    pilot.app.jump(":requests")
    await until(pilot, lambda: pilot.app.screen.query("#requests-table")
                and pilot.app.screen.query_one("#requests-table", DataTable).row_count == 5)


async def scaling(pilot: Any) -> None:
    await listed(pilot)
    pilot.app.jump(":scaling summarizer-prod")
    await until(pilot, lambda: getattr(pilot.app.screen, "series", None) is not None)


async def deploy(pilot: Any) -> None:
    await listed(pilot)
    pilot.app.jump(":deploy")
    await until(pilot, lambda: pilot.app.screen.query("#deploy-path"))
    pilot.app.screen.query_one("#deploy-path").value = "configs/deploy-demo.yaml"
    await pilot.press("enter")  # Enter in the path runs the dry run
    await until(pilot, lambda: pilot.app.screen.plan is not None)


async def container(pilot: Any) -> None:
    await listed(pilot)
    pilot.app.jump(":container")
    await until(pilot, lambda: pilot.app.screen.query("#container-status")
                and "process mode" in str(pilot.app.screen.query_one("#container-status")
                                          .render()))


async def help_keys(pilot: Any) -> None:
    await listed(pilot)
    await pilot.press("question_mark")
    await until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))


VIEWS = {"endpoints": endpoints, "detail": detail, "logs": logs, "requests": requests,
         "scaling": scaling, "deploy": deploy, "container": container, "help": help_keys}


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("view", list(VIEWS))
def test_view(snap_compare: Any, view: str, size: str) -> None:
    async def run_before(pilot: Any) -> None:
        await VIEWS[view](pilot)
        for box in pilot.app.screen.query(Input):
            box.cursor_blink = False  # a blink caught mid-way is not a difference
        await pilot.pause()
        await pilot.pause()

    assert snap_compare(console(), terminal_size=SIZES[size], run_before=run_before)
