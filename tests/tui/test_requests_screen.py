"""Pilot tests of the requests screen with in-memory services (same Protocols)."""

from __future__ import annotations

import json
from pathlib import Path

from fixtures.batch_files import write_batch
from fixtures.fakes import NOW_S, RequestsHost, RequestsServices
from fixtures.screen_host import until
from smconsole.models.requests import Batch, Status
from smconsole.ui.screens.modals import ConfirmAgainScreen, PromptScreen
from smconsole.ui.screens.requests import RequestsScreen
from smconsole.ui.settings import ConsoleSettings
from textual.widgets import DataTable, Input, Static

SIZE = (120, 40)


def app_for(services: RequestsServices, *, watch: bool = True, read_only: bool = False) -> RequestsHost:
    settings = ConsoleSettings(clock=lambda: NOW_S, read_only=read_only)
    return RequestsHost(lambda: RequestsScreen(services, settings, watch=watch))


def table_of(app: RequestsHost) -> DataTable:
    return app.screen.query_one("#requests-table", DataTable)


def text_of(app: RequestsHost, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def test_rows_load_and_filter_by_status() -> None:
    app = app_for(RequestsServices())
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: table_of(app).row_count == 5)
        assert "5 requests" in text_of(app, "#requests-status")
        await pilot.press("f")  # pending
        assert table_of(app).row_count == 1
        await pilot.press("f", "f")  # failed
        assert [str(k.value) for k in table_of(app).rows] == ["demo-4f1c2a-0a1b2c/2"]
        await pilot.press("f", "f")  # back to all
        assert table_of(app).row_count == 5
        assert app.errors == []


async def test_enter_opens_an_embedding_summarised_and_a_failure_body() -> None:
    services = RequestsServices()
    failure = "s3://out/failed/demo-4f1c2a-0a1b2c/000002.out"
    services.outputs.bodies[failure] = json.dumps(
        {"error": "invalid_request", "message": "colour: Extra inputs are not permitted"}
    ).encode()
    app = app_for(services)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: table_of(app).row_count == 5)
        table_of(app).move_cursor(row=0)
        await pilot.press("enter")
        await until(pilot, lambda: "1 × 384 numbers" in text_of(app, "#preview-body"))
        assert "latency       1.2s" in text_of(app, "#preview-head")
        table_of(app).move_cursor(row=2)
        await pilot.press("enter")
        await until(pilot, lambda: "Extra inputs" in text_of(app, "#preview-body"))
        assert services.outputs.fetched[-1] == failure
        table_of(app).move_cursor(row=3)  # pending: nothing to fetch
        await pilot.press("enter")
        await until(pilot, lambda: "no output yet" in text_of(app, "#preview-body"))
        assert len(services.outputs.fetched) == 2  # bodies only when opened


async def test_submit_a_yaml_shows_progress_and_new_rows(tmp_path: Path) -> None:
    path = write_batch(tmp_path, "endpoint: demo\nrequests:\n  - body: {inputs: x}\n"
                                 "    repeat: 3\n")
    services = RequestsServices()
    app = app_for(services)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: table_of(app).row_count == 5)
        await pilot.press("s")
        assert isinstance(app.focused, Input)
        app.focused.value = str(path)
        await pilot.press("enter")
        await until(pilot, lambda: table_of(app).row_count == 8)
        ((planned, again),) = services.requests.submitted
        assert len(planned.requests) == 3 and again is False
        assert not app.screen.query_one("#progress-row").display  # hidden once done


async def test_bad_yaml_is_shown_located_and_nothing_sent(tmp_path: Path) -> None:
    path = write_batch(tmp_path, "endpoint: demo\nrequests:\n  - body: {}\n    colour: red\n")
    services = RequestsServices()
    app = app_for(services)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        app.focused.value = str(path)
        await pilot.press("enter")
        await until(pilot, lambda: "colour" in text_of(app, "#preview-body"))
        assert f"{path}:4: requests[0].colour: unknown field" in text_of(app, "#preview-body")
        assert services.requests.submitted == []


async def test_a_batch_sent_before_asks_first(tmp_path: Path) -> None:
    path = write_batch(tmp_path, "endpoint: demo\nrequests:\n  - body: {}\n")
    services = RequestsServices()
    services.requests.earlier_batches = [Batch("old-1", str(path), "demo", "h", NOW_S - 60, 1,
                                               {"succeeded": 1})]
    app = app_for(services)
    async with app.run_test(size=SIZE) as pilot:
        for answer, sent in (("n", 0), ("y", 1)):
            await pilot.press("s")
            app.screen.query_one("#batch-path", Input).value = str(path)
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, ConfirmAgainScreen))
            assert "old-1" in str(app.screen.query_one("#again-text", Static).render())
            await pilot.press(answer)
            await until(pilot, lambda: not isinstance(app.screen, ConfirmAgainScreen))
            await until(pilot, lambda s=sent: len(services.requests.submitted) == s)
        assert services.requests.submitted[0][1] is True  # sent again, knowingly


async def test_resubmit_failed_of_the_selected_batch() -> None:
    services = RequestsServices()
    app = app_for(services)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: table_of(app).row_count == 5)
        table_of(app).move_cursor(row=0)
        await pilot.press("R")
        await until(pilot, lambda: services.requests.resubmitted)
        assert services.requests.resubmitted == [("demo-4f1c2a-0a1b2c", [2])]


async def test_export_asks_where_then_writes_the_visible_rows(tmp_path: Path,
                                                              monkeypatch) -> None:
    """Issue 13.13: `e` wrote into the current folder without asking."""
    monkeypatch.chdir(tmp_path)
    services = RequestsServices()
    app = app_for(services)
    target = tmp_path / "out" / "mine.jsonl"
    target.parent.mkdir()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: table_of(app).row_count == 5)
        await pilot.press("f", "f")  # succeeded only
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen))
        assert list(tmp_path.glob("*.jsonl")) == []  # nothing written before the answer
        prompt = app.screen.query_one(Input)
        assert prompt.value.startswith(str(tmp_path))
        prompt.value = str(target)
        await pilot.press("enter")
        await until(pilot, lambda: target.exists() and len(target.read_text().splitlines()) == 2)
        assert {json.loads(x)["status"] for x in target.read_text().splitlines()} == {"succeeded"}
        assert list(tmp_path.glob("*.jsonl")) == []


async def test_watcher_thread_outcomes_update_the_table() -> None:
    services = RequestsServices()
    app = app_for(services)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: table_of(app).row_count == 5)
        assert services.outputs.running.wait(5)
        services.outputs.outcomes.append(
            [services.requests.finish("demo-4f1c2a-0a1b2c/3", Status.SUCCEEDED)])
        key = "demo-4f1c2a-0a1b2c/3"
        await until(pilot, lambda: app.screen.rows[key].status is Status.SUCCEEDED)
        assert "succeeded" in str(table_of(app).get_cell(key, "status"))


async def test_read_only_dims_submit_and_resubmit() -> None:
    services = RequestsServices(read_only=True)
    app = app_for(services, watch=False, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: table_of(app).row_count == 5)
        screen = app.screen
        assert screen.check_action("submit", ()) is None
        assert screen.check_action("resubmit", ()) is None
        assert screen.check_action("export", ()) is True
        await pilot.press("R")
        await pilot.pause()
        assert services.requests.resubmitted == []
