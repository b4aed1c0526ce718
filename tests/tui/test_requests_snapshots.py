"""Snapshots of the requests screen at 120×40 with fixed rows and clock."""

from __future__ import annotations

import json
from typing import Any

from fixtures.fakes import NOW_S, RequestsHost, RequestsServices
from fixtures.screen_host import until
from smconsole.models.requests import Batch
from smconsole.ui.screens.modals import ConfirmAgainScreen
from smconsole.ui.screens.requests import RequestsScreen
from smconsole.ui.settings import ConsoleSettings
from textual.widgets import DataTable

SIZE = (120, 40)


def loaded_app(services: RequestsServices | None = None) -> RequestsHost:
    services = services or RequestsServices()
    failure = "s3://out/failed/demo-4f1c2a-0a1b2c/000002.out"
    services.outputs.bodies[failure] = json.dumps(
        {"error": "invalid_request", "message": "colour: Extra inputs are not permitted",
         "field": "colour"}).encode()
    return RequestsHost(lambda: RequestsScreen(services, ConsoleSettings(clock=lambda: NOW_S),
                                       watch=False))


async def rows_loaded(pilot: Any) -> None:
    table = pilot.app.screen.query_one("#requests-table", DataTable)
    await until(pilot, lambda: table.row_count == 5)
    await pilot.pause()


def test_list_with_an_embedding_open(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await rows_loaded(pilot)
        pilot.app.screen.query_one("#requests-table", DataTable).move_cursor(row=0)
        await pilot.press("enter")
        await until(pilot, lambda: "384" in str(pilot.app.screen.query_one("#preview-body")
                                                .render()))
        await pilot.pause()

    assert snap_compare(loaded_app(), terminal_size=SIZE, run_before=run_before)


def test_failure_open_and_filtered(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await rows_loaded(pilot)
        await pilot.press("f", "f", "f")  # failed only
        await pilot.press("enter")
        await until(pilot, lambda: "colour" in str(pilot.app.screen.query_one("#preview-body")
                                                   .render()))
        await pilot.pause()

    assert snap_compare(loaded_app(), terminal_size=SIZE, run_before=run_before)


def test_asks_before_sending_a_batch_again(snap_compare: Any, tmp_path: Any,
                                           monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)  # the path bar shows the path as typed
    path = tmp_path / "batch.yaml"
    path.write_text("endpoint: demo\nrequests:\n  - body: {}\n")
    services = RequestsServices()
    services.requests.earlier_batches = [Batch("demo-4f1c2a-0a1b2c", str(path), "demo", "h",
                                               NOW_S - 3600, 4, {"succeeded": 4})]

    async def run_before(pilot: Any) -> None:
        await rows_loaded(pilot)
        await pilot.press("s")
        pilot.app.screen.query_one("#batch-path").value = "batch.yaml"
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmAgainScreen))
        await pilot.pause()

    assert snap_compare(loaded_app(services), terminal_size=SIZE, run_before=run_before)
