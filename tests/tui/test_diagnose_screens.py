"""Pilot and snapshot tests of the timeline and doctor screens, at 120×40 and 80×24."""

from __future__ import annotations

import time

import pytest
from fixtures.fakes import (
    DiagnoseServices,
    FakeDoctor,
    FakeTimelines,
    failed_timeline,
    pending_timeline,
    sample_healths,
)
from fixtures.screen_host import Host, until
from smconsole.ui.screens.doctor import ConfirmFixScreen, DoctorScreen
from smconsole.ui.screens.timeline import TimelineScreen
from smconsole.ui.settings import ConsoleSettings

SIZES = [(120, 40), (80, 24)]
FAILED = failed_timeline()
PENDING = pending_timeline()


@pytest.fixture(autouse=True)
def _utc(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.delenv("TZ")
    time.tzset()


def timeline_host(ref: str, services: DiagnoseServices | None = None) -> Host:
    services = services or DiagnoseServices(timeline=FakeTimelines({
        FAILED.request.inference_id: FAILED, PENDING.request.inference_id: PENDING}))
    return Host(lambda: TimelineScreen(services, ConsoleSettings(), ref))


def doctor_host(doctor: FakeDoctor | None = None, *, read_only: bool = False) -> Host:
    services = DiagnoseServices(doctor=doctor or FakeDoctor(), read_only=read_only)
    return Host(lambda: DoctorScreen(services, ConsoleSettings(read_only=read_only)))


async def timeline_ready(pilot) -> None:
    await until(pilot, lambda: isinstance(pilot.app.screen, TimelineScreen)
                and pilot.app.screen.timeline is not None, 10)


async def doctor_ready(pilot) -> None:
    await until(pilot, lambda: isinstance(pilot.app.screen, DoctorScreen)
                and pilot.app.screen.healths, 10)


# ---- Pilot ----------------------------------------------------------------------------------

@pytest.mark.parametrize("size", SIZES)
async def test_the_timeline_lists_every_step_with_its_source(size) -> None:
    app = timeline_host(FAILED.request.inference_id)
    async with app.run_test(size=size) as pilot:
        await timeline_ready(pilot)
        table = pilot.app.screen.query_one("#timeline-steps")
        assert table.row_count == len(FAILED.steps)
        steps = [str(table.get_row_at(i)[1]) for i in range(table.row_count)]
        assert steps[:2] == ["recorded", "accepted"] and steps[-1] == "detected"
        sources = [str(table.get_row_at(i)[2]) for i in range(table.row_count)]
        assert all(sources)
        text = str(pilot.app.screen.query_one("#timeline-object").render())
        assert "application/json" in text and "Failed: ClientError" in text
        assert not app.errors


@pytest.mark.parametrize("size", SIZES)
async def test_arrow_keys_walk_the_steps_at_once_and_sources_fit(size) -> None:
    app = timeline_host(FAILED.request.inference_id)
    async with app.run_test(size=size) as pilot:
        await timeline_ready(pilot)
        screen = pilot.app.screen
        table = screen.query_one("#timeline-steps")
        await pilot.press("down", "down")
        assert table.has_focus and table.cursor_row == 2
        line = str(screen.query_one("#timeline-line").render())
        assert "queued" in line and FAILED.instance in line  # the box names the stream whole
        sources = [str(table.get_row_at(i)[2]) for i in range(table.row_count)]
        assert "logs instance/data-log" in sources
        width = table.columns["source"].width
        assert all(len(s) <= width for s in sources) or size[0] < 100, (width, sources)
        other = next(s for s in SIZES if s != size)
        await pilot.resize_terminal(*other)
        await pilot.pause()
        assert table.cursor_row == 2  # a resize keeps the step being read


async def test_a_missing_step_says_why_and_an_unknown_request_is_an_error() -> None:
    app = timeline_host(PENDING.request.inference_id)
    async with app.run_test(size=(120, 40)) as pilot:
        await timeline_ready(pilot)
        table = pilot.app.screen.query_one("#timeline-steps")
        detail = str(table.get_row_at(2)[3])
        assert detail.startswith("missing: no data-log line yet")
    app = timeline_host("nope")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.errors, 10)
        assert "no request 'nope'" in app.errors[0]


@pytest.mark.parametrize("size", SIZES)
async def test_doctor_fix_shows_the_diff_then_applies_on_y(size) -> None:
    doctor = FakeDoctor()
    app = doctor_host(doctor)
    async with app.run_test(size=size) as pilot:
        await doctor_ready(pilot)
        screen = pilot.app.screen
        assert screen.query_one("#doctor-table").row_count == 4
        assert screen.selected_finding().code == "min-zero-never-wakes"
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmFixScreen), 10)
        assert "HasBacklogWithoutCapacity" in str(pilot.app.screen.query_one("#fix-diff").render())
        await pilot.press("y")
        await until(pilot, lambda: doctor.applied == ["min-zero-never-wakes"]
                    and screen.query_one("#doctor-table").row_count == 3, 10)
        assert not app.errors


async def test_doctor_cancel_and_manual_fixes_change_nothing() -> None:
    doctor = FakeDoctor()
    app = doctor_host(doctor)
    async with app.run_test(size=(120, 40)) as pilot:
        await doctor_ready(pilot)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmFixScreen), 10)
        await pilot.press("n")
        await until(pilot, lambda: isinstance(pilot.app.screen, DoctorScreen), 10)
        await pilot.press("down", "enter")  # the manual one: its steps are shown, nothing runs
        await pilot.pause()
        why = str(pilot.app.screen.query_one("#doctor-why").render())
        assert "aws sns create-topic" in why
        assert doctor.applied == [] and doctor.planned == ["min-zero-never-wakes"]


async def test_read_only_dims_the_fix() -> None:
    doctor = FakeDoctor()
    app = doctor_host(doctor, read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await doctor_ready(pilot)
        await pilot.press("enter", "f")
        await pilot.pause()
        assert doctor.planned == [] and not isinstance(pilot.app.screen, ConfirmFixScreen)
        assert pilot.app.screen.check_action("fix", ()) is None  # the footer dims it


async def test_fix_on_a_row_without_findings_says_why_instead_of_nothing() -> None:
    app = doctor_host(FakeDoctor())
    async with app.run_test(size=(120, 40)) as pilot:
        await doctor_ready(pilot)
        screen = pilot.app.screen
        await pilot.press("end")  # translator, the last row: no findings
        assert screen.selected_finding() is None
        assert screen.check_action("fix", ()) is None  # the footer dims it
        await pilot.press("f")
        await pilot.press("enter")
        await pilot.pause()
        notes = [str(n.message) for n in pilot.app._notifications]
        assert notes.count("translator has no findings: fix refused") == 1, notes
        assert "translator has no findings: nothing to fix" in notes
        assert not isinstance(pilot.app.screen, ConfirmFixScreen)


# ---- snapshots ------------------------------------------------------------------------------

@pytest.mark.parametrize("size", SIZES)
def test_snapshot_failed_request_timeline(snap_compare, size) -> None:
    assert snap_compare(timeline_host(FAILED.request.inference_id), terminal_size=size,
                        run_before=timeline_ready)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_pending_request_timeline(snap_compare, size) -> None:
    assert snap_compare(timeline_host(PENDING.request.inference_id), terminal_size=size,
                        run_before=timeline_ready)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_doctor(snap_compare, size) -> None:
    assert snap_compare(doctor_host(), terminal_size=size, run_before=doctor_ready)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_doctor_fix_diff(snap_compare, size) -> None:
    async def run_before(pilot) -> None:
        await doctor_ready(pilot)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmFixScreen), 10)

    assert snap_compare(doctor_host(), terminal_size=size, run_before=run_before)


# ---- in the console: the Health column, :doctor, :request and Enter on a request -----------

def console(**extra):
    from dataclasses import dataclass
    from typing import Any

    from fixtures.fakes import FakeServices as UiFakes
    from smconsole.ui.app import SMConsole

    @dataclass
    class WithDiagnosis(UiFakes):
        timeline: Any = None
        doctor: Any = None

    services = WithDiagnosis(**extra)
    return SMConsole(services, ConsoleSettings()), services


class MarkingDoctor(FakeDoctor):
    """Every async endpoint of the UI fakes: summarizer-prod has an error, the rest are clean."""

    def check(self, name: str, *, quick: bool = False):
        from smconsole.models.doctor import EndpointHealth

        self.planned.append(f"check {name} quick={quick}")
        if name == "summarizer-prod":
            return EndpointHealth(name, "InService", sample_healths()[0].findings)
        return EndpointHealth(name, "InService")


async def test_the_endpoints_list_shows_each_async_endpoints_health_mark() -> None:
    doctor = MarkingDoctor()
    app, _ = console(doctor=doctor)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.endpoints_screen
        await until(pilot, lambda: screen.health.get("summarizer-prod"), 10)
        table = screen.query_one("#endpoints-table")
        await until(pilot, lambda: str(table.get_row("summarizer-prod")[2]) == "✖", 10)
        assert str(table.get_row("embeddings")[2]) == ""  # real-time: not checked
        assert all("quick=True" in c for c in doctor.planned)  # never the log-reading check
        checked = len(doctor.planned)
        screen.load_endpoints()  # a refresh with nothing changed checks nothing again
        await until(pilot, lambda: screen.refreshed_at is not None and not screen._loading, 10)
        await pilot.pause()
        assert len(doctor.planned) == checked
        table.move_cursor(row=table.get_row_index("summarizer-prod"))
        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, DoctorScreen), 10)
        assert app.screen.only == "summarizer-prod"


async def test_jumps_open_the_doctor_and_a_requests_timeline() -> None:
    timelines = FakeTimelines({FAILED.request.inference_id: FAILED})
    app, _ = console(doctor=FakeDoctor(), timeline=timelines)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.endpoints_screen.loaded, 10)
        app.jump(":doctor")
        await until(pilot, lambda: isinstance(app.screen, DoctorScreen) and app.screen.healths, 10)
        assert app.screen.only is None  # every endpoint, not the selected one
        app.jump(f":request {FAILED.request.inference_id}")
        await until(pilot, lambda: isinstance(app.screen, TimelineScreen)
                    and app.screen.timeline is not None, 10)
        app.jump(":request")  # no id: says so, opens nothing
        await pilot.pause()
        assert isinstance(app.screen, TimelineScreen) and timelines.calls == [
            FAILED.request.inference_id]


async def test_enter_on_a_request_row_opens_its_timeline() -> None:
    from fixtures.fakes import FakeOutputs, FakeRequests
    from smconsole.ui.screens.requests import RequestsScreen

    requests = FakeRequests()
    first = requests.rows[0]
    # Opened by BATCH/INDEX: by inference id, a row whose id a later batch reused (as the
    # demo's demo-named-request is on a second send) opened the later request.
    timelines = FakeTimelines({first.key: FAILED})
    app, _ = console(timeline=timelines, requests=requests, outputs=FakeOutputs())
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.endpoints_screen.loaded, 10)
        app.jump(":requests")
        await until(pilot, lambda: isinstance(app.screen, RequestsScreen)
                    and app.screen.query("#requests-table")
                    and app.screen.query_one("#requests-table").row_count == 5, 10)
        app.screen.query_one("#requests-table").move_cursor(row=0)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, TimelineScreen)
                    and app.screen.timeline is not None, 10)
        assert timelines.calls == [first.key]
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, RequestsScreen), 10)
        await pilot.press("p")  # the result in place, as before
        await until(pilot, lambda: "1 × 384" in str(app.screen.query_one("#preview-body").render()),
                    10)


async def test_an_embedding_preview_with_open_brackets_renders_as_it_is() -> None:
    """A JSON output (`{"embeddings":[[-0.13, …`) cut for the preview holds a lone `[` that
    Rich's escape leaves: Textual's markup paired it with the next tag and the screen died."""
    from dataclasses import replace

    preview = '[b]not bold[/b] {"embeddings":[[-0.13826581835746765,-0.0222931653'
    shown = replace(FAILED, output=replace(FAILED.output, preview=preview))
    app = timeline_host(shown.request.inference_id, DiagnoseServices(
        timeline=FakeTimelines({shown.request.inference_id: shown})))
    async with app.run_test(size=(80, 24)) as pilot:
        await timeline_ready(pilot)
        text = str(pilot.app.screen.query_one("#timeline-object").render())
        assert preview in text
        assert not app.errors
