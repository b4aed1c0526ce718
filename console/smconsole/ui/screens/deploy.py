"""Deploy from a YAML spec: dry run (the diff) first, then apply with progress, then cleanup."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Footer, Header, Input, Label, Log, Static

from smconsole import errors, locations
from smconsole.models.deploy import (
    CleanupResult,
    DeployPlan,
    DeployProgress,
    DeployResult,
    Resource,
)
from smconsole.specs.deploy import DeploySpec, load_deploy_spec
from smconsole.ui.screens.base import ConsoleScreen
from smconsole.ui.screens.scaling import ConfirmChangesScreen, _diff_markup
from smconsole.ui.widgets.path_suggester import PathSuggester

if TYPE_CHECKING:
    from collections.abc import Callable

    from smconsole.ui.settings import ConsoleSettings

DEFAULT_SPEC = "deploy-demo.yaml"


class DeployApi(Protocol):
    def plan(self, spec: DeploySpec) -> DeployPlan: ...
    def deploy(self, target: DeploySpec | DeployPlan,
               progress: Callable[[DeployProgress], None] | None = None, *,
               timeout: float = 3600.0) -> DeployResult: ...
    def cleanup(self, created: tuple[Resource, ...]) -> CleanupResult: ...


class DeployScreen(ConsoleScreen):
    """`p` plans (a dry run), `a` applies after a confirmation, `x` deletes what a failure left."""

    AREA = "deploy"
    CSS_PATH = "deploy.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "plan", "Dry run", id="deploy.plan"),
        Binding("a", "apply", "Apply", id="deploy.apply"),
        Binding("x", "cleanup", "Clean up", id="deploy.cleanup"),
    ]
    MUTATING = frozenset({"apply", "cleanup"})
    # Letters are the screen's keys: focus starts (and returns) on the log, not the path input.
    AUTO_FOCUS = "#deploy-progress"

    class Planned(Message):
        def __init__(self, plan: DeployPlan) -> None:
            super().__init__()
            self.plan = plan

    class PlanFailed(Message):
        def __init__(self, error: str) -> None:
            super().__init__()
            self.error = error

    class Progressed(Message):
        def __init__(self, progress: DeployProgress) -> None:
            super().__init__()
            self.progress = progress

    class Finished(Message):
        def __init__(self, result: DeployResult) -> None:
            super().__init__()
            self.result = result

    class CleanedUp(Message):
        def __init__(self, result: CleanupResult) -> None:
            super().__init__()
            self.result = result

    def __init__(self, services: Any, settings: ConsoleSettings | None = None,
                 spec_path: str | None = None) -> None:
        super().__init__()
        self.services = services
        self.settings = settings
        self.api: DeployApi | None = getattr(services, "deploy", None)
        self.spec_path = spec_path or str(locations.configs_dir() / DEFAULT_SPEC)
        self.plan: DeployPlan | None = None
        self.result: DeployResult | None = None
        self.running = False
        self.started: float | None = None
        self.last_progress: DeployProgress | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="deploy-spec-bar"):
            yield Label("Spec", classes="deploy-label")
            yield Input(value=self.spec_path, id="deploy-path",
                        suggester=PathSuggester((".yaml", ".yml")))
        yield Static("p: dry run (what will be created or changed) · a: apply · "
                     "x: clean up a failed deploy", id="deploy-status")
        with Horizontal(id="deploy-body"):
            with Vertical(id="deploy-plan-box", classes="deploy-box"):
                yield Static("[b]Plan[/b]", classes="deploy-box-title")
                yield Static("no plan yet", id="deploy-diff")
            with Vertical(id="deploy-run-box", classes="deploy-box"):
                yield Static("[b]Progress[/b]", classes="deploy-box-title")
                yield Log(id="deploy-progress", max_lines=2000)
                yield Static("", id="deploy-outcome")
        yield Footer()

    def on_mount(self) -> None:
        if self.api is None:
            self._status("[red]deploying is not available in this console[/]")
        # DescribeEndpoint is polled every 15 s on AWS; the elapsed time moves every second.
        self.set_interval(1.0, self._tick_elapsed, name="deploy-elapsed")

    def _now(self) -> float:
        return float(getattr(self.settings, "clock", time.time)())

    def _tick_elapsed(self) -> None:
        progress = self.last_progress
        if self.running and progress is not None and self.started is not None:
            self._status(f"{progress.stage}: {escape(progress.status)} · "
                         f"{self._now() - self.started:.0f}s elapsed")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.MUTATING and getattr(self.settings, "read_only", False):
            return None
        if action == "apply" and (self.plan is None or self.running):
            return False
        if action == "cleanup":
            result = self.result
            return bool(result and result.created and not result.ok and not self.running)
        return True

    # ---- plan ---------------------------------------------------------------------------

    @on(Input.Submitted, "#deploy-path")
    def path_submitted(self) -> None:
        self.query_one("#deploy-progress", Log).focus()
        self.action_plan()

    def action_plan(self) -> None:
        if self.api is None or self.running:
            return
        self.spec_path = self.query_one("#deploy-path", Input).value.strip()
        self.plan = None
        self.refresh_bindings()
        self._status(f"planning {escape(self.spec_path)}…")
        self.plan_deploy(Path(self.spec_path))

    @work(thread=True, exclusive=True, exit_on_error=False, group="deploy-plan")
    def plan_deploy(self, path: Path) -> None:
        assert self.api is not None
        try:
            spec = load_deploy_spec(path)  # validated before any call
            plan = self.api.plan(spec)
        except errors.SmconsoleError as exc:
            self.post_message(self.PlanFailed(str(exc)))
            return
        self.post_message(self.Planned(plan))

    @on(PlanFailed)
    def show_plan_error(self, message: PlanFailed) -> None:
        self.query_one("#deploy-diff", Static).update(f"[red]{escape(message.error)}[/]")
        self._status("[red]the spec cannot be deployed as it is[/]")

    @on(Planned)
    def show_plan(self, message: Planned) -> None:
        self.plan = message.plan
        self.query_one("#deploy-diff", Static).update(_diff_markup(message.plan.diff_lines()))
        self._status(f"dry run: {message.plan.action} {escape(message.plan.endpoint)} · "
                     "a applies")
        self.refresh_bindings()

    # ---- apply --------------------------------------------------------------------------

    def action_apply(self) -> None:
        plan = self.plan
        if plan is None or self.api is None:
            return

        def decided(apply: bool | None) -> None:
            if not apply:
                self._status("cancelled: nothing was created")
                return
            self.running = True
            self.result = None
            self.refresh_bindings()
            self.query_one("#deploy-progress", Log).clear()
            self.query_one("#deploy-outcome", Static).update("")
            self.started = self._now()
            self.last_progress = None
            self.run_deploy(plan)

        self.app.push_screen(ConfirmChangesScreen(
            f"{plan.action.title()} endpoint {plan.endpoint}", plan.diff_lines(), ()), decided)

    @work(thread=True, exclusive=True, exit_on_error=False, group="deploy-run")
    def run_deploy(self, plan: DeployPlan) -> None:
        assert self.api is not None
        result = self.api.deploy(plan, lambda p: self.post_message(self.Progressed(p)))
        self.post_message(self.Finished(result))

    @on(Progressed)
    def show_progress(self, message: Progressed) -> None:
        progress = self.last_progress = message.progress
        self.query_one("#deploy-progress", Log).write_line(progress.line())
        self._status(f"{progress.stage}: {escape(progress.status)} · "
                     f"{progress.elapsed:.0f}s elapsed")

    @on(Finished)
    def show_result(self, message: Finished) -> None:
        result = self.result = message.result
        self.running = False
        self.plan = None  # names are timestamped: plan again before another apply
        lines = [f"[{'green' if result.ok else 'red'}]{escape(result.summary())}[/]"]
        if result.failure_reason and result.failure_reason not in result.summary():
            lines.append(f"[red]{escape(result.failure_reason)}[/]")
        if result.log_lines:
            lines.append("[b]last container log lines[/b]")
            lines += [escape(line) for line in result.log_lines]
        if not result.ok and result.created:
            lines.append("created: " + ", ".join(escape(r.label()) for r in result.created)
                         + " · [b]x[/b] deletes them")
        self.query_one("#deploy-outcome", Static).update("\n".join(lines))
        self._status("done" if result.ok else "[red]failed[/]")
        self.refresh_bindings()

    # ---- cleanup ------------------------------------------------------------------------

    def action_cleanup(self) -> None:
        result = self.result
        if result is None or not result.created or self.api is None:
            return

        def decided(go: bool | None) -> None:
            if go:
                self.running = True
                self.refresh_bindings()
                self._status("cleaning up…")
                self.run_cleanup(result.created)

        lines = [f"- {r.label()}" for r in reversed(result.created)]
        self.app.push_screen(ConfirmChangesScreen("Delete what the failed deploy created",
                                                  lines, ()), decided)

    @work(thread=True, exclusive=True, exit_on_error=False, group="deploy-cleanup")
    def run_cleanup(self, created: tuple[Resource, ...]) -> None:
        assert self.api is not None
        self.post_message(self.CleanedUp(self.api.cleanup(created)))

    @on(CleanedUp)
    def show_cleanup(self, message: CleanedUp) -> None:
        self.running = False
        cleaned = message.result
        text = "deleted: " + (", ".join(r.label() for r in cleaned.deleted) or "nothing")
        for resource, why in cleaned.failed:
            text += f"\n[red]not deleted: {escape(resource.label())}: {escape(why)}[/]"
        if cleaned.ok:
            self.result = None
        self.query_one("#deploy-outcome", Static).update(escape(text) if cleaned.ok else text)
        self._status("cleaned up" if cleaned.ok else "[red]cleanup incomplete[/]")
        self.refresh_bindings()

    def _status(self, markup: str) -> None:
        self.query_one("#deploy-status", Static).update(markup)
