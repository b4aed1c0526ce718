"""The autoscaling editor for one endpoint variant: state, tracked metric, edit, diff, apply."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Sparkline, Static

from smconsole import errors
from smconsole.models.metrics import MetricSeries
from smconsole.models.scaling import (
    ScalingPlan,
    ScalingPolicy,
    ScalingResult,
    ScalingState,
)
from smconsole.specs.scaling import DEFAULT_STATISTIC, ScalingSpec
from smconsole.ui.markup import escape
from smconsole.ui.screens.base import ConsoleScreen
from smconsole.ui.screens.modals import ConfirmChangesScreen, diff_markup
from smconsole.ui.widgets.scaling_form import METRICS, ScalingForm

if TYPE_CHECKING:
    from smconsole.ui.protocols import AutoscalingApi, ServicesApi
    from smconsole.ui.settings import ConsoleSettings


class ScalingScreen(ConsoleScreen):
    """Bounds and policies of `endpoint`'s variant; edits are planned, shown, then applied."""

    AREA = "scaling"
    CSS_PATH = "scaling.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "plan", "Apply", id="scaling.apply"),
        Binding("z", "scale_to_zero", "Zero preset", id="scaling.preset_zero"),
        Binding("r", "refresh", "Refresh", id="scaling.refresh"),
    ]
    MUTATING = frozenset({"plan", "scale_to_zero"})
    # Letters are keys here: focus starts on the policies; Tab moves into the form.
    AUTO_FOCUS = "#scaling-policies"

    @dataclass
    class StateLoaded(Message):
        state: ScalingState

    @dataclass
    class LoadFailed(Message):
        error: str
        missing: bool

    @dataclass
    class HistoryLoaded(Message):
        series: MetricSeries

    @dataclass
    class Planned(Message):
        plan: ScalingPlan

    @dataclass
    class Applied(Message):
        result: ScalingResult

    def __init__(self, services: ServicesApi, settings: ConsoleSettings,
                 endpoint: str) -> None:
        super().__init__(services, settings)
        self.endpoint_name = endpoint
        self.state: ScalingState | None = None
        self.series: MetricSeries | None = None
        self.last_plan: ScalingPlan | None = None
        self.last_result: ScalingResult | None = None
        self.form_filled = False

    @property
    def api(self) -> AutoscalingApi | None:
        return self.services.autoscaling

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(f"[b]{escape(self.endpoint_name)}[/b] autoscaling: loading…",
                     id="scaling-title")
        with Horizontal(id="scaling-top"):
            with Vertical(id="scaling-state", classes="scaling-box"):
                yield Static("", id="scaling-target")
                yield DataTable(id="scaling-policies", cursor_type="row", zebra_stripes=True)
                yield Static("", id="scaling-alarms")
            with Vertical(id="scaling-plot", classes="scaling-box"):
                yield Static("tracked metric, last hour", id="scaling-plot-title")
                yield Sparkline([], id="scaling-spark")
                yield Static("", id="scaling-plot-range")
        yield ScalingForm(id="scaling-form", classes="scaling-box")
        yield Static("", id="scaling-message")
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        table = self.query_one("#scaling-policies", DataTable)
        table.add_columns("policy", "what it does")
        if self.api is None:
            self._say("[red]autoscaling is not available in this console[/]")
            return
        self.action_refresh()
        # Counts move while the endpoint scales; refresh only while shown and idle.
        self.set_interval(self.settings.refresh_seconds, self._tick, name="scaling-refresh")

    def _tick(self) -> None:
        busy = any(w.group.startswith("scaling") and w.is_running for w in self.workers)
        if self.is_current and not busy:
            self.load_state()

    # ---- loading ------------------------------------------------------------------------

    def action_refresh(self) -> None:
        self.load_state()

    @work(thread=True, exclusive=True, exit_on_error=False, group="scaling")
    def load_state(self) -> None:
        assert self.api is not None
        try:
            state = self.api.describe(self.endpoint_name)
        except errors.SmconsoleError as exc:
            self.post_message(self.LoadFailed(str(exc) or type(exc).__name__,
                                              isinstance(exc, errors.NotFound)))
            if not isinstance(exc, errors.NotFound):
                raise  # the app's one handler reports it (and the connection indicator)
            return
        self.post_message(self.StateLoaded(state))

    @on(LoadFailed)
    def load_failed(self, message: LoadFailed) -> None:
        why = "does not exist" if message.missing else "could not be read"
        self.query_one("#scaling-title", Static).update(
            f"[b]{escape(self.endpoint_name)}[/b] autoscaling: [red]{why}[/] · "
            f"{escape(message.error)}")

    @work(thread=True, exclusive=True, exit_on_error=False, group="scaling-metric")
    def load_history(self, metric: str, statistic: str, variant: str) -> None:
        assert self.api is not None
        self.post_message(self.HistoryLoaded(self.api.metric_history(
            self.endpoint_name, metric, statistic=statistic, variant=variant)))

    @on(StateLoaded)
    def show_state(self, message: StateLoaded) -> None:
        state = self.state = message.state
        counts = f"{_n(state.current_instances)} current / {_n(state.desired_instances)} desired"
        self.query_one("#scaling-title", Static).update(
            f"[b]{escape(state.endpoint)}[/b] / {escape(state.variant)} · "
            f"{escape(state.instance_type or '?')} · instances {counts}")
        target = state.target
        self.query_one("#scaling-target", Static).update(
            f"Scalable target: [b]{target.min_capacity}..{target.max_capacity}[/b]"
            if target else "Scalable target: [yellow]none registered[/] (set Min/Max, Ctrl+S)")
        table = self.query_one("#scaling-policies", DataTable)
        table.clear()
        for policy in state.policies:
            table.add_row(policy.name, _policy_line(policy, state), key=policy.name)
        alarms = [f"alarm {escape(a.name)}: {escape(a.summary())} \\[{a.state or '?'}]"
                  for a in state.alarms]
        self.query_one("#scaling-alarms", Static).update("\n".join(alarms) or "no alarms")
        if not self.form_filled:  # a periodic refresh must not overwrite an edit in progress
            self.query_one(ScalingForm).fill(state)
            self.form_filled = True
        tracking = next((p for p in state.policies if p.metric), None)
        metric = tracking.metric if tracking and tracking.metric else METRICS[0]
        statistic = (tracking.statistic if tracking and tracking.statistic
                     else DEFAULT_STATISTIC.get(metric, "Average"))
        self.load_history(metric, statistic, state.variant)

    @on(HistoryLoaded)
    def show_history(self, message: HistoryLoaded) -> None:
        series = self.series = message.series
        values = list(series.values)
        # A flat series draws as full bars; an empty sparkline says "steady" better.
        flat = not values or max(values) == min(values)
        self.query_one("#scaling-spark", Sparkline).data = [] if flat else values
        self.query_one("#scaling-plot-title", Static).update(
            f"{escape(series.name)} ({series.stat}), last hour")
        if series.values:
            text = (f"min {min(series.values):g} · max {max(series.values):g} · "
                    f"latest {series.values[-1]:g} · {len(series.values)} points")
        else:
            text = "no datapoints in the last hour"
        self.query_one("#scaling-plot-range", Static).update(text)

    # ---- editing ------------------------------------------------------------------------

    def form_spec(self) -> ScalingSpec:
        return self.query_one(ScalingForm).to_spec()

    def action_scale_to_zero(self) -> None:
        self.query_one(ScalingForm).preset_scale_to_zero()
        self._say("scale-to-zero preset filled in (Min 0, scale out from zero): "
                  "Ctrl+S to preview")

    def action_plan(self) -> None:
        if self.api is None:
            return
        try:
            spec = self.form_spec()
        except ValueError as exc:
            self._say(f"[red]not applied: {escape(str(exc))}[/]")
            return
        variant = self.state.variant if self.state else None
        self._say("planning…")
        self.plan_edit(spec, variant)

    @work(thread=True, exclusive=True, exit_on_error=False, group="scaling-plan")
    def plan_edit(self, spec: ScalingSpec, variant: str | None) -> None:
        assert self.api is not None
        self.post_message(self.Planned(self.api.plan(self.endpoint_name, spec, variant=variant,
                                                     replace_policies=True)))

    @on(Planned)
    def confirm_plan(self, message: Planned) -> None:
        plan = self.last_plan = message.plan
        if plan.empty:
            self._say("no changes: the variant already matches the form")
            return
        self._say("\n".join(diff_markup(plan.diff_lines()).splitlines()[:3]) + " …")

        def decided(apply: bool | None) -> None:
            if apply:
                self._say("applying…")
                self.apply_plan(plan)
            else:
                self._say("cancelled: nothing changed")

        self.app.push_screen(ConfirmChangesScreen(
            f"Autoscaling changes for {self.endpoint_name}", plan.diff_lines(), plan.warnings),
            decided)

    @work(thread=True, exclusive=True, exit_on_error=False, group="scaling-apply")
    def apply_plan(self, plan: ScalingPlan) -> None:
        assert self.api is not None
        self.post_message(self.Applied(self.api.apply(plan)))

    @on(Applied)
    def show_result(self, message: Applied) -> None:
        result = self.last_result = message.result
        self.form_filled = False  # show what now exists
        colour = "green" if result.applied else "red"
        self._say(f"[{colour}]{escape(result.message())}[/]")
        if result.after is not None:
            self.post_message(self.StateLoaded(result.after))
        else:
            self.load_state()

    def _say(self, markup: str) -> None:
        self.query_one("#scaling-message", Static).update(markup)


def _policy_line(policy: ScalingPolicy, state: ScalingState) -> str:
    """The policy's summary, its alarms found from their actions when the policy lists none."""
    if policy.policy_type == "StepScaling" and not policy.alarms:
        names = tuple(a.name for a in state.alarms if policy.arn and policy.arn in a.actions)
        if names:
            from dataclasses import replace

            policy = replace(policy, alarms=names)
    return policy.summary()


def _n(value: int | None) -> str:
    return "-" if value is None else str(value)
