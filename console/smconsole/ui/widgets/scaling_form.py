"""The scaling editor's form: `fill(state)` shows a variant's bounds and policies, `to_spec()`
turns what is on it back into a ScalingSpec.

What the form does not show (a step policy's adjustment and cooldown, its alarm's periods, a
policy's statistic or name) is kept from the state it was filled from, so saving an
unedited form changes nothing.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Checkbox, Input, Label, Select, Static

from smconsole.models.scaling import ScalingState
from smconsole.specs.scaling import ScaleOutFromZeroSpec, ScalingSpec

NO_TRACKING = "none"
METRICS = (
    "ApproximateBacklogSizePerInstance",
    "ApproximateAgeOfOldestRequest",
    "ApproximateBacklogSize",
    "HasBacklogWithoutCapacity",
    "InvocationsPerInstance",
)
# The scale-to-zero preset, as configs/scaling-scale-to-zero.yaml has it.
PRESET_MAX = 2
PRESET_TARGET = 5.0


class ScalingForm(Vertical):
    """Min, Max, the tracked metric and its target and cooldowns, scale out from zero."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._tracking_kept: dict[str, Any] = {}
        self._step_kept: dict[str, Any] = {}

    def compose(self) -> ComposeResult:
        with Horizontal(classes="form-row"):
            yield Label("Min", classes="form-label")
            yield Input(id="min-input", type="integer", classes="form-short", compact=True)
            yield Label("Max", classes="form-label")
            yield Input(id="max-input", type="integer", classes="form-short", compact=True)
            yield Label("Track", classes="form-label")
            yield Select([(m, m) for m in METRICS] + [("no target tracking", NO_TRACKING)],
                         value=METRICS[0], allow_blank=False, id="metric-select", compact=True)
        with Horizontal(classes="form-row"):
            yield Label("target", classes="form-label")
            yield Input(id="target-input", type="number", value="5", classes="form-short",
                        compact=True)
            yield Label("scale-out cooldown s", classes="form-label")
            yield Input(id="out-input", type="integer", value="60", classes="form-short",
                        compact=True)
            yield Label("scale-in cooldown s", classes="form-label")
            yield Input(id="in-input", type="integer", value="300", classes="form-short",
                        compact=True)
        with Horizontal(classes="form-row"):
            yield Checkbox("scale out from zero", id="step-checkbox", compact=True)
            yield Static("", id="step-detail", classes="hint")

    def on_mount(self) -> None:
        self.call_after_refresh(self._describe_step)

    # ---- state in -------------------------------------------------------------------------

    def fill(self, state: ScalingState) -> None:
        """Show `state`; remember what the form has no field for."""
        if state.target:
            self._value("#min-input", state.target.min_capacity)
            self._value("#max-input", state.target.max_capacity)
        tracking = next((p for p in state.policies if p.policy_type == "TargetTrackingScaling"),
                        None)
        self._tracking_kept = {}
        if tracking is not None and tracking.metric in METRICS:
            self.query_one("#metric-select", Select).value = tracking.metric
            self._value("#target-input", f"{tracking.target:g}")
            self._value("#out-input", tracking.scale_out_cooldown or 0)
            self._value("#in-input", tracking.scale_in_cooldown or 0)
            self._tracking_kept = {"metric": tracking.metric, "statistic": tracking.statistic,
                                   "name": tracking.name}
        elif state.policies:
            self.query_one("#metric-select", Select).value = NO_TRACKING
        step = next((p for p in state.policies if p.policy_type == "StepScaling"), None)
        self._step_kept = {}
        if step is not None:
            kept: dict[str, Any] = {"name": step.name}
            if step.adjustment is not None:
                kept["adjustment"] = step.adjustment
            if step.cooldown is not None:
                kept["cooldown"] = step.cooldown
            alarm = next((a for a in state.alarms if step.name in a.name
                          or (step.arn and step.arn in a.actions)), None)
            if alarm is not None:
                kept["period"] = alarm.period
                kept["evaluation_periods"] = alarm.evaluation_periods
                kept["datapoints_to_alarm"] = alarm.datapoints_to_alarm
            self._step_kept = kept
        self.query_one("#step-checkbox", Checkbox).value = step is not None
        self._describe_step()

    def preset_scale_to_zero(self) -> None:
        """AWS's pair: Min 0, backlog per instance at 5, step +1 from zero."""
        self._value("#min-input", 0)
        if not self.query_one("#max-input", Input).value.strip():
            self._value("#max-input", PRESET_MAX)
        self.query_one("#metric-select", Select).value = "ApproximateBacklogSizePerInstance"
        self._value("#target-input", f"{PRESET_TARGET:g}")
        self.query_one("#step-checkbox", Checkbox).value = True
        self._describe_step()

    def _value(self, selector: str, value: object) -> None:
        self.query_one(selector, Input).value = str(value)

    def _step_spec(self) -> ScaleOutFromZeroSpec:
        return ScaleOutFromZeroSpec.model_validate(
            {k: v for k, v in self._step_kept.items() if v is not None})

    def _describe_step(self) -> None:
        if not self.is_attached:
            return
        spec = self._step_spec()
        times = f"{spec.evaluation_periods}×{spec.period}s"
        self.query_one("#step-detail", Static).update(
            f"+{spec.adjustment} when HasBacklogWithoutCapacity ≥ 1 for {times}, "
            f"cooldown {spec.cooldown}s")

    # ---- spec out -------------------------------------------------------------------------

    def to_spec(self) -> ScalingSpec:
        """What the form says, as a spec; ValueError naming the field when it is not valid."""

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
            policy: dict[str, Any] = {
                "metric": metric, "target": target,
                "scale_out_cooldown": integer("#out-input", "scale-out cooldown"),
                "scale_in_cooldown": integer("#in-input", "scale-in cooldown"),
            }
            kept = self._tracking_kept
            if kept.get("metric") == metric:  # a new metric is a new policy: no old name
                policy.update({k: v for k, v in kept.items() if v is not None})
            tracking.append(policy)
        step = self._step_spec() if self.query_one("#step-checkbox", Checkbox).value else None
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
