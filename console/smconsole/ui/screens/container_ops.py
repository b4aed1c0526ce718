"""The bundled container from the keyboard: package, run, ping, invoke, check, stop."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Footer, Header, Input, Label, Log, Static
from textual.worker import Worker, WorkerState

from smconsole import errors, locations
from smconsole.models.container import Invocation, Ping, Running
from smconsole.ui.markup import escape
from smconsole.ui.screens.base import ConsoleScreen
from smconsole.ui.widgets.path_suggester import PathSuggester

if TYPE_CHECKING:
    from smconsole.ui.protocols import ContainerApi, ServicesApi
    from smconsole.ui.settings import ConsoleSettings

RUN_NAME = "console"
DEFAULT_BODY = '{"inputs": "hello from smconsole"}'


class ContainerScreen(ConsoleScreen):
    """Each key runs one step in a worker; every step's output lands in the log below.

    Focus starts in the model path (typing goes there); Enter moves to the log, where the
    letters are keys. Nothing here is an AWS call: it runs on this machine.
    """

    AREA = "container"
    CSS_PATH = "container_ops.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("k", "package", "Package", id="container.package"),
        Binding("r", "run", "Run", id="container.run"),
        Binding("g", "ping", "Ping", id="container.ping"),
        Binding("i", "invoke", "Invoke", id="container.invoke"),
        Binding("s", "stop", "Stop", id="container.stop"),
        Binding("c", "check", "Check", id="container.check"),
    ]
    AUTO_FOCUS = "#container-model"

    @dataclass
    class Output(Message):
        """Lines for the log; `status` (when set) replaces the status line."""

        lines: list[str]
        status: str | None = None

    @dataclass
    class RunChanged(Message):
        running: Running | None

    def __init__(self, services: ServicesApi, settings: ConsoleSettings,
                 model_path: str = "") -> None:
        super().__init__(services, settings)
        self.model_path = str(model_path)
        self.running: Running | None = None

    @property
    def api(self) -> ContainerApi | None:
        return self.services.container

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(classes="container-row"):
            yield Label("Model", classes="container-label")
            yield Input(value=self.model_path, placeholder="model folder or model.tar.gz",
                        select_on_focus=False,
                        id="container-model", suggester=PathSuggester((".tar.gz",)))
        with Horizontal(classes="container-row"):
            yield Label("Body ", classes="container-label")
            yield Input(value=DEFAULT_BODY, placeholder="JSON body, or @file.json",
                        select_on_focus=False,
                        id="container-body")
        yield Static("", id="container-status")
        yield Log(id="container-output", max_lines=5000)
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        if self.api is None:
            self._status("[red]container operations are not available in this console[/]")
            return
        self.load_status()

    @on(Input.Submitted)
    def input_done(self) -> None:
        self.query_one("#container-output", Log).focus()

    def action_state(self, action: str) -> bool | None:
        if action in ("ping", "invoke", "stop") and self.running is None:
            return None
        if action == "run" and self.running is not None:
            return None
        return True

    def refused(self, action: str) -> str | None:
        if action in ("ping", "invoke", "stop") and self.running is None:
            return "no container running (r runs one)"
        if action == "run" and self.running is not None:
            return f"already running at {self.running.url} (s stops it)"
        return super().refused(action)

    # ---- status -------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="container-status")
    def load_status(self) -> None:
        assert self.api is not None
        status = self.api.docker_status()
        try:
            running: Running | None = self.api.get(RUN_NAME)
        except errors.NotFound:
            running = None
        self.post_message(self.RunChanged(running))
        mode = "docker" if status.engine else "process mode"
        self.post_message(self.Output(
            [f"docker: {status.message}",
             "Type the model folder (→ completes); Enter leaves the field, then keys work:",
             "  k package · r run · g ping · i invoke · s stop · c check"],
            f"{mode} · GPU: {'yes' if status.gpu else 'no'}"))

    @on(Worker.StateChanged)
    def step_failed(self, event: Worker.StateChanged) -> None:
        # The app notifies; the status line must not keep saying "packaging…".
        if event.state is WorkerState.ERROR:
            error = event.worker.error
            self._status(f"[red]failed: {escape(str(error) or type(error).__name__)}[/]")

    @on(Output)
    def show_output(self, message: Output) -> None:
        if message.lines:
            self.query_one("#container-output", Log).write_lines(message.lines)
        if message.status is not None:
            self._status(escape(message.status))

    @on(RunChanged)
    def run_changed(self, message: RunChanged) -> None:
        self.running = message.running
        self.refresh_bindings()

    # ---- steps --------------------------------------------------------------------------

    def _model(self) -> Path | None:
        raw = self.query_one("#container-model", Input).value.strip()
        if not raw:
            self._status("[red]give a model folder or model.tar.gz first[/]")
            self.query_one("#container-model", Input).focus()
            return None
        return Path(raw).expanduser()

    def action_package(self) -> None:
        model = self._model()
        if model is not None and self.api is not None:
            self._status(f"packaging {escape(str(model))}…")
            self.package_model(model)

    @work(thread=True, exclusive=True, exit_on_error=False, group="container-step")
    def package_model(self, model: Path) -> None:
        assert self.api is not None
        output = locations.state_dir() / "packages" / model.name / "model.tar.gz"
        package = self.api.package(model, output)
        self.post_message(self.Output(
            [(f"packaged {package.files} files as model/… into {package.path} "
             f"({package.size / 1e6:.1f} MB)")], "packaged"))

    def action_run(self) -> None:
        model = self._model()
        if model is not None and self.api is not None:
            self._status(f"starting on {escape(str(model))}…")
            self.run_container(model)

    @work(thread=True, exclusive=True, exit_on_error=False, group="container-run")
    def run_container(self, model: Path) -> None:
        assert self.api is not None
        running = self.api.run(model, name=RUN_NAME)
        self.post_message(self.RunChanged(running))
        self.post_message(self.Output(
            [f"started ({running.mode}) at {running.url}"
             + (f", pid {running.pid}" if running.pid else "")],
            f"{running.mode} at {running.url}: loading…"))
        seen: set[int | None] = set()

        def on_ping(ping: Ping) -> None:
            if ping.status not in seen:  # one line per new answer, not one per poll
                seen.add(ping.status)
                self.post_message(self.Output([f"/ping {ping.status or 'no answer'}"]))

        try:
            ping = self.api.wait_healthy(running, on_ping=on_ping)
        except errors.SmconsoleError:
            self.post_message(self.RunChanged(None))
            raise
        self.post_message(self.Output([f"healthy: /ping 200 in {ping.elapsed * 1000:.0f} ms"],
                                      f"{running.mode} at {running.url}: healthy"))

    def action_ping(self) -> None:
        if self.running is not None:
            self.ping_container(self.running)

    @work(thread=True, exclusive=True, exit_on_error=False, group="container-step")
    def ping_container(self, running: Running) -> None:
        assert self.api is not None
        ping = self.api.ping(running)
        self.post_message(self.Output(
            [f"/ping {ping.status or 'no answer'} in {ping.elapsed * 1000:.0f} ms {ping.body}"]))

    def action_invoke(self) -> None:
        if self.running is None:
            return
        raw = self.query_one("#container-body", Input).value.strip()
        try:
            body = Path(raw[1:]).expanduser().read_bytes() if raw.startswith("@") else raw.encode()
        except OSError as exc:
            self._status(f"[red]{escape(raw[1:])}: {escape(exc.strerror or str(exc))}[/]")
            return
        self.invoke_container(self.running, body)

    @work(thread=True, exclusive=True, exit_on_error=False, group="container-step")
    def invoke_container(self, running: Running, body: bytes) -> None:
        assert self.api is not None
        answer = self.api.invoke(running, body, "application/json")
        self.post_message(self.Output(
            [f"/invocations {answer.status} in {answer.elapsed * 1000:.0f} ms",
             summarize(answer)]))

    def action_stop(self) -> None:
        if self.running is not None:
            self._status("stopping…")
            self.stop_container(self.running)

    @work(thread=True, exclusive=True, exit_on_error=False, group="container-step")
    def stop_container(self, running: Running) -> None:
        assert self.api is not None
        code = self.api.stop(running)
        self.post_message(self.RunChanged(None))
        self.post_message(self.Output(
            [f"stopped{'' if code is None else f' (exit {code})'}"], "stopped"))

    def action_check(self) -> None:
        model = self._model()
        if model is not None and self.api is not None:
            self._status("preflight: starting as SageMaker does (serve, /opt/ml/model)…")
            self.check_container(model)

    @work(thread=True, exclusive=True, exit_on_error=False, group="container-check")
    def check_container(self, model: Path) -> None:
        assert self.api is not None
        result = self.api.check(
            model, on_step=lambda step: self.post_message(self.Output([step.line()])))
        tail = [f"  {line}" for line in result.log_tail]
        verdict = "preflight passed" if result.ok else "preflight FAILED"
        self.post_message(self.Output(
            ([f"{verdict} ({result.mode} mode)"] + (["last log lines:"] + tail if tail else [])),
            verdict))

    def _status(self, markup: str) -> None:
        self.query_one("#container-status", Static).update(markup)


def summarize(answer: Invocation, limit: int = 600) -> str:
    """Embeddings as their shape (16 KB of floats says nothing); anything else as text."""
    try:
        body = json.loads(answer.body)
    except ValueError:
        return answer.text(limit)
    vectors = body.get("embeddings") if isinstance(body, dict) else None
    if isinstance(vectors, list) and vectors and isinstance(vectors[0], list):
        rest = {k: v for k, v in body.items() if k != "embeddings"}
        head = ", ".join(f"{x:.4f}" for x in vectors[0][:4])
        return (f"embeddings: {len(vectors)} × {len(vectors[0])} [{head}, …] "
                f"{json.dumps(rest)}")
    return answer.text(limit)
