"""One async request's timeline: each step with its time and source, derived spans, the object."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Static

from smconsole.models.timeline import Timeline
from smconsole.ui.markup import escape
from smconsole.ui.screens.base import ConsoleScreen
from smconsole.ui.widgets.keyed_table import RowTable

if TYPE_CHECKING:
    from smconsole.ui.protocols import ServicesApi
    from smconsole.ui.settings import ConsoleSettings

PREVIEW_CHARS = 600
SOURCE_WIDTH_MIN = 16


class TimelineScreen(ConsoleScreen):
    """`:request ID` or Enter on a request: what happened to it, step by step."""

    AREA = "request"
    AUTO_FOCUS = "#timeline-steps"  # arrow keys walk the steps at once
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "refresh", "Refresh", id="request.refresh"),
        Binding("l", "logs", "Endpoint logs", id="request.logs"),
    ]

    @dataclass
    class Loaded(Message):
        timeline: Timeline

    @dataclass
    class Missing(Message):
        reason: str

    def __init__(self, services: ServicesApi, settings: ConsoleSettings, ref: str) -> None:
        super().__init__(services, settings)
        self.ref = ref
        self.timeline: Timeline | None = None

    @property
    def endpoint_name(self) -> str | None:
        return self.timeline.request.endpoint if self.timeline else None

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="timeline-body"):
            yield Static(f"[b]request {escape(self.ref)}[/b] loading…", id="timeline-title")
            table: DataTable[Any] = RowTable(id="timeline-steps", cursor_type="row",
                                              zebra_stripes=True)
            yield table
            yield Static("", id="timeline-line", classes="detail-box")
            yield Static("", id="timeline-spans", classes="detail-box")
            yield Static("", id="timeline-object", classes="detail-box")
        yield Footer()

    def on_mount(self) -> None:
        self._add_columns(self.query_one("#timeline-steps", DataTable), SOURCE_WIDTH_MIN)
        self.load_timeline()

    @staticmethod
    def _add_columns(table: DataTable[Any], source_width: int) -> None:
        table.add_column("time", key="time", width=12)
        table.add_column("step", key="step", width=9)
        table.add_column("source", key="source", width=source_width)
        table.add_column("detail", key="detail")

    @work(thread=True, exclusive=True, exit_on_error=False, group="timeline")
    def load_timeline(self) -> None:
        service = self.services.timeline
        if service is None:
            self.post_message(self.Missing("the ledger is not available: no timelines"))
            return
        self.post_message(self.Loaded(service.timeline(self.ref)))

    @on(Missing)
    def missing(self, message: Missing) -> None:
        self.query_one("#timeline-title", Static).update(
            f"[b]request {escape(self.ref)}[/b]  [red]{escape(message.reason)}[/]")

    @on(Loaded)
    def show(self, message: Loaded) -> None:
        timeline = self.timeline = message.timeline
        request = timeline.request
        colour = {"succeeded": "green", "failed": "red"}.get(request.status.value, "yellow")
        self.query_one("#timeline-title", Static).update(
            f"[b]{escape(request.inference_id)}[/b]  [{colour}]{request.status.value}[/]  "
            f"on {escape(request.endpoint)}  (batch {escape(request.batch_id)} "
            f"#{request.index})")
        table = self.query_one("#timeline-steps", DataTable)
        sources = [_short_source(step.source, timeline.instance) for step in timeline.steps]
        # As wide as the longest source, but never so wide that the detail has no room: the
        # highlighted step's box below shows its source whole.
        cap = max(SOURCE_WIDTH_MIN, (self.size.width - 29) // 2)
        row = table.cursor_row  # a refresh or a resize keeps the step being read
        table.clear(columns=True)
        self._add_columns(table, min(cap, max(map(len, sources), default=SOURCE_WIDTH_MIN)))
        for number, (step, source) in enumerate(zip(timeline.steps, sources, strict=True)):
            if step.present:
                detail = Text(_one_line(step.detail))
                when = Text(self._clock(step.at, step.precision))
            else:
                detail = Text(f"missing: {step.missing}", style="dim italic")
                when = Text("—", style="dim")
            table.add_row(when, step.name, Text(source, style="cyan"), detail,
                          key=f"{number}:{step.name}")
        table.move_cursor(row=min(row, len(timeline.steps) - 1))
        spans = [
            f"[b]{s.name}[/b] {s.seconds:.3f}s [dim]({escape(s.basis)})[/]"
            if s.seconds is not None else
            f"[b]{s.name}[/b] [dim]unknown: {escape(s.missing or '')}[/]"
            for s in timeline.spans
        ]
        instance = (escape(timeline.instance) if timeline.instance else
                    f"[dim]unknown: {escape(timeline.instance_missing or '')}[/]")
        self.query_one("#timeline-spans", Static).update(
            "   ".join(spans) + f"\n[b]instance[/b] {instance}")
        self.query_one("#timeline-object", Static).update(_object_text(timeline))

    def on_resize(self) -> None:
        if self.timeline is not None:  # the source column's cap follows the width
            self.show(self.Loaded(self.timeline))

    @staticmethod
    def _clock(at: float | None, precision: float = 0.001) -> str:
        if at is None:
            return "—"
        moment = datetime.fromtimestamp(at)
        # S3 keeps whole seconds: milliseconds there would claim an order they do not know.
        return moment.strftime("%H:%M:%S") if precision >= 1 else \
            moment.strftime("%H:%M:%S.%f")[:-3]

    @on(DataTable.RowHighlighted, "#timeline-steps")
    def highlighted(self, event: DataTable.RowHighlighted) -> None:
        timeline = self.timeline
        if timeline is None or event.cursor_row >= len(timeline.steps):
            return
        step = timeline.steps[event.cursor_row]
        text = step.detail if step.present else f"missing: {step.missing}"
        self.query_one("#timeline-line", Static).update(
            f"[b]{step.name}[/b] [cyan]{escape(step.source)}[/]\n{escape(text)}")

    def action_refresh(self) -> None:
        self.load_timeline()

    def action_logs(self) -> None:
        name = self.endpoint_name
        open_logs = getattr(self.app, "open_logs", None)
        if name and open_logs is not None:
            open_logs(name)


def _short_source(source: str, instance: str | None) -> str:
    """The request's own instance stream is named once, below the table: "instance" here."""
    return source.replace(instance, "instance") if instance else source


def _object_text(timeline: Timeline) -> str:
    stored = timeline.output
    lines = []
    if stored is None:
        lines.append(f"[b]object[/b] [dim]none: {escape(timeline.output_missing or '')}[/]")
    else:
        size = f"{stored.size:,} bytes" if stored.size is not None else "size unknown"
        lines.append(f"[b]object[/b] {escape(stored.location)}  {size}  "
                     f"{escape(stored.content_type or 'no content type')}")
        preview = stored.preview[:PREVIEW_CHARS]
        more = "…" if stored.truncated or len(stored.preview) > PREVIEW_CHARS else ""
        lines.append(escape(preview) + more)
    note = timeline.notification
    if note is None:
        lines.append(f"[b]notification[/b] [dim]none: {escape(timeline.notification_missing or '')}[/]")
    else:
        reason = f": {note['failureReason']}" if note.get("failureReason") else ""
        lines.append(f"[b]notification[/b] {escape(str(note.get('invocationStatus')) + reason)}")
    return "\n".join(lines)


def _one_line(text: str) -> str:
    return " ".join(text.split())
