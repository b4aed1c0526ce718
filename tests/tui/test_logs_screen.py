"""Pilot tests of the logs view, tailing a real moto server over HTTP."""

from __future__ import annotations

import time

from fixtures.moto import make_endpoint, put_logs
from fixtures.screen_host import until
from smconsole.models.logs import TailState
from smconsole.services.registry import Services
from smconsole.ui.app import SMConsole
from smconsole.ui.screens.logs import LogsScreen
from smconsole.ui.screens.modals import PromptScreen
from smconsole.ui.widgets.log_view import LogView

LINES = [
    "INFO starting model server",
    '10.0.0.1 - "GET /ping HTTP/1.1" 200',
    "WARNING slow batch: 812 ms",
    '{"level": "error", "msg": "CUDA out of memory", "batch": 32}',
    '10.0.0.1 - "GET /ping HTTP/1.1" 200',
    "INFO request 7f3a done",
]


def _app_with_lines(moto_session, name: str) -> SMConsole:
    """A console on a moto endpoint `name` whose one stream holds LINES."""
    make_endpoint(moto_session, name)
    put_logs(moto_session, name, "AllTraffic/i-0001", LINES)
    return SMConsole(Services.build(moto_session))


async def _tail_lines(pilot, app: SMConsole, name: str) -> LogsScreen:
    """The logs view of `name`, once every one of LINES is in it."""
    logs = await _open_logs(pilot, app, name)
    await until(pilot, lambda: logs.view.event_count == len(LINES))
    return logs


async def _open_logs(pilot, app: SMConsole, name: str) -> LogsScreen:
    screen = app.endpoints_screen
    await until(pilot, lambda: name in screen.endpoints)
    app.jump(f":logs {name}")
    logs = app.screen
    assert isinstance(logs, LogsScreen)
    await until(pilot, lambda: logs.is_mounted and bool(logs.query(LogView)))
    return logs


async def test_follow_shows_a_line_written_after_the_view_opened(moto_session) -> None:
    app = _app_with_lines(moto_session, "tailme")
    async with app.run_test(size=(120, 40)) as pilot:
        logs = await _tail_lines(pilot, app, "tailme")
        assert logs.view.follow
        written = time.monotonic()
        put_logs(moto_session, "tailme", "AllTraffic/i-0002", ["ERROR a brand new line"])
        await until(pilot, lambda: logs.view.event_count == len(LINES) + 1, timeout=5)
        assert time.monotonic() - written < 2.5  # the issue asks for ≤ 2 s plus a little slack
        newest = logs.view.events()[-1]
        assert newest.message == "ERROR a brand new line" and newest.stream == "AllTraffic/i-0002"
        assert logs.view.is_vertical_scroll_end

        await pilot.press("p")  # pause: lines wait, the view stays still
        assert logs.paused
        put_logs(moto_session, "tailme", "AllTraffic/i-0002", ["INFO while paused"])
        await until(pilot, lambda: len(logs.pending) == 1, timeout=5)
        assert logs.view.event_count == len(LINES) + 1
        await pilot.press("p")
        assert logs.view.events()[-1].message == "INFO while paused"


async def test_search_filters_and_toggles(moto_session, tmp_path) -> None:
    app = _app_with_lines(moto_session, "noisy")
    async with app.run_test(size=(120, 40)) as pilot:
        logs = await _tail_lines(pilot, app, "noisy")
        view = logs.view

        await pilot.press("h")  # hide /ping health checks
        assert view.row_count == len(LINES) - 2
        await pilot.press("h")
        assert view.row_count == len(LINES)

        await pilot.press("slash", *"info")  # incremental: moves as you type
        assert view.match_line == 0
        await pilot.press("enter")
        await pilot.press("n")
        assert view.match_line == 5
        await pilot.press("n")  # wraps like less
        assert view.match_line == 0
        await pilot.press("N")
        assert view.match_line == 5
        assert "search 'info'" in str(logs.query_one("#logs-status").render())

        await pilot.press("i", *"slow", "enter")
        assert view.row_count == 1
        await pilot.press("i", "ctrl+u", "enter")  # clearing the include shows everything again
        assert view.row_count == len(LINES)
        await pilot.press("x", *"ping", "enter")
        assert view.row_count == len(LINES) - 2

        await pilot.press("J")  # the JSON line becomes several rows
        assert view.pretty_json and view.row_count > len(LINES) - 2
        await pilot.press("J", "w", "t", "c")
        assert view.wrap and not view.show_timestamps and not view.show_stream
        before = view.follow  # a search match stops following so the match stays on screen
        await pilot.press("f")
        assert view.follow is not before

        target = tmp_path / "saved.log"
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, PromptScreen)
        from textual.widgets import Input

        app.screen.query_one(Input).value = str(target)  # typing 60 characters adds nothing
        await pilot.press("enter")
        saved = target.read_text().splitlines()
        assert saved[0] == "INFO starting model server" and len(saved) == len(LINES) - 2


async def test_server_side_filter_pattern_restarts_the_tail(moto_session) -> None:
    app = _app_with_lines(moto_session, "patterned")
    async with app.run_test(size=(120, 40)) as pilot:
        logs = await _tail_lines(pilot, app, "patterned")
        await pilot.press("F")
        assert isinstance(app.screen, PromptScreen)
        await pilot.press(*"WARNING", "enter")
        assert logs.pattern == "WARNING"
        await until(pilot, lambda: logs.view.event_count == 1)
        await until(pilot, lambda: logs.status.state is TailState.CAUGHT_UP)
        assert logs.view.events()[0].message == "WARNING slow batch: 812 ms"


async def test_stream_choice_and_quiet_states_are_named(moto_session) -> None:
    make_endpoint(moto_session, "quiet")
    app = SMConsole(Services.build(moto_session))
    async with app.run_test(size=(120, 40)) as pilot:
        logs = await _open_logs(pilot, app, "quiet")
        await until(pilot, lambda: logs.status.state is TailState.MISSING_GROUP)
        assert "does not exist" in str(logs.query_one("#logs-status").render())
    put_logs(moto_session, "quiet", "AllTraffic/i-1", ["INFO one"])
    put_logs(moto_session, "quiet", "AllTraffic/i-2", ["INFO two"])
    app = SMConsole(Services.build(moto_session))
    async with app.run_test(size=(120, 40)) as pilot:
        logs = await _open_logs(pilot, app, "quiet")
        await until(pilot, lambda: logs.view.event_count == 2 and len(logs.streams) == 2)
        await pilot.press("s")
        assert logs.stream is not None
        await until(pilot, lambda: logs.view.event_count == 1)
        assert logs.view.events()[0].stream == logs.stream



async def test_the_gc_freeze_of_a_tail_ends_with_its_screen(moto_session) -> None:
    # A tail freezes the heap (ui.heap.FreezeHold), the screen itself with it; frozen
    # objects are never collected as cycles, so closing must unfreeze and drop the ring.
    import gc
    import weakref

    app = _app_with_lines(moto_session, "freeme")
    async with app.run_test(size=(120, 40)) as pilot:
        logs = await _tail_lines(pilot, app, "freeme")
        assert gc.get_freeze_count() > 10_000
        view_ref = weakref.ref(logs.view)
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, LogsScreen))
        await pilot.pause()
        assert gc.get_freeze_count() == 0
    # Whatever still holds the closed screen (the app, a tail thread in its poll wait)
    # holds no lines: the ring goes on unmount.
    view = view_ref()
    assert view is None or view.event_count == 0



async def test_saving_to_a_folder_that_does_not_exist_says_so_and_keeps_the_view(
    moto_session, tmp_path,
) -> None:
    app = _app_with_lines(moto_session, "unsaved")
    async with app.run_test(size=(120, 40)) as pilot:
        logs = await _tail_lines(pilot, app, "unsaved")
        from textual.widgets import Input

        await pilot.press("ctrl+s")
        target = tmp_path / "no-such-folder" / "x.log"
        app.screen.query_one(Input).value = str(target)
        await pilot.press("enter")
        await pilot.pause()
        assert app.is_running and app.screen is logs  # it crashed the console before
        assert not target.exists()
        notes = [str(n.message) for n in app._notifications]
        assert any(f"not saved to {target}" in n and "No such file" in n for n in notes), notes


async def test_prompts_put_the_cursor_after_the_value_they_open_with(
    moto_session,
) -> None:
    app = _app_with_lines(moto_session, "prompts")
    async with app.run_test(size=(120, 40)) as pilot:
        logs = await _tail_lines(pilot, app, "prompts")
        view = logs.view
        await pilot.press("i", *"starting", "enter")
        await pilot.press("x", *"ping", "enter")
        # Editing the include: what is typed goes after "starting", not at position 4.
        await pilot.press("i", *" model", "enter")
        assert view.include == "starting model"
        await pilot.press("i", "ctrl+u", "enter", "x", "ctrl+u", "enter")
        assert view.include == "" and view.exclude == ""


async def test_a_search_with_no_match_says_so_rather_than_the_row_of_a_shorter_term(
    moto_session,
) -> None:
    app = _app_with_lines(moto_session, "nomatch")
    async with app.run_test(size=(120, 40)) as pilot:
        logs = await _tail_lines(pilot, app, "nomatch")
        view = logs.view
        await pilot.press("slash", *"slowz")  # "slow" matches row 2; "slowz" matches nothing
        assert view.match_line is None
        await pilot.press("enter")
        status = str(logs.query_one("#logs-status").render())
        assert "search 'slowz' (no match)" in status and "@ row" not in status
