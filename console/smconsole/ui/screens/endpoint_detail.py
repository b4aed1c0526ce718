"""One endpoint: status (FailureReason first when Failed), config, models, scaling, metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Footer, Header, Sparkline, Static

from smconsole import errors
from smconsole.models.endpoints import EndpointDetail
from smconsole.ui import formatting as fmt
from smconsole.ui.messages import DetailLoaded, EndpointGone, MetricsLoaded
from smconsole.ui.screens.base import EndpointActionsScreen

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
    AREA = "endpoint"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("l", "logs", "Logs", id="endpoint.logs"),
        Binding("r", "refresh", "Refresh", id="endpoint.refresh"),
        Binding("d", "delete", "Delete", id="endpoint.delete"),
        Binding("a", "scaling", "Scaling", id="endpoint.scaling"),
    ]
    MUTATING = frozenset({"delete"})

    def __init__(self, services: ServicesApi, settings: ConsoleSettings, name: str) -> None:
        super().__init__()
        self.services = services
        self.settings = settings
        self.endpoint_name = name
        self.detail: EndpointDetail | None = None

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
            with Horizontal(classes="detail-columns"):
                yield Static("", id="detail-endpoint", classes="detail-box")
                yield Static("", id="detail-async", classes="detail-box")
            with Horizontal(classes="detail-columns"):
                with Vertical(classes="detail-stack"):
                    yield Static("", id="detail-variants", classes="detail-box")
                    yield Static("", id="detail-scaling", classes="detail-box")
                yield Static("", id="detail-models", classes="detail-box")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#detail-failure").display = False
        self.load_detail()
        self.load_metrics()
        # Creating/Updating/Deleting change on their own: follow them while this view is up.
        self.set_interval(self.settings.refresh_seconds, self._tick, name="detail-refresh")

    def _tick(self) -> None:
        detail = self.detail
        if self.is_current and detail is not None and detail.endpoint.is_transitional:
            self.load_detail()

    @work(thread=True, exclusive=True, exit_on_error=False, group="detail")
    def load_detail(self) -> None:
        try:
            detail = self.services.endpoints.describe(self.endpoint_name)
        except errors.NotFound:
            self.post_message(EndpointGone(self.endpoint_name))
            return
        self.post_message(DetailLoaded(detail))

    @on(EndpointGone)
    def gone(self, message: EndpointGone) -> None:
        # Deleted under us (here or elsewhere): say so in place rather than only in a toast.
        self.detail = None
        self.query_one("#detail-title", Static).update(
            f"[b]{escape(message.name)}[/b]  [red]no longer exists[/] (deleted); Esc goes back"
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="detail-metrics")
    def load_metrics(self) -> None:
        self.post_message(MetricsLoaded(self.services.metrics.async_metrics(self.endpoint_name)))

    @on(DetailLoaded)
    def show_detail(self, message: DetailLoaded) -> None:
        detail = self.detail = message.detail
        endpoint = detail.endpoint
        now = self.settings.clock()
        title = self.query_one("#detail-title", Static)
        status = fmt.status_text(endpoint, now)
        title.update(f"[b]{escape(endpoint.name)}[/b]  [{status.style}]{escape(str(status))}[/]"
                     f"  {endpoint.kind}")
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
            latest = f"{values[-1]:g} (max {max(values):g})" if values else "no data"
            self.query_one(f"#spark-value-{index}", Static).update(latest)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.MUTATING and self.settings.read_only:
            return None
        return True

    def action_logs(self) -> None:
        self.app.open_logs(self.endpoint_name)  # type: ignore[attr-defined]

    def action_scaling(self) -> None:
        self.app.jump(f":scaling {self.endpoint_name}")  # type: ignore[attr-defined]

    def action_refresh(self) -> None:
        self.load_detail()
        self.load_metrics()

    def action_delete(self) -> None:
        self.confirm_delete(self.endpoint_name)

    def after_delete(self) -> None:
        self.load_detail()


def _lines(title: str, rows: list[tuple[str, object]]) -> str:
    body = "\n".join(
        f"[b]{escape(label)}[/b]: {escape(str(value))}" if label else escape(str(value))
        for label, value in rows if value not in (None, "")
        or not label
    )
    return f"[u]{title}[/u]\n{body or '–'}"
