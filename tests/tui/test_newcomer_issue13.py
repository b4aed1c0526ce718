"""What a newcomer hit (issue 13), each reproduced with Pilot: real moto where AWS is asked,
the in-memory fakes where the screen alone is under test."""

from __future__ import annotations

from pathlib import Path

from fixtures.fakes import FakeServices
from fixtures.moto import make_endpoint, put_logs
from fixtures.screen_host import until
from smconsole.services.registry import Services
from smconsole.ui.app import SMConsole, run_app
from smconsole.ui.screens.endpoint_detail import EndpointDetailScreen
from smconsole.ui.screens.endpoints import EndpointsScreen
from smconsole.ui.screens.logs import LogsScreen
from smconsole.ui.screens.modals import ConfirmDeleteScreen, JumpScreen
from smconsole.ui.screens.scaling import ScalingScreen
from smconsole.ui.settings import ConsoleSettings, load_settings
from textual.widgets import Input, Static


def _text(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def _set_counts(name: str, current: int, desired: int) -> None:
    """Scale a variant on moto's backend (the server runs in this interpreter), as
    autoscaling does: LastModifiedTime does not move."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sagemaker.models import sagemaker_backends

    endpoint = sagemaker_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].endpoints[name]
    for variant in endpoint.production_variants:
        variant["CurrentInstanceCount"] = current
        variant["DesiredInstanceCount"] = desired


async def _listed(pilot, app: SMConsole) -> EndpointsScreen:
    screen = app.endpoints_screen
    await until(pilot, lambda: screen.loaded and not any(
        not e.described for e in screen.endpoints.values()))
    return screen


# ---- 13.1 logs ---------------------------------------------------------------------------

async def test_logs_prompts_are_visible_and_search_survives_a_filter(moto_session) -> None:
    make_endpoint(moto_session, "noisy")
    put_logs(moto_session, "noisy", "AllTraffic/i-0001",
             ['10.0.0.1 - "GET /ping HTTP/1.1" 200', "ERROR model raised", "INFO model ok"])
    app = SMConsole(Services.build(moto_session))
    async with app.run_test(size=(120, 40)) as pilot:
        await _listed(pilot, app)
        app.jump(":logs noisy")
        await until(pilot, lambda: isinstance(app.screen, LogsScreen) and app.screen.is_mounted
                    and app.screen.view.event_count == 3)
        logs = app.screen
        await pilot.press("slash", *"model")
        box = logs.query_one("#logs-prompt", Input)
        # The bar is on screen (it hid under the footer: typing was blind).
        assert box.region.height == 1 and box.region.bottom <= logs.query_one("Footer").region.y
        assert box.value == "model"
        await pilot.press("enter", "i")
        assert logs.prompt_mode == "include"
        await pilot.press(*"model", "enter")
        assert logs.view.row_count == 2
        assert "(no match)" not in _text(logs, "#logs-status")  # two rows hold "model"
        logs.view.wrap = True
        await pilot.pause()
        before = logs.view._prefix_width()
        await pilot.press("t")  # timestamps off: wrapped rows are cut for the new width
        await pilot.pause()
        assert logs.view._prefix_width() < before
        assert logs.view.rebuilt_width == max(
            20, logs.view.scrollable_content_region.width - logs.view._prefix_width())


# ---- 13.2 counts stay current ---------------------------------------------------------

async def test_list_and_detail_follow_a_scale_in_by_themselves(moto_session) -> None:
    make_endpoint(moto_session, "scaled", count=2)
    settings = ConsoleSettings(refresh_seconds=0.3)
    app = SMConsole(Services.build(moto_session), settings)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _listed(pilot, app)
        assert screen.endpoints["scaled"].current_instances == 2
        _set_counts("scaled", 0, 0)
        await pilot.press("r")
        assert any(n.message.startswith("refreshing") for n in app._notifications)
        await until(pilot, lambda: screen.endpoints["scaled"].current_instances == 0)
        assert "refreshed " in _text(screen, "#endpoints-status")
        await pilot.press("enter")
        detail = app.screen
        assert isinstance(detail, EndpointDetailScreen)
        await until(pilot, lambda: detail.detail is not None)
        _set_counts("scaled", 1, 1)
        await until(pilot, lambda: detail.detail.endpoint.current_instances == 1)
        assert "refreshed " in _text(detail, "#detail-title")
        assert screen.endpoints["scaled"].current_instances == 1  # the list saw it too


# ---- 13.4 errors say what happened, as text ------------------------------------------

async def test_errors_are_text_and_a_missing_endpoint_is_said_so(moto_session) -> None:
    from smconsole.services.autoscaling import AutoscalingService

    app = SMConsole(Services.build(moto_session))
    async with app.run_test(size=(120, 40)) as pilot:
        await _listed(pilot, app)
        app.jump(":endpoint nope")
        detail = app.screen
        await until(pilot, lambda: detail.is_mounted and "nope" in _text(detail, "#detail-title")
                    and "exist" in _text(detail, "#detail-title"))
        assert "does not exist" in _text(detail, "#detail-title")
        assert "deleted" not in _text(detail, "#detail-title")
        app.connection_error = "NotFound"
        app._update_header()
        assert app.sub_title == "local · ✖ NotFound" and "[" not in app.sub_title
        app.jump(":endpoints")
    services = Services.build(moto_session)
    assert isinstance(services.autoscaling, AutoscalingService)
    app = SMConsole(services)
    async with app.run_test(size=(120, 40)) as pilot:
        await _listed(pilot, app)
        app.jump(":scaling nope")
        scaling = app.screen
        assert isinstance(scaling, ScalingScreen)
        await until(pilot, lambda: scaling.is_mounted
                    and "loading" not in _text(scaling, "#scaling-title"))
        assert "does not exist" in _text(scaling, "#scaling-title")


async def test_a_missing_endpoint_is_not_also_a_cost_error_toast_nor_a_header_error(
    moto_session,
) -> None:
    app = SMConsole(Services.build(moto_session))
    async with app.run_test(size=(120, 40)) as pilot:
        await _listed(pilot, app)
        app.jump(":endpoint nope")
        detail = app.screen
        await until(pilot, lambda: detail.is_mounted
                    and "does not exist" in _text(detail, "#detail-title"))
        await until(pilot, lambda: not any(w.is_running for w in detail.workers))
        await pilot.pause()
        assert "loading" not in _text(detail, "#detail-cost")
        # It said "detail-cost / DescribeEndpoint: Could not find endpoint ..." and the
        # header turned to "✖ NotFound" as if the connection had failed.
        assert app.connection_error is None, app.connection_error
        notes = [f"{n.title} {n.message}" for n in app._notifications]
        assert not any("detail-cost" in n for n in notes), notes


# ---- 13.9 the `:` prompt ---------------------------------------------------------------

async def test_jump_prompt_completes_what_is_typed() -> None:
    app = SMConsole(FakeServices(), ConsoleSettings())
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.endpoints_screen.loaded)
        await pilot.press("colon")
        assert isinstance(app.screen, JumpScreen)
        await pilot.press("r", "e")
        await until(pilot, lambda: app.screen.query_one(Input)._suggestion == "requests")
        await pilot.press("tab")
        assert app.screen.query_one(Input).value == "requests"
        await pilot.press("escape")
        await pilot.press("colon", "l", "o", "g", "s", "space", "s", "u", "m", "m")
        await until(pilot, lambda: app.screen.query_one(Input)._suggestion)
        await pilot.press("tab", "enter")
        await until(pilot, lambda: isinstance(app.screen, LogsScreen))
        assert app.screen.endpoint_name.startswith("summ")
        app.jump(":re")  # a unique prefix is enough
        await until(pilot, lambda: type(app.screen).__name__ == "RequestsScreen")
        await pilot.pause()


# ---- 13.10 k9s habits ------------------------------------------------------------------

async def test_d_describes_ctrl_d_deletes_and_the_cursor_follows_home_end() -> None:
    services = FakeServices()
    app = SMConsole(services, ConsoleSettings())
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _listed(pilot, app)
        table = screen.table
        await pilot.press("end")
        assert screen.selected_name() == "vision-batch"
        await pilot.press("home")
        assert table.cursor_row == 0 and screen.selected_name() == "broken-model"
        await pilot.press("d")
        assert isinstance(app.screen, EndpointDetailScreen)
        assert app.screen.endpoint_name == "broken-model"
        await pilot.press("escape")
        await pilot.press("ctrl+d")
        assert isinstance(app.screen, ConfirmDeleteScreen)
        assert app.screen.target == "broken-model"
        await pilot.press("escape")
        assert services.endpoints.deleted == []


# ---- 13.12 deleting takes its config and models along (when asked) ---------------------

async def test_delete_offers_the_config_and_models_too(moto_session) -> None:
    make_endpoint(moto_session, "gone-whole")
    app = SMConsole(Services.build(moto_session))
    sm = moto_session.client("sagemaker")
    async with app.run_test(size=(120, 40)) as pilot:
        await _listed(pilot, app)
        app.open_detail("gone-whole")
        detail = app.screen
        await until(pilot, lambda: detail.detail is not None)
        await pilot.press("ctrl+d")
        dialog = app.screen
        assert isinstance(dialog, ConfirmDeleteScreen)
        label = str(dialog.query_one("#confirm-cascade").label)
        assert "gone-whole-config" in label and "gone-whole-model" in label
        await pilot.press(*"gone-whole", "enter")
        await until(pilot, lambda: not sm.list_models()["Models"], timeout=15)
    assert sm.list_endpoints()["Endpoints"] == []
    assert sm.list_endpoint_configs()["EndpointConfigs"] == []


async def test_a_failed_deploy_can_be_cleaned_up_from_its_endpoint() -> None:
    from fixtures.fakes import FixedDeploy
    from smconsole.models.deploy import Resource

    deploy = FixedDeploy()
    app = SMConsole(FakeServices(deploy=deploy), ConsoleSettings())
    async with app.run_test(size=(120, 40)) as pilot:
        await _listed(pilot, app)
        created = (Resource("model", "m-1"), Resource("endpoint-config", "c-1"))
        app.failed_deploys["broken-model"] = created  # what :deploy records on a failure
        app.open_detail("broken-model")
        detail = app.screen
        await until(pilot, lambda: detail.detail is not None)
        assert "x deletes what the failed deploy created" in _text(detail, "#detail-title")
        await pilot.press("x")
        await until(pilot, lambda: type(app.screen).__name__ == "ConfirmChangesScreen")
        await pilot.press("y")
        await until(pilot, lambda: deploy.cleaned)
        assert deploy.cleaned == [created]
        await until(pilot, lambda: "broken-model" not in app.failed_deploys)


# ---- 13.13 theme kept, and what is still running on quit -------------------------------

async def test_a_theme_picked_is_kept_for_the_next_start() -> None:
    app = SMConsole(FakeServices(), ConsoleSettings())
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.endpoints_screen.loaded)
        app.theme = "nord"  # what the palette's theme switcher sets
        await pilot.pause()
    assert load_settings().theme == "nord"


def test_quit_says_what_is_still_running(capsys, monkeypatch) -> None:
    monkeypatch.setattr(SMConsole, "run", lambda self: None)
    run_app(FakeServices(), ConsoleSettings(),
            farewell="the local stack is still running: `smconsole local stop` stops it")
    assert "smconsole local stop" in capsys.readouterr().out


def test_theme_line_is_replaced_in_place(tmp_path: Path, monkeypatch) -> None:
    from smconsole.ui.settings import save_theme

    monkeypatch.setenv("SMCONSOLE_CONFIG_DIR", str(tmp_path))
    (tmp_path / "console.yaml").write_text("# mine\ntheme: gruvbox   # old\nrefresh_seconds: 5\n")
    save_theme("nord")
    assert (tmp_path / "console.yaml").read_text() == \
        "# mine\ntheme: nord\nrefresh_seconds: 5\n"


async def test_jumping_to_a_view_already_open_goes_back_to_it() -> None:
    """Seen walking it: `:requests` twice (with `:deploy` between) crashed on a duplicate id."""
    from fixtures.fakes import FakeOutputs, FakeRequests

    app = SMConsole(FakeServices(requests=FakeRequests(), outputs=FakeOutputs()),
                    ConsoleSettings())
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.endpoints_screen.loaded)
        for target in (":requests", ":deploy", ":requests"):
            app.jump(target)
            await pilot.pause()
        assert [type(s).__name__ for s in app.screen_stack[1:]] == \
            ["EndpointsScreen", "RequestsScreen"]
        assert app.is_running


def test_the_scale_to_zero_preset_is_the_shipped_config() -> None:
    """Issue 13 (one vocabulary): the UI preset said Max 2 while the config said 4."""
    from smconsole.locations import configs_dir
    from smconsole.specs.scaling import load_scaling_spec
    from smconsole.ui.widgets.scaling_form import PRESET_MAX, PRESET_TARGET

    spec = load_scaling_spec(configs_dir() / "scaling-scale-to-zero.yaml")
    assert (spec.min_capacity, spec.max_capacity) == (0, PRESET_MAX)
    assert spec.target_tracking[0].target == PRESET_TARGET
    assert spec.scale_out_from_zero is not None
