"""One endpoint: status (FailureReason first when Failed), config, models, scaling, metrics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Footer, Header, Sparkline, Static

from smconsole import errors
from smconsole.models.cost import EndpointCost
from smconsole.models.deploy import Resource
from smconsole.models.endpoints import EndpointDetail
from smconsole.models.metrics import MetricSeries
from smconsole.ui import formatting as fmt
from smconsole.ui.markup import escape
from smconsole.ui.screens.base import EndpointActionsScreen
from smconsole.ui.screens.cost import summary_markup
from smconsole.ui.screens.modals import ConfirmChangesScreen

if TYPE_CHECKING:
    from smconsole.ui.protocols import ServicesApi
    from smconsole.ui.settings import ConsoleSettings

# (label, metric name) for the sparklines; the first present of each tuple wins.
SPARKLINES = (
    ("Backlog size", ("ApproximateBacklogSize",)),
    ("Age of oldest request (s)", ("ApproximateAgeOfOldestRequest",)),
    ("Invocations processed", ("InvocationsProcessed",)),
)


class EndpointDetailScreen(EndpointActionsScreen):
    """One endpoint, refreshed while shown; `x` deletes what a failed deploy of it created."""

    AREA = "endpoint"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("l", "logs", "Logs", id="endpoint.logs"),
        Binding("r", "refresh", "Refresh", id="endpoint.refresh"),
        Binding("a", "scaling", "Scaling", id="endpoint.scaling"),
        Binding("c", "cost", "Cost", id="endpoint.cost"),
        Binding("x", "cleanup", "Clean up deploy", id="endpoint.cleanup"),
        Binding("ctrl+d", "delete", "Delete", id="endpoint.delete"),
    ]
    MUTATING = frozenset({"delete", "cleanup"})

    @dataclass
    class Loaded(Message):
        detail: EndpointDetail

    @dataclass
    class Gone(Message):
        """The endpoint does not exist (any more)."""

        name: str

    @dataclass
    class MetricsLoaded(Message):
        series: dict[str, MetricSeries]

    @dataclass
    class CostLoaded(Message):
        cost: EndpointCost

    def __init__(self, services: ServicesApi, settings: ConsoleSettings, name: str) -> None:
        super().__init__(services, settings)
        self.endpoint_name = name
        self.detail: EndpointDetail | None = None
        self.seen = False  # shown once: a later NotFound means it was deleted
        self.refreshed_at: float | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="detail-body"):
            yield Static(f"[b]{escape(self.endpoint_name)}[/b] loading…", id="detail-title")
            yield Static("", id="detail-failure")
            with Vertical(id="detail-metrics", classes="detail-box"):
                yield Static("Metrics, last hour: loading…", id="metrics-title")
                for index, (label, _) in enumerate(SPARKLINES):
                    with Horizontal(classes="metric-row"):
                        yield Static(label, classes="metric-label")
                        yield Sparkline([], id=f"spark-{index}", classes="metric-spark")
                        yield Static("", id=f"spark-value-{index}", classes="metric-value")
            yield Static("[u]Cost[/u]\nloading…", id="detail-cost", classes="detail-box")
            with Horizontal(classes="detail-columns"):
                yield Static("", id="detail-endpoint", classes="detail-box")
                yield Static("", id="detail-async", classes="detail-box")
            with Horizontal(classes="detail-columns"):
                with Vertical(classes="detail-stack"):
                    yield Static("", id="detail-variants", classes="detail-box")
                    yield Static("", id="detail-scaling", classes="detail-box")
                yield Static("", id="detail-models", classes="detail-box")
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#detail-failure").display = False
        self.query_one("#detail-cost").display = getattr(self.services, "cost", None) is not None
        self.load_detail()
        self.load_metrics()
        self.load_cost()
        # Counts and status move on their own (autoscaling, updates): follow them while shown.
        self.set_interval(self.settings.refresh_seconds, self._tick, name="detail-refresh")

    def _tick(self) -> None:
        busy = any(w.is_running for w in self.workers if w.group.startswith("detail"))
        if self.is_current and not busy and self.detail is not None:
            self.load_detail()
            self.load_metrics()

    @work(thread=True, exclusive=True, exit_on_error=False, group="detail")
    def load_detail(self) -> None:
        try:
            detail = self.services.endpoints.describe(self.endpoint_name)
        except errors.NotFound:
            self.post_message(self.Gone(self.endpoint_name))
            return
        self.post_message(self.Loaded(detail))

    @on(Gone)
    def gone(self, message: Gone) -> None:
        # Say so in place rather than only in a toast; "deleted" only if it was ever seen.
        # The detail and cost loads can both report it: the second must not undo "deleted".
        why = "no longer exists (deleted)" if self.seen else "does not exist"
        self.detail = None
        self.query_one("#detail-title", Static).update(
            f"[b]{escape(message.name)}[/b]  [red]{why}[/]; Esc goes back")
        self.query_one("#metrics-title", Static).update("Metrics: –")
        self.query_one("#detail-cost", Static).update("[u]Cost[/u]\n–")
        self.refresh_bindings()

    @work(thread=True, exclusive=True, exit_on_error=False, group="detail-metrics")
    def load_metrics(self) -> None:
        self.post_message(self.MetricsLoaded(
            self.services.metrics.async_metrics(self.endpoint_name)))

    @work(thread=True, exclusive=True, exit_on_error=False, group="detail-cost")
    def load_cost(self) -> None:
        cost = getattr(self.services, "cost", None)  # bundles built without it: no block
        if cost is None:
            return
        try:
            found = cost.endpoint_cost(self.endpoint_name)
        except errors.NotFound:
            # The title says "does not exist"; no toast and no ✖ in the header for a typo.
            self.post_message(self.Gone(self.endpoint_name))
            return
        self.post_message(self.CostLoaded(found))

    @on(CostLoaded)
    def show_cost(self, message: CostLoaded) -> None:
        self.query_one("#detail-cost", Static).update(
            "[u]Cost[/u] ([b]c[/b]: the cost view, scale-to-zero replay)\n"
            + summary_markup(message.cost, title=False))

    @on(Loaded)
    def show_detail(self, message: Loaded) -> None:
        detail = self.detail = message.detail
        self.seen = True
        endpoint = detail.endpoint
        now = self.refreshed_at = self.settings.clock()
        absorb = getattr(getattr(self.app, "endpoints_screen", None), "absorb", None)
        if absorb is not None:
            absorb([endpoint])  # the list shows what this view just saw
        title = self.query_one("#detail-title", Static)
        status = fmt.status_text(endpoint, now)
        cleanup = " · [b]x[/b] deletes what the failed deploy created" \
            if self._failed_deploy() else ""
        title.update(f"[b]{escape(endpoint.name)}[/b]  [{status.style}]{escape(str(status))}[/]"
                     f"  {endpoint.kind} · refreshed {fmt.clock_time(now)}{cleanup}")
        failure = self.query_one("#detail-failure", Static)
        failure.display = bool(endpoint.failure_reason)
        if endpoint.failure_reason:
            failure.update(f"[b]FailureReason[/b]: {escape(endpoint.failure_reason)}\n"
                           "press [b]l[/b] to open its logs")
        self.query_one("#detail-endpoint", Static).update(_lines("Endpoint", [
            ("ARN", endpoint.arn), ("Config", endpoint.config_name),
            ("Created", fmt.when(endpoint.created)),
            ("Last modified", fmt.when(endpoint.last_modified)),
            ("Instances", (f"{fmt.count(endpoint.current_instances)} current / "
                           f"{fmt.count(endpoint.desired_instances)} desired")),
        ]))
        async_config = detail.config.async_config if detail.config else None
        self.query_one("#detail-async", Static).update(_lines("Async inference", [
            ("Output", async_config.output_path),
            ("Failure", async_config.failure_path),
            ("Success topic", async_config.success_topic),
            ("Error topic", async_config.error_topic),
            ("Max concurrent/instance", async_config.max_concurrent_per_instance),
        ] if async_config else [("", "real-time endpoint (no async config)")]))
        self.query_one("#detail-variants", Static).update(_lines("Variants", [
            (v.name, (f"{v.instance_type or ('serverless' if v.serverless else '?')} · "
                      f"{fmt.count(v.current_instances)}/{fmt.count(v.desired_instances)} "
                      f"instances · weight {v.weight if v.weight is not None else '–'} · "
                      f"model {v.model_name}"))
            for v in detail.variants
        ]))
        model_lines: list[tuple[str, object]] = []
        for model in detail.models:
            model_lines += [("model", model.name), ("  image", model.image),
                            ("  model data", model.model_data)]
            model_lines += [(f"  env {k}", v) for k, v in model.environment]
        self.query_one("#detail-models", Static).update(_lines("Models", model_lines))
        scaling_lines: list[tuple[str, object]] = []
        for target in detail.scaling:
            scaling_lines.append((target.resource_id,
                                  f"min {target.min_capacity} · max {target.max_capacity}"))
            scaling_lines += [
                (f"  {p.name}", (f"{p.policy_type} {p.metric or ''}"
                                 f"{' target ' + str(p.target) if p.target is not None else ''}"))
                for p in target.policies
            ]
        self.query_one("#detail-scaling", Static).update(
            _lines("Autoscaling", scaling_lines or [("", "no scalable target registered")])
        )

    @on(MetricsLoaded)
    def show_metrics(self, message: MetricsLoaded) -> None:
        title = "Metrics, last hour" if message.series else \
            "Metrics, last hour: CloudWatch holds no async metrics for this endpoint"
        self.query_one("#metrics-title", Static).update(title)
        for index, (_, names) in enumerate(SPARKLINES):
            series = next((message.series[n] for n in names if n in message.series), None)
            values = list(series.values) if series else []
            # A flat series would draw as full bars; a flat line says "steady" better.
            flat = bool(values) and max(values) == min(values)
            self.query_one(f"#spark-{index}", Sparkline).data = [] if flat else values
            if not values:
                latest = "no data"
            elif series is not None and series.stat == "Sum":  # a count: the hour's total
                latest = f"{sum(values):g}/h (max {max(values):g}/min)"
            else:
                latest = f"{values[-1]:g} (max {max(values):g})"
            self.query_one(f"#spark-value-{index}", Static).update(latest)

    def _failed_deploy(self) -> tuple[Resource, ...]:
        failed = getattr(self.app, "failed_deploys", {})
        return tuple(failed.get(self.endpoint_name, ()))

    def action_state(self, action: str) -> bool | None:
        if action == "cleanup":
            return bool(self._failed_deploy()) and self.services.deploy is not None
        if action in ("delete", "scaling"):
            return None if self.detail is None else True
        return True

    def refused(self, action: str) -> str | None:
        why = super().refused(action)
        if why is None and action in ("delete", "scaling") and self.detail is None:
            return f"{self.endpoint_name} is not loaded"
        return why

    def action_logs(self) -> None:
        self.app.open_logs(self.endpoint_name)  # type: ignore[attr-defined]

    def action_cost(self) -> None:
        self.app.jump(f":cost {self.endpoint_name}")  # type: ignore[attr-defined]

    def action_scaling(self) -> None:
        self.app.jump(f":scaling {self.endpoint_name}")  # type: ignore[attr-defined]

    def action_refresh(self) -> None:
        self.query_one("#metrics-title", Static).update("Metrics, last hour: refreshing…")
        self.notify(f"refreshing {self.endpoint_name}…", timeout=2)
        self.load_detail()
        self.load_metrics()
        self.load_cost()

    def action_delete(self) -> None:
        detail = self.detail
        uses: tuple[Resource, ...] = ()
        if detail is not None:
            uses = (Resource("endpoint-config", detail.endpoint.config_name),
                    *(Resource("model", m.name) for m in detail.models))
        self.confirm_delete(self.endpoint_name, uses)

    def action_cleanup(self) -> None:
        created = self._failed_deploy()
        if not created:
            return

        def decided(go: bool | None) -> None:
            if go:
                self.notify("cleaning up…", timeout=3)
                self.run_cleanup(created)

        lines = [f"- {r.label()}" for r in reversed(created)]
        self.app.push_screen(ConfirmChangesScreen(
            "Delete what the failed deploy created", lines, verb="deletes them"), decided)

    @work(thread=True, exit_on_error=False, group="detail-cleanup")
    def run_cleanup(self, created: tuple[Resource, ...]) -> None:
        deploy = self.services.deploy
        assert deploy is not None
        self.post_message(self.cleaned(self.endpoint_name, deploy.cleanup(created)))

    def after_delete(self, name: str) -> None:
        failed = getattr(self.app, "failed_deploys", None)
        if failed is not None:
            failed.pop(name, None)
        self.refresh_bindings()
        self.load_detail()


def _lines(title: str, rows: list[tuple[str, object]]) -> str:
    body = "\n".join(
        f"[b]{escape(label)}[/b]: {escape(str(value))}" if label else escape(str(value))
        for label, value in rows if value not in (None, "")
        or not label
    )
    return f"[u]{title}[/u]\n{body or '–'}"
