"""Deploy from a YAML spec: dry run (the diff) first, then apply with progress, then cleanup."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

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
from smconsole.specs.deploy import load_deploy_spec
from smconsole.ui.markup import escape
from smconsole.ui.screens.base import ConsoleScreen
from smconsole.ui.screens.modals import ConfirmChangesScreen, diff_markup
from smconsole.ui.widgets.path_suggester import PathSuggester

if TYPE_CHECKING:
    from smconsole.ui.protocols import DeployApi, ServicesApi
    from smconsole.ui.settings import ConsoleSettings

DEFAULT_SPEC = "deploy-demo.yaml"


class DeployScreen(ConsoleScreen):
    """`p` plans (a dry run), `a` applies after a confirmation, `x` deletes what a failure left.

    Focus starts in the spec path (typing goes there; Enter runs the dry run), then moves to
    the progress log, where the letters are keys.
    """

    AREA = "deploy"
    CSS_PATH = "deploy.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "plan", "Dry run", id="deploy.plan"),
        Binding("a", "apply", "Apply", id="deploy.apply"),
        Binding("x", "cleanup", "Clean up", id="deploy.cleanup"),
    ]
    MUTATING = frozenset({"apply", "cleanup"})
    AUTO_FOCUS = "#deploy-path"

    @dataclass
    class Planned(Message):
        plan: DeployPlan

    @dataclass
    class PlanFailed(Message):
        error: str

    @dataclass
    class Progressed(Message):
        progress: DeployProgress

    @dataclass
    class Finished(Message):
        result: DeployResult

    @dataclass
    class CleanedUp(Message):
        result: CleanupResult

    def __init__(self, services: ServicesApi, settings: ConsoleSettings,
                 spec_path: str | None = None) -> None:
        super().__init__(services, settings)
        self.spec_path = spec_path or str(locations.configs_dir() / DEFAULT_SPEC)
        self.plan: DeployPlan | None = None
        self.result: DeployResult | None = None
        self.running = False
        self.started: float | None = None
        self.last_progress: DeployProgress | None = None

    @property
    def api(self) -> DeployApi | None:
        return self.services.deploy

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="deploy-spec-bar"):
            yield Label("Spec", classes="deploy-label")
            yield Input(value=self.spec_path, id="deploy-path", select_on_focus=False,
                        suggester=PathSuggester((".yaml", ".yml")))
        yield Static("Enter: dry run of this spec (the diff); then a applies",
                     id="deploy-status")
        with Horizontal(id="deploy-body"):
            with Vertical(id="deploy-plan-box", classes="deploy-box"):
                yield Static("[b]Plan[/b]", classes="deploy-box-title")
                yield Static("no plan yet", id="deploy-diff")
            with Vertical(id="deploy-run-box", classes="deploy-box"):
                yield Static("[b]Progress[/b]", classes="deploy-box-title")
                yield Log(id="deploy-progress", max_lines=2000)
                yield Static("", id="deploy-outcome")
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        if self.api is None:
            self._status("[red]deploying is not available in this console[/]")
        # DescribeEndpoint is polled every 15 s on AWS; the elapsed time moves every second.
        self.set_interval(1.0, self._tick_elapsed, name="deploy-elapsed")

    def _now(self) -> float:
        return self.settings.clock()

    def _tick_elapsed(self) -> None:
        progress = self.last_progress
        if self.running and progress is not None and self.started is not None:
            self._status(f"{progress.stage}: {escape(progress.status)} · "
                         f"{self._now() - self.started:.0f}s elapsed")

    def action_state(self, action: str) -> bool | None:
        if action == "apply":
            return None if self.plan is None or self.running else True
        if action == "cleanup":
            result = self.result
            return bool(result and result.created and not result.ok and not self.running)
        return True

    def refused(self, action: str) -> str | None:
        why = super().refused(action)
        if why is None and action == "apply":
            if self.running:
                return "a deploy is running"
            if self.plan is None:
                return "dry run first (p, or Enter in the spec path)"
        return why

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
        self.query_one("#deploy-diff", Static).update(diff_markup(message.plan.diff_lines()))
        then = "read-only: nothing can be applied" if self.read_only else "a applies"
        self._status(f"dry run: {message.plan.action} {escape(message.plan.endpoint)} · {then}")
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
            f"{plan.action.title()} endpoint {plan.endpoint}", plan.diff_lines()), decided)

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
        failed_deploys = getattr(self.app, "failed_deploys", None)
        if not result.ok and result.created:
            lines.append("created: " + ", ".join(escape(r.label()) for r in result.created)
                         + " · [b]x[/b] deletes them (here, or later from "
                         + f":endpoint {escape(result.endpoint)})")
            if failed_deploys is not None:
                failed_deploys[result.endpoint] = tuple(result.created)
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
                                                  lines, verb="deletes them"), decided)

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
            failed_deploys = getattr(self.app, "failed_deploys", None)
            if failed_deploys is not None and self.result is not None:
                failed_deploys.pop(self.result.endpoint, None)
            self.result = None
        self.query_one("#deploy-outcome", Static).update(escape(text) if cleaned.ok else text)
        self._status("cleaned up" if cleaned.ok else "[red]cleanup incomplete[/]")
        self.refresh_bindings()

    def _status(self, markup: str) -> None:
        self.query_one("#deploy-status", Static).update(markup)
