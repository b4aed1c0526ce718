"""The requests view: submit a batch YAML, follow every request in the ledger, open results.

The output watcher is a long-lived loop in a thread of its own (ui.background) for as long
as the screen is mounted, posting what it finds; the table itself is re-read from the ledger
each second by a short worker, so requests submitted by the CLI in another terminal show up
too.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Footer, Header, Input, Label, ProgressBar, Static

from smconsole.errors import SmconsoleError, SpecError
from smconsole.models.requests import (
    AsyncRequest,
    Batch,
    Outcome,
    OutputBody,
    Status,
    SubmitProgress,
)
from smconsole.specs.batch import PlannedBatch
from smconsole.ui import formatting as fmt
from smconsole.ui.background import BackgroundLoop
from smconsole.ui.markup import escape
from smconsole.ui.screens.base import ConsoleScreen
from smconsole.ui.screens.modals import ConfirmAgainScreen, PromptScreen
from smconsole.ui.widgets.keyed_table import Cells, KeyedTable
from smconsole.ui.widgets.path_suggester import PathSuggester
from smconsole.ui.widgets.request_preview import describe_request, render_body

if TYPE_CHECKING:
    from smconsole.ui.protocols import ServicesApi, SubmitOutcome
    from smconsole.ui.settings import ConsoleSettings

COLUMNS = (
    ("batch", "Batch"), ("index", "#"), ("status", "Status"), ("age", "Age"),
    ("latency", "Latency"), ("error", "Error"), ("inference_id", "InferenceId"),
    ("source", "Input"),
)
ERROR_WIDTH = 32  # the cell's share; the whole error is in the preview (Enter)
STATUS_FILTERS: tuple[Status | None, ...] = (
    None, Status.PENDING, Status.SUCCEEDED, Status.FAILED, Status.QUEUED,
)
STATUS_STYLE = {
    Status.QUEUED: "dim", Status.SUBMITTING: "yellow", Status.PENDING: "cyan",
    Status.SUCCEEDED: "green", Status.FAILED: "bold red",
}
MAX_ROWS = 5000  # the newest; older ones stay in the ledger and in `smconsole results`
REFRESH_S = 1.0
# Below this width the preview goes under the table: side by side, the table showed 3 columns.
SIDE_BY_SIDE_MIN = 140
WATCH_RETRY_S = 5.0


class RequestsScreen(ConsoleScreen):
    """Async requests: `s` submits a YAML, Enter opens a request's timeline (`p` previews its
    result in place), `f` filters, `R` re-sends
    the failed requests of the selected batch, `e` exports the visible rows to JSONL."""

    AREA = "requests"
    CSS_PATH = "requests.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "submit", "Submit", id="requests.submit"),
        Binding("enter", "open", "Timeline", id="requests.open", show=False),
        Binding("p", "preview", "Preview", id="requests.preview"),
        Binding("f", "status_filter", "Status", id="requests.filter"),
        Binding("R", "resubmit", "Re-send failed", id="requests.resubmit", show=False),
        Binding("e", "export", "Export", id="requests.export"),
        Binding("r", "refresh", "Refresh", id="requests.refresh", show=False),
    ]
    MUTATING = frozenset({"submit", "resubmit"})

    @dataclass
    class Loaded(Message):
        requests: list[AsyncRequest]

    @dataclass
    class Planned(Message):
        planned: PlannedBatch
        earlier: list[Batch]

    @dataclass
    class Rejected(Message):
        """The YAML is invalid: every problem, located."""

        path: str
        problems: list[str]

    @dataclass
    class Progressed(Message):
        step: SubmitProgress

    @dataclass
    class Submitted(Message):
        batch: Batch
        sent: int
        rejected: int
        unsent: int

    @dataclass
    class OutcomesArrived(Message):
        outcomes: list[Outcome]

    @dataclass
    class WatchFailed(Message):
        error: str

    @dataclass
    class PreviewLoaded(Message):
        key: str
        body: OutputBody | None
        error: str | None = None

    @dataclass
    class Exported(Message):
        path: Path
        count: int

    def __init__(self, services: ServicesApi, settings: ConsoleSettings, *,
                 watch: bool = True) -> None:
        super().__init__(services, settings)
        self.watch = watch
        self.rows: dict[str, AsyncRequest] = {}
        self.status_filter: Status | None = None
        self.opened: str | None = None
        self.submitting = False
        self._loading = False
        self._watcher: BackgroundLoop | None = None

    def clock(self) -> float:
        return self.settings.clock()

    # ---- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="submit-bar"):
            yield Label("Batch YAML", classes="prompt-label")
            yield Input(placeholder="path/to/requests.yaml — → completes, Enter submits",
                        id="batch-path", suggester=PathSuggester((".yaml", ".yml")),
                        select_on_focus=False)
        with Horizontal(id="progress-row"):
            yield ProgressBar(id="submit-progress", show_eta=False)
            yield Static("", id="progress-label")
        yield Static("", id="requests-status", classes="status-line")
        with Horizontal(id="requests-body"):
            yield KeyedTable(COLUMNS, id="requests-table")
            with VerticalScroll(id="request-preview"):
                yield Static("Enter: a request's timeline · p: its output here.",
                             id="preview-head")
                yield Static("", id="preview-body")
        yield Footer(show_command_palette=False)

    @property
    def table(self) -> KeyedTable:
        return self.query_one("#requests-table", KeyedTable)

    def on_mount(self) -> None:
        self.query_one("#progress-row").display = False
        self.table.focus()
        if self.services.requests is None:
            self._status("requests are not available in this console")
            return
        self.load_requests()
        self.set_interval(REFRESH_S, self._refresh_tick)
        if self.watch and self.services.outputs is not None:
            self._start_watcher()

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.width < SIDE_BY_SIDE_MIN, "-narrow")

    def on_unmount(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()

    def action_state(self, action: str) -> bool | None:
        if action == "resubmit" and self.submitting:
            return None
        return True

    def refused(self, action: str) -> str | None:
        why = super().refused(action)
        if why is None and action == "resubmit" and self.submitting:
            return "a batch is being sent"
        return why

    # ---- loading --------------------------------------------------------------------------

    def _refresh_tick(self) -> None:
        # Re-arms only once the last load finished; paused while another screen is on top.
        if not self._loading and self.is_current:
            self.load_requests()

    @work(thread=True, exclusive=True, exit_on_error=False, group="requests-load")
    def load_requests(self) -> None:
        self._loading = True
        try:
            requests = self.services.requests
            assert requests is not None
            rows = requests.requests(limit=MAX_ROWS)
        finally:
            self._loading = False
        self.post_message(self.Loaded(rows))

    @on(Loaded)
    def requests_loaded(self, message: Loaded) -> None:
        self.rows = {r.key: r for r in message.requests}
        self._render_table()

    def _visible(self) -> list[AsyncRequest]:
        rows = list(self.rows.values())
        if self.status_filter is not None:
            wanted = {self.status_filter}
            if self.status_filter is Status.QUEUED:
                wanted.add(Status.SUBMITTING)
            rows = [r for r in rows if r.status in wanted]
        return rows

    def _cells(self, key: str, now: float) -> Cells:
        request = self.rows[key]
        error = request.error or ""
        if len(error) > ERROR_WIDTH:
            error = error[:ERROR_WIDTH - 1] + "…"
        return (
            Text(request.batch_id), Text(str(request.index)),
            Text(request.status.value, style=STATUS_STYLE[request.status]),
            Text(fmt.duration(request.age(now))), Text(fmt.duration(request.latency)),
            Text(error, style="red" if error else ""), Text(request.inference_id),
            Text(request.source),
        )

    def _render_table(self) -> None:
        now = self.clock()
        had_rows = bool(self.table.shown)
        keys = [r.key for r in self._visible()]
        # Every row: Age moves for all of them, finished or not (the text changes at most
        # once a second, and only changed cells are redrawn).
        self.table.show(keys, lambda key: self._cells(key, now))
        if not had_rows and keys:
            self.table.move_cursor(row=len(keys) - 1, animate=False)  # the newest
        self._summary()

    def _summary(self) -> None:
        counts: dict[Status, int] = {}
        for request in self.rows.values():
            counts[request.status] = counts.get(request.status, 0) + 1
        parts = [f"{n} {s.value}" for s, n in sorted(counts.items(), key=lambda x: x[0].value)]
        shown = "all" if self.status_filter is None else self.status_filter.value
        self._status(f"{len(self.rows)} requests ({', '.join(parts) or 'none yet'}) · "
                     f"showing {shown}" + (" · read-only" if self.read_only else ""))

    def _status(self, text: str) -> None:
        self.query_one("#requests-status", Static).update(Text(text))

    def selected(self) -> AsyncRequest | None:
        key = self.table.selected_key
        return self.rows.get(key) if key else None

    # ---- watching -------------------------------------------------------------------------

    def _start_watcher(self) -> None:
        outputs = self.services.outputs
        assert outputs is not None

        def watch(stop: threading.Event) -> None:
            while not stop.is_set():
                try:
                    outputs.run(lambda found: self.post_message(self.OutcomesArrived(found)),
                                stop=stop)
                except SmconsoleError as exc:
                    self.post_message(self.WatchFailed(str(exc)))
                    stop.wait(WATCH_RETRY_S)

        self._watcher = BackgroundLoop(
            "smconsole-requests-watch", watch,
            lambda exc: self.post_message(self.WatchFailed(str(exc) or type(exc).__name__)),
        ).start()

    @on(OutcomesArrived)
    def outcomes_arrived(self, message: OutcomesArrived) -> None:
        failed = sum(o.status is Status.FAILED for o in message.outcomes)
        if failed:
            self.notify(f"{failed} request(s) failed", severity="warning", timeout=4)
        self.load_requests()

    @on(WatchFailed)
    def watch_failed(self, message: WatchFailed) -> None:
        self.notify(f"watching outputs: {message.error}", title="requests", severity="error",
                    markup=False)

    # ---- submitting -----------------------------------------------------------------------

    def action_submit(self) -> None:
        self.query_one("#batch-path", Input).focus()

    @on(Input.Submitted, "#batch-path")
    def path_entered(self, event: Input.Submitted) -> None:
        path = event.value.strip()
        self.table.focus()  # keys work on the list again
        if not path:
            return
        if self.read_only:
            self.notify("read-only: submit refused", severity="warning")
            return
        if self.submitting:
            self.notify("a batch is being sent; wait for it to finish", severity="warning")
            return
        self.plan_batch(path)

    @work(thread=True, exclusive=True, exit_on_error=False, group="requests-plan")
    def plan_batch(self, path: str) -> None:
        requests = self.services.requests
        assert requests is not None
        try:
            planned = requests.plan(path)
        except SpecError as exc:
            self.post_message(self.Rejected(path, [str(p) for p in exc.problems]))
            return
        self.post_message(self.Planned(planned, requests.earlier(planned)))

    @on(Rejected)
    def batch_rejected(self, message: Rejected) -> None:
        count = len(message.problems)
        self.notify(f"{message.path}: {count} problem(s); nothing was sent",
                    title="invalid batch", severity="error", markup=False)
        self.opened = None
        self.query_one("#preview-head", Static).update(
            f"[b red]{escape(message.path)}: not sent[/b red] — fix these and press Enter "
            "again:")
        self.query_one("#preview-body", Static).update(Text("\n".join(message.problems)))

    @on(Planned)
    def batch_planned(self, message: Planned) -> None:
        planned = message.planned
        if not message.earlier:
            self.submit_batch(planned, again=False)
            return

        def answered(again: bool | None) -> None:
            if again:
                self.submit_batch(planned, again=True)
            else:
                self.notify("not sent", timeout=3)

        self.app.push_screen(ConfirmAgainScreen(planned.file, message.earlier, self.clock()),
                             answered)

    def _begin_progress(self, total: int) -> None:
        self.submitting = True
        self.refresh_bindings()
        self.query_one("#progress-row").display = True
        self.query_one("#submit-progress", ProgressBar).update(total=total, progress=0)
        self.query_one("#progress-label", Static).update(f"sending 0/{total}")

    def _progress(self, step: SubmitProgress) -> None:
        self.post_message(self.Progressed(step))

    @work(thread=True, exclusive=True, exit_on_error=False, group="requests-submit")
    def submit_batch(self, planned: PlannedBatch, *, again: bool) -> None:
        requests = self.services.requests
        assert requests is not None
        self.app.call_from_thread(self._begin_progress, len(planned.requests))
        try:
            result = requests.submit(planned, again=again, progress=self._progress)
        finally:
            self.submitting = False
        self.post_message(_submitted(result))

    @on(Progressed)
    def submit_progressed(self, message: Progressed) -> None:
        step = message.step
        self.query_one("#submit-progress", ProgressBar).update(total=step.total,
                                                               progress=step.done)
        self.query_one("#progress-label", Static).update(
            Text(f"{step.batch_id}: sent {step.done}/{step.total}"))

    @on(Submitted)
    def batch_submitted(self, message: Submitted) -> None:
        self.query_one("#progress-row").display = False
        self.refresh_bindings()
        extra = ""
        if message.rejected:
            extra += f", {message.rejected} refused"
        if message.unsent:
            extra += f", {message.unsent} not sent (retry with `smconsole submit --resume`)"
        self.notify(f"{message.batch.batch_id}: {message.sent} sent{extra}", title="submitted",
                    severity="warning" if extra else "information", markup=False)
        self.load_requests()

    def action_resubmit(self) -> None:
        request = self.selected()
        if request is None:
            self.notify("select a request of the batch to re-send", timeout=3)
            return
        self.resubmit_failed(request.batch_id)

    @work(thread=True, exclusive=True, exit_on_error=False, group="requests-submit")
    def resubmit_failed(self, batch_id: str) -> None:
        """Every failed request of the batch, as the ledger has them (not only those shown)."""
        requests = self.services.requests
        assert requests is not None
        self.submitting = True
        try:
            result = requests.resubmit_failed(batch_id, progress=self._progress)
        finally:
            self.submitting = False
        if result is None:
            self.app.call_from_thread(self.notify, f"{batch_id} has no failed requests",
                                      timeout=3)
            return
        self.post_message(_submitted(result))

    # ---- filtering, preview, export -------------------------------------------------------

    def action_status_filter(self) -> None:
        position = STATUS_FILTERS.index(self.status_filter)
        self.status_filter = STATUS_FILTERS[(position + 1) % len(STATUS_FILTERS)]
        self._render_table()

    def action_refresh(self) -> None:
        self.load_requests()

    @on(KeyedTable.RowSelected, "#requests-table")
    def row_selected(self, event: KeyedTable.RowSelected) -> None:
        self.action_open()

    def action_open(self) -> None:
        """Enter: the request's timeline (what happened to it); the preview without one."""
        request = self.selected()
        if request is None:
            return
        open_timeline = getattr(self.app, "open_timeline", None)
        if getattr(self.services, "timeline", None) is not None and open_timeline is not None:
            # By BATCH/INDEX: an inference id given again in a later batch (the demo's
            # demo-named-request) names the newest request, not the row under the cursor.
            open_timeline(request.key)
            return
        self.action_preview()

    def action_preview(self) -> None:
        request = self.selected()
        if request is None:
            return
        self.opened = request.key
        self.query_one("#preview-head", Static).update(describe_request(request))
        location = (request.output_location if request.status is Status.SUCCEEDED
                    else request.failure_location if request.status is Status.FAILED else None)
        body = self.query_one("#preview-body", Static)
        if location is None or self.services.outputs is None:
            body.update(f"({request.status.value}: no output yet)")
            return
        body.update("loading…")
        self.load_preview(request.key, location)

    @work(thread=True, exclusive=True, exit_on_error=False, group="requests-preview")
    def load_preview(self, key: str, location: str) -> None:
        outputs = self.services.outputs
        assert outputs is not None
        try:
            body = outputs.fetch(location)
        except SmconsoleError as exc:
            self.post_message(self.PreviewLoaded(key, None, str(exc)))
            return
        self.post_message(self.PreviewLoaded(key, body))

    @on(PreviewLoaded)
    def preview_loaded(self, message: PreviewLoaded) -> None:
        if message.key != self.opened:
            return  # the user moved on
        widget = self.query_one("#preview-body", Static)
        if message.body is None:
            widget.update(f"[red]could not read it: {escape(message.error or '')}[/red]")
        else:
            widget.update(render_body(message.body))

    def action_export(self) -> None:
        rows = self._visible()
        if not rows or self.services.outputs is None:
            self.notify("nothing to export", timeout=3)
            return
        stamp = datetime.fromtimestamp(self.clock()).strftime("%Y%m%d-%H%M%S")
        default = str(Path.cwd() / f"smconsole-results-{stamp}.jsonl")

        def chosen(value: str | None) -> None:
            if value and value.strip():
                self.export_results(rows, Path(value.strip()).expanduser())
            else:
                self.notify("not exported", timeout=3)

        self.app.push_screen(PromptScreen(
            f"export {len(rows)} shown request(s) with their results (JSON lines) to",
            default), chosen)

    @work(thread=True, exclusive=True, exit_on_error=False, group="requests-export")
    def export_results(self, rows: list[AsyncRequest], path: Path) -> None:
        outputs = self.services.outputs
        assert outputs is not None
        with path.open("w", encoding="utf-8") as handle:
            count = outputs.export(rows, handle.write)
        self.post_message(self.Exported(path, count))

    @on(Exported)
    def results_exported(self, message: Exported) -> None:
        self.notify(f"{message.count} results written to {message.path}", title="exported",
                    markup=False)


def _submitted(result: SubmitOutcome) -> RequestsScreen.Submitted:
    return RequestsScreen.Submitted(result.batch, result.sent, result.rejected, result.unsent)
