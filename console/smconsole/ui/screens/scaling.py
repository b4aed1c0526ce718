"""The autoscaling editor for one endpoint variant: state, tracked metric, edit, diff, apply."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pydantic import ValidationError
from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import (
    Checkbox,
    DataTable,
    Footer,
    Header,
    Input,
    Label,
    Select,
    Sparkline,
    Static,
)

from smconsole.models.metrics import MetricSeries
from smconsole.models.scaling import ScalingPlan, ScalingResult, ScalingState
from smconsole.specs.scaling import DEFAULT_STATISTIC, ScaleFromZeroSpec, ScalingSpec
from smconsole.ui.screens.base import ConsoleScreen

if TYPE_CHECKING:
    from smconsole.ui.settings import ConsoleSettings

NO_TRACKING = "none"
DEFAULT_REFRESH_S = 15.0
METRICS = (
    "ApproximateBacklogSizePerInstance",
    "ApproximateAgeOfOldestRequest",
    "ApproximateBacklogSize",
    "HasBacklogWithoutCapacity",
    "InvocationsPerInstance",
)


class AutoscalingApi(Protocol):
    def describe(self, endpoint: str, variant: str | None = None) -> ScalingState: ...
    def metric_history(self, endpoint: str, metric: str = ..., *, statistic: str = ...,
                       variant: str | None = None, hours: float = 1.0,
                       period: int = 60) -> MetricSeries: ...
    def plan(self, endpoint: str, spec: ScalingSpec, *, variant: str | None = None,
             replace_policies: bool | None = None) -> ScalingPlan: ...
    def apply(self, plan: ScalingPlan) -> ScalingResult: ...


class ConfirmChangesScreen(ModalScreen[bool]):
    """The diff of what will change; `y` applies, `n`/Esc cancels. Only dismisses."""

    # Reused by the deploy view, so it carries its own layout rather than a screen's .tcss.
    DEFAULT_CSS = """
    ConfirmChangesScreen {
        align: center middle;
    }
    ConfirmChangesScreen #changes-dialog {
        width: 100;
        height: auto;
        max-height: 90%;
        padding: 1 2;
        border: thick $warning;
        background: $surface;
    }
    ConfirmChangesScreen #changes-diff {
        height: auto;
        margin: 1 0;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "confirm", "Apply", id="confirm-changes.apply"),
        Binding("n,escape", "cancel", "Cancel", id="confirm-changes.cancel"),
    ]

    def __init__(self, title: str, lines: list[str], warnings: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.title_text = title
        self.lines = lines
        self.warnings = warnings

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="changes-dialog"):
            yield Label(f"[b]{escape(self.title_text)}[/b]")
            yield Static(_diff_markup(self.lines), id="changes-diff")
            if self.warnings:
                yield Static("\n".join(f"[yellow]! {escape(w)}[/]" for w in self.warnings),
                             id="changes-warnings")
            yield Static("y applies · n or Esc cancels", classes="hint")

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)


class ScalingScreen(ConsoleScreen):
    """Bounds and policies of `endpoint`'s variant; edits are planned, shown, then applied."""

    AREA = "scaling"
    CSS_PATH = "scaling.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "refresh", "Refresh", id="scaling.refresh"),
        Binding("ctrl+s", "plan", "Preview & apply", id="scaling.apply"),
        Binding("z", "scale_to_zero", "Scale-to-zero preset", id="scaling.preset_zero"),
    ]
    MUTATING = frozenset({"plan", "scale_to_zero"})
    AUTO_FOCUS = "#scaling-policies"

    class StateLoaded(Message):
        def __init__(self, state: ScalingState) -> None:
            super().__init__()
            self.state = state

    class HistoryLoaded(Message):
        def __init__(self, series: MetricSeries) -> None:
            super().__init__()
            self.series = series

    class Planned(Message):
        def __init__(self, plan: ScalingPlan) -> None:
            super().__init__()
            self.plan = plan

    class Applied(Message):
        def __init__(self, result: ScalingResult) -> None:
            super().__init__()
            self.result = result

    def __init__(self, services: Any, settings: ConsoleSettings | None = None,
                 endpoint: str | None = None) -> None:
        super().__init__()
        self.services = services
        self.settings = settings
        self.endpoint_name = endpoint or ""
        self.api: AutoscalingApi | None = getattr(services, "autoscaling", None)
        self.state: ScalingState | None = None
        self.series: MetricSeries | None = None
        self.last_plan: ScalingPlan | None = None
        self.last_result: ScalingResult | None = None
        self.form_filled = False

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
        with Vertical(id="scaling-form", classes="scaling-box"):
            with Horizontal(classes="form-row"):
                yield Label("Min", classes="form-label")
                yield Input(id="min-input", type="integer", classes="form-short")
                yield Label("Max", classes="form-label")
                yield Input(id="max-input", type="integer", classes="form-short")
                yield Checkbox("scale out from zero (step +1 on HasBacklogWithoutCapacity "
                               "+ alarm)", id="step-checkbox")
            with Horizontal(classes="form-row"):
                yield Label("Track", classes="form-label")
                yield Select([(m, m) for m in METRICS] + [("no target tracking", NO_TRACKING)],
                             value=METRICS[0], allow_blank=False, id="metric-select")
                yield Label("target", classes="form-label")
                yield Input(id="target-input", type="number", value="5", classes="form-short")
                yield Label("out cd", classes="form-label")
                yield Input(id="out-input", type="integer", value="60", classes="form-short")
                yield Label("in cd", classes="form-label")
                yield Input(id="in-input", type="integer", value="300", classes="form-short")
        yield Static("", id="scaling-message")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#scaling-policies", DataTable)
        table.add_columns("policy", "what it does")
        if self.api is None:
            self._say("[red]autoscaling is not available in this console[/]")
            return
        self.action_refresh()
        # Counts move while the endpoint scales; refresh only while shown and idle.
        interval = getattr(self.settings, "refresh_seconds", DEFAULT_REFRESH_S)
        self.set_interval(interval, self._tick, name="scaling-refresh")

    def _tick(self) -> None:
        busy = any(w.group.startswith("scaling") and w.is_running for w in self.workers)
        if self.is_current and not busy:
            self.load_state()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.MUTATING and getattr(self.settings, "read_only", False):
            return None
        return True

    # ---- loading ------------------------------------------------------------------------

    def action_refresh(self) -> None:
        self.load_state()

    @work(thread=True, exclusive=True, exit_on_error=False, group="scaling")
    def load_state(self) -> None:
        assert self.api is not None
        self.post_message(self.StateLoaded(self.api.describe(self.endpoint_name)))

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
            table.add_row(policy.name, policy.summary(), key=policy.name)
        alarms = [f"alarm {escape(a.name)}: {escape(a.summary())} [{a.state or '?'}]"
                  for a in state.alarms]
        self.query_one("#scaling-alarms", Static).update("\n".join(alarms) or "no alarms")
        if not self.form_filled:  # a periodic refresh must not overwrite an edit in progress
            self._fill_form(state)
            self.form_filled = True
        tracking = next((p for p in state.policies if p.metric), None)
        metric = tracking.metric if tracking and tracking.metric else METRICS[0]
        statistic = (tracking.statistic if tracking and tracking.statistic
                     else DEFAULT_STATISTIC.get(metric, "Average"))
        self.load_history(metric, statistic, state.variant)

    def _fill_form(self, state: ScalingState) -> None:
        if state.target:
            self.query_one("#min-input", Input).value = str(state.target.min_capacity)
            self.query_one("#max-input", Input).value = str(state.target.max_capacity)
        tracking = next((p for p in state.policies if p.policy_type == "TargetTrackingScaling"),
                        None)
        if tracking is not None and tracking.metric in METRICS:
            self.query_one("#metric-select", Select).value = tracking.metric
            self.query_one("#target-input", Input).value = f"{tracking.target:g}"
            self.query_one("#out-input", Input).value = str(tracking.scale_out_cooldown or 0)
            self.query_one("#in-input", Input).value = str(tracking.scale_in_cooldown or 0)
        elif state.policies:
            self.query_one("#metric-select", Select).value = NO_TRACKING
        self.query_one("#step-checkbox", Checkbox).value = any(
            p.policy_type == "StepScaling" for p in state.policies)

    @on(HistoryLoaded)
    def show_history(self, message: HistoryLoaded) -> None:
        series = self.series = message.series
        self.query_one("#scaling-spark", Sparkline).data = list(series.values) or [0.0]
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
        """The form as a spec; ValueError naming the field when it is not valid."""

        def integer(widget_id: str, label: str) -> int:
            raw = self.query_one(widget_id, Input).value.strip()
            try:
                return int(raw)
            except ValueError:
                raise ValueError(f"{label}: a whole number, got {raw!r}") from None

        lo, hi = integer("#min-input", "Min"), integer("#max-input", "Max")
        metric = self.query_one("#metric-select", Select).value
        tracking = []
        if metric != NO_TRACKING:
            raw_target = self.query_one("#target-input", Input).value.strip()
            try:
                target = float(raw_target)
            except ValueError:
                raise ValueError(f"target: a number, got {raw_target!r}") from None
            tracking.append({
                "metric": metric, "target": target,
                "scale_out_cooldown": integer("#out-input", "scale-out cooldown"),
                "scale_in_cooldown": integer("#in-input", "scale-in cooldown"),
            })
        step = ScaleFromZeroSpec() if self.query_one("#step-checkbox", Checkbox).value else None
        try:
            return ScalingSpec.model_validate({
                "min_capacity": lo, "max_capacity": hi, "target_tracking": tracking,
                "scale_out_from_zero": step,
            })
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "bounds"
            message = str(first["msg"]).removeprefix("Value error, ")
            raise ValueError(f"{where}: {message}") from None

    def action_scale_to_zero(self) -> None:
        """AWS's pair: Min 0, backlog per instance at 5, step +1 from zero."""
        self.query_one("#min-input", Input).value = "0"
        if not self.query_one("#max-input", Input).value.strip():
            self.query_one("#max-input", Input).value = "2"
        self.query_one("#metric-select", Select).value = "ApproximateBacklogSizePerInstance"
        self.query_one("#target-input", Input).value = "5"
        self.query_one("#step-checkbox", Checkbox).value = True
        self._say("scale-to-zero preset filled in: Ctrl+S to preview")

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
        self._say("\n".join(_diff_markup(plan.diff_lines()).splitlines()[:3]) + " …")

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


def _diff_markup(lines: list[str]) -> str:
    colours = {"+": "green", "-": "red", "~": "yellow", "!": "yellow"}
    out = []
    for line in lines:
        colour = colours.get(line.lstrip()[:1])
        out.append(f"[{colour}]{escape(line)}[/]" if colour else escape(line))
    return "\n".join(out)


def _n(value: int | None) -> str:
    return "-" if value is None else str(value)
