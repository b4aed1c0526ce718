"""The requests view: submit a batch YAML, follow every request in the ledger, open results.

The output watcher runs in a thread of its own for as long as the screen is mounted (it is a
long-lived loop; a worker would hold one of Textual's few pool threads) and posts what it
finds; the table itself is re-read from the ledger each second by a short worker, so requests
submitted by the CLI in another terminal show up too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Protocol

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Header, Input, Label, ProgressBar, Static

from smconsole.errors import SmconsoleError, SpecError
from smconsole.models.requests import (
    AsyncRequest,
    Batch,
    Outcome,
    OutputBody,
    Status,
    SubmitProgress,
)
from smconsole.ui.screens.base import ConsoleScreen
from smconsole.ui.widgets.path_suggester import PathSuggester
from smconsole.ui.widgets.request_preview import age_text, describe_request, render_body

COLUMNS = (
    ("batch", "Batch"), ("index", "#"), ("status", "Status"), ("age", "Age"),
    ("latency", "Latency"), ("source", "Input"), ("error", "Error"),
)
STATUS_FILTERS: tuple[Status | None, ...] = (
    None, Status.PENDING, Status.SUCCEEDED, Status.FAILED, Status.QUEUED,
)
STATUS_STYLE = {
    Status.QUEUED: "dim", Status.SUBMITTING: "yellow", Status.PENDING: "cyan",
    Status.SUCCEEDED: "green", Status.FAILED: "bold red",
}
MAX_ROWS = 5000  # the newest; older ones stay in the ledger and in `smconsole results`
REFRESH_S = 1.0


class RequestsApi(Protocol):
    """smconsole.services.requests.RequestService, or a test's fake."""

    def plan(self, path: str | Path) -> Any: ...
    def earlier(self, planned: Any) -> list[Batch]: ...
    def submit(self, planned: Any, *, again: bool = False,
               progress: Callable[[SubmitProgress], None] | None = None) -> Any: ...
    def resubmit(self, batch_id: str, indexes: list[int],
                 progress: Callable[[SubmitProgress], None] | None = None) -> Any: ...
    def requests(self, *, batch_id: str | None = None, statuses: list[Status] | None = None,
                 limit: int | None = None) -> list[AsyncRequest]: ...


class OutputsApi(Protocol):
    """smconsole.services.outputs.OutputWatcher, or a test's fake."""

    def run(self, on_outcomes: Callable[[list[Outcome]], None] | None = None, *,
            stop: threading.Event | None = None) -> None: ...
    def fetch(self, location: str) -> OutputBody: ...
    def export(self, requests: Sequence[AsyncRequest], write: Callable[[str], Any]) -> int: ...


# ---- messages (facts, posted from workers and the watcher thread) ---------------------------

class RequestsLoaded(Message):
    def __init__(self, requests: list[AsyncRequest]) -> None:
        super().__init__()
        self.requests = requests


class BatchPlanned(Message):
    def __init__(self, planned: Any, earlier: list[Batch]) -> None:
        super().__init__()
        self.planned = planned
        self.earlier = earlier


class BatchRejected(Message):
    """The YAML is invalid: every problem, located."""

    def __init__(self, path: str, problems: list[str]) -> None:
        super().__init__()
        self.path = path
        self.problems = problems


class SubmitProgressed(Message):
    def __init__(self, step: SubmitProgress) -> None:
        super().__init__()
        self.step = step


class BatchSubmitted(Message):
    def __init__(self, batch: Batch, sent: int, rejected: int, unsent: int) -> None:
        super().__init__()
        self.batch = batch
        self.sent = sent
        self.rejected = rejected
        self.unsent = unsent


class OutcomesArrived(Message):
    def __init__(self, outcomes: list[Outcome]) -> None:
        super().__init__()
        self.outcomes = outcomes


class WatchFailed(Message):
    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class PreviewLoaded(Message):
    def __init__(self, key: str, body: OutputBody | None, error: str | None = None) -> None:
        super().__init__()
        self.key = key
        self.body = body
        self.error = error


class ResultsExported(Message):
    def __init__(self, path: Path, count: int) -> None:
        super().__init__()
        self.path = path
        self.count = count


# ---- the duplicate question ------------------------------------------------------------------

class ConfirmAgainScreen(ModalScreen[bool]):
    """The same batch was sent before: send it again?"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Send again", id="requests.again.yes"),
        Binding("n,escape", "answer(False)", "Cancel", id="requests.again.no"),
    ]

    CSS_PATH = "requests.tcss"

    def __init__(self, file: str, earlier: list[Batch], now: float) -> None:
        super().__init__()
        self.file = file
        self.earlier = earlier
        self.now = now

    def compose(self) -> ComposeResult:
        last = self.earlier[0]
        when = age_text(self.now - last.created_at)
        with Vertical(id="again-dialog", classes="dialog"):
            yield Label(f"[b]{Path(self.file).name}[/b] was sent before", id="again-title")
            yield Static(
                f"as {last.batch_id}, {when} ago ({last.finished}/{last.total} finished"
                f"{'' if len(self.earlier) == 1 else f'; {len(self.earlier)} times in all'}).\n"
                "Send it again as a new batch?  [b]y[/b] send · [b]n[/b] cancel",
                id="again-text",
            )

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


# ---- the screen ------------------------------------------------------------------------------

@dataclass
class _Services:
    requests: RequestsApi | None
    outputs: OutputsApi | None


class RequestsScreen(ConsoleScreen):
    """Async requests: `s` submits a YAML, Enter opens a result, `f` filters, `R` re-submits
    the failed requests of the selected batch, `e` exports the visible rows to JSONL."""

    AREA = "requests"
    CSS_PATH = "requests.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "submit", "Submit YAML", id="requests.submit"),
        Binding("enter", "open", "Preview", id="requests.open", show=False),
        Binding("f", "status_filter", "Status", id="requests.filter"),
        Binding("R", "resubmit", "Re-submit failed", id="requests.resubmit"),
        Binding("e", "export", "Export JSONL", id="requests.export"),
        Binding("r", "refresh", "Refresh", id="requests.refresh"),
    ]
    MUTATING = frozenset({"submit", "resubmit"})

    def __init__(
        self, services: Any, settings: Any = None, *, clock: Callable[[], float] = time.time,
        export_dir: Path | None = None, watch: bool = True,
    ) -> None:
        """`services` needs `.requests` (RequestsApi) and `.outputs` (OutputsApi)."""
        super().__init__(id="requests-screen")
        self.services = _Services(getattr(services, "requests", None),
                                  getattr(services, "outputs", None))
        self.read_only = bool(getattr(settings, "read_only", False)
                              or getattr(services, "read_only", False))
        self.clock = clock
        self.export_dir = export_dir
        self.watch = watch
        self.rows: dict[str, AsyncRequest] = {}
        # What each table row shows now, so a refresh only redraws cells that changed.
        self._shown: dict[str, tuple[bool, AsyncRequest, tuple[Any, ...]]] = {}
        self.status_filter: Status | None = None
        self.opened: str | None = None
        self.submitting = False
        self._loading = False
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    # ---- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="submit-bar"):
            yield Label("Batch YAML", classes="prompt-label")
            yield Input(placeholder="path/to/requests.yaml — → completes, Enter submits (s)",
                        id="batch-path", suggester=PathSuggester((".yaml", ".yml")))
        with Horizontal(id="progress-row"):
            yield ProgressBar(id="submit-progress", show_eta=False)
            yield Static("", id="progress-label")
        yield Static("", id="requests-status", classes="status-line")
        with Horizontal(id="requests-body"):
            table: DataTable[str] = DataTable(id="requests-table", cursor_type="row",
                                              zebra_stripes=True)
            yield table
            with VerticalScroll(id="request-preview"):
                yield Static("Select a request and press Enter to see its output.",
                             id="preview-head")
                yield Static("", id="preview-body")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#requests-table", DataTable)
        for key, label in COLUMNS:
            table.add_column(label, key=key)
        self.query_one("#progress-row").display = False
        table.focus()
        if self.services.requests is None:
            self._status("requests are not available in this console")
            return
        self.load_requests()
        self.set_interval(REFRESH_S, self._refresh_tick)
        if self.watch and self.services.outputs is not None:
            self._start_watcher()

    def on_unmount(self) -> None:
        self._stop.set()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.MUTATING and self.read_only:
            return None
        return True

    # ---- loading --------------------------------------------------------------------------

    def _refresh_tick(self) -> None:
        # Re-arms only once the last load finished; paused while another screen is on top.
        if not self._loading and self.is_current:
            self.load_requests()

    @work(thread=True, exclusive=True, exit_on_error=False, group="requests-load")
    def load_requests(self) -> None:
        self._loading = True
        try:
            assert self.services.requests is not None
            rows = self.services.requests.requests(limit=MAX_ROWS)
        finally:
            self._loading = False
        self.post_message(RequestsLoaded(rows))

    @on(RequestsLoaded)
    def requests_loaded(self, message: RequestsLoaded) -> None:
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

    def _cells(self, request: AsyncRequest, now: float) -> tuple[Any, ...]:
        from rich.text import Text

        return (
            request.batch_id,
            str(request.index),
            Text(request.status.value, style=STATUS_STYLE[request.status]),
            age_text(request.age(now)),
            age_text(request.latency),
            request.source,
            (request.error or "")[:80],
        )

    def _render_table(self) -> None:
        table = self.query_one("#requests-table", DataTable)
        now = self.clock()
        visible = self._visible()
        wanted = [r.key for r in visible]
        present = [str(k.value) for k in table.rows]
        cursor_key = None
        if present != wanted[: len(present)]:
            # Filter change or rows gone: rebuild (the cursor is put back on its row).
            cursor_key = self._cursor_key()
            table.clear()
            self._shown.clear()
            present = []
            if cursor_key is None and visible:
                cursor_key = visible[-1].key
        for request in visible[: len(present)]:
            shown = self._shown.get(request.key)
            if shown is not None and shown[0] is request.status.finished and \
                    request.status.finished and shown[1] == request:
                continue  # a finished row that did not change: nothing to redraw
            cells = self._cells(request, now)
            old = shown[2] if shown else (None,) * len(cells)
            for (column, _), value, before in zip(COLUMNS, cells, old, strict=True):
                if str(value) != str(before):
                    table.update_cell(request.key, column, value, update_width=True)
            self._shown[request.key] = (request.status.finished, request, cells)
        for request in visible[len(present):]:
            cells = self._cells(request, now)
            table.add_row(*cells, key=request.key)
            self._shown[request.key] = (request.status.finished, request, cells)
        if cursor_key is not None and cursor_key in self.rows and cursor_key in wanted:
            table.move_cursor(row=table.get_row_index(cursor_key))
        self._summary()

    def _summary(self) -> None:
        counts: dict[Status, int] = {}
        for request in self.rows.values():
            counts[request.status] = counts.get(request.status, 0) + 1
        parts = [f"{n} {s.value}" for s, n in sorted(counts.items(), key=lambda x: x[0].value)]
        shown = "all" if self.status_filter is None else self.status_filter.value
        self._status(f"{len(self.rows)} requests ({', '.join(parts) or 'none yet'}) · "
                     f"showing {shown}")

    def _status(self, text: str) -> None:
        self.query_one("#requests-status", Static).update(text)

    def _cursor_key(self) -> str | None:
        table = self.query_one("#requests-table", DataTable)
        if table.row_count == 0:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        except Exception:  # noqa: BLE001 - an empty or rebuilt table has no cursor row
            return None
        return str(key.value)

    def selected(self) -> AsyncRequest | None:
        key = self._cursor_key()
        return self.rows.get(key) if key else None

    # ---- watching -------------------------------------------------------------------------

    def _start_watcher(self) -> None:
        outputs = self.services.outputs
        assert outputs is not None

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    outputs.run(lambda found: self.post_message(OutcomesArrived(found)),
                                stop=self._stop)
                except SmconsoleError as exc:
                    self.post_message(WatchFailed(str(exc)))
                    self._stop.wait(5.0)

        self._watcher = threading.Thread(target=loop, name="smconsole-requests-watch",
                                         daemon=True)
        self._watcher.start()

    @on(OutcomesArrived)
    def outcomes_arrived(self, message: OutcomesArrived) -> None:
        done = sum(o.status is Status.SUCCEEDED for o in message.outcomes)
        failed = len(message.outcomes) - done
        if failed:
            self.notify(f"{failed} request(s) failed", severity="warning", timeout=4)
        self.load_requests()

    @on(WatchFailed)
    def watch_failed(self, message: WatchFailed) -> None:
        self.notify(f"watching outputs: {message.error}", title="requests", severity="error")

    # ---- submitting -----------------------------------------------------------------------

    def action_submit(self) -> None:
        self.query_one("#batch-path", Input).focus()

    @on(Input.Submitted, "#batch-path")
    def path_entered(self, event: Input.Submitted) -> None:
        path = event.value.strip()
        self.query_one("#requests-table", DataTable).focus()  # keys work on the list again
        if not path or self.read_only:
            return
        if self.submitting:
            self.notify("a batch is being sent; wait for it to finish", severity="warning")
            return
        self.plan_batch(path)

    @work(thread=True, exclusive=True, exit_on_error=False, group="requests-plan")
    def plan_batch(self, path: str) -> None:
        assert self.services.requests is not None
        try:
            planned = self.services.requests.plan(path)
        except SpecError as exc:
            self.post_message(BatchRejected(path, [str(p) for p in exc.problems]))
            return
        self.post_message(BatchPlanned(planned, self.services.requests.earlier(planned)))

    @on(BatchRejected)
    def batch_rejected(self, message: BatchRejected) -> None:
        count = len(message.problems)
        self.notify(f"{message.path}: {count} problem(s); nothing was sent",
                    title="invalid batch", severity="error")
        self.opened = None
        self.query_one("#preview-head", Static).update(
            f"[b red]{message.path}: not sent[/b red] — fix these and press Enter again:")
        self.query_one("#preview-body", Static).update(
            "\n".join(p.replace("[", r"\[") for p in message.problems))

    @on(BatchPlanned)
    def batch_planned(self, message: BatchPlanned) -> None:
        planned = message.planned
        if not message.earlier:
            self.submit_batch(planned, again=False)
            return

        def answered(again: bool | None) -> None:
            if again:
                self.submit_batch(planned, again=True)
            else:
                self.notify("not sent", timeout=3)

        self.app.push_screen(ConfirmAgainScreen(planned.file, message.earlier, self.clock()), answered)

    def _begin_progress(self, total: int) -> None:
        self.submitting = True
        self.query_one("#progress-row").display = True
        self.query_one("#submit-progress", ProgressBar).update(total=total, progress=0)
        self.query_one("#progress-label", Static).update(f"sending 0/{total}")

    @work(thread=True, exclusive=True, exit_on_error=False, group="requests-submit")
    def submit_batch(self, planned: Any, *, again: bool) -> None:
        assert self.services.requests is not None
        self.app.call_from_thread(self._begin_progress, len(planned.requests))
        try:
            result = self.services.requests.submit(
                planned, again=again, progress=lambda s: self.post_message(SubmitProgressed(s)))
        finally:
            self.submitting = False
        self.post_message(BatchSubmitted(result.batch, result.sent, result.rejected,
                                         result.unsent))

    @on(SubmitProgressed)
    def submit_progressed(self, message: SubmitProgressed) -> None:
        step = message.step
        self.query_one("#submit-progress", ProgressBar).update(total=step.total,
                                                               progress=step.done)
        self.query_one("#progress-label", Static).update(
            f"{step.batch_id}: sent {step.done}/{step.total}")

    @on(BatchSubmitted)
    def batch_submitted(self, message: BatchSubmitted) -> None:
        self.query_one("#progress-row").display = False
        extra = ""
        if message.rejected:
            extra += f", {message.rejected} refused"
        if message.unsent:
            extra += f", {message.unsent} not sent (retry with `smconsole submit --resume`)"
        self.notify(f"{message.batch.batch_id}: {message.sent} sent{extra}", title="submitted",
                    severity="warning" if extra else "information")
        self.load_requests()

    def action_resubmit(self) -> None:
        request = self.selected()
        if request is None:
            return
        failed = [r.index for r in self.rows.values()
                  if r.batch_id == request.batch_id and r.status is Status.FAILED]
        if not failed:
            self.notify(f"{request.batch_id} has no failed requests", timeout=3)
            return
        self.resubmit_failed(request.batch_id, failed)

    @work(thread=True, exclusive=True, exit_on_error=False, group="requests-submit")
    def resubmit_failed(self, batch_id: str, indexes: list[int]) -> None:
        assert self.services.requests is not None
        self.app.call_from_thread(self._begin_progress, len(indexes))
        try:
            result = self.services.requests.resubmit(
                batch_id, indexes, progress=lambda s: self.post_message(SubmitProgressed(s)))
        finally:
            self.submitting = False
        self.post_message(BatchSubmitted(result.batch, result.sent, result.rejected,
                                         result.unsent))

    # ---- filtering, preview, export -------------------------------------------------------

    def action_status_filter(self) -> None:
        position = STATUS_FILTERS.index(self.status_filter)
        self.status_filter = STATUS_FILTERS[(position + 1) % len(STATUS_FILTERS)]
        self._render_table()

    def action_refresh(self) -> None:
        self.load_requests()

    @on(DataTable.RowSelected, "#requests-table")
    def row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def action_open(self) -> None:
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
        assert self.services.outputs is not None
        try:
            body = self.services.outputs.fetch(location)
        except SmconsoleError as exc:
            self.post_message(PreviewLoaded(key, None, str(exc)))
            return
        self.post_message(PreviewLoaded(key, body))

    @on(PreviewLoaded)
    def preview_loaded(self, message: PreviewLoaded) -> None:
        if message.key != self.opened:
            return  # the user moved on
        widget = self.query_one("#preview-body", Static)
        if message.body is None:
            widget.update(f"[red]could not read it: {message.error}[/red]")
        else:
            widget.update(render_body(message.body))

    def action_export(self) -> None:
        rows = self._visible()
        if not rows or self.services.outputs is None:
            self.notify("nothing to export", timeout=3)
            return
        stamp = datetime.fromtimestamp(self.clock()).strftime("%Y%m%d-%H%M%S")
        path = (self.export_dir or Path.cwd()) / f"smconsole-results-{stamp}.jsonl"
        self.export_results(rows, path)

    @work(thread=True, exclusive=True, exit_on_error=False, group="requests-export")
    def export_results(self, rows: list[AsyncRequest], path: Path) -> None:
        assert self.services.outputs is not None
        with path.open("w", encoding="utf-8") as handle:
            count = self.services.outputs.export(rows, handle.write)
        self.post_message(ResultsExported(path, count))

    @on(ResultsExported)
    def results_exported(self, message: ResultsExported) -> None:
        self.notify(f"{message.count} results written to {message.path}", title="exported")
