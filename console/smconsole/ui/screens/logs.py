"""Tail one endpoint's logs: follow, pause, filters, search, toggles, save."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Footer, Header, Input, Static

from smconsole import errors
from smconsole.models.logs import LogBatch, LogEvent, TailState, TailStatus, parse_since
from smconsole.ui.background import BackgroundLoop
from smconsole.ui.heap import FreezeHold
from smconsole.ui.markup import escape
from smconsole.ui.screens.base import ConsoleScreen
from smconsole.ui.screens.modals import PromptScreen
from smconsole.ui.widgets.log_view import LogView

if TYPE_CHECKING:
    from smconsole.ui.protocols import ServicesApi
    from smconsole.ui.settings import ConsoleSettings

FLUSH_EVENTS = 10_000  # lines shown per flush at most: ~10 ms of work on an idle core
FLUSH_CHUNK = 1_000  # a flush appends in chunks of this many lines...
FLUSH_BUDGET = 0.008  # ...until this much wall time went: the tail thread shares the GIL
FLUSH_GAP = 0.005  # s between flushes in a burst: the loop gets to render and answer keys
QUIET_STATES = {TailState.STREAMING, TailState.CAUGHT_UP}
PROMPTS = {"search": "search", "include": "show only lines containing",
           "exclude": "hide lines containing"}


class LogsScreen(ConsoleScreen):
    """One endpoint's log lines; the footer shows the common keys, `?` every one."""

    AREA = "logs"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "pause", "Pause", id="logs.pause"),
        Binding("slash", "search", "Search", id="logs.search"),
        Binding("n", "next_match", "Next match", id="logs.next", show=False),
        Binding("N", "previous_match", "Previous match", id="logs.previous", show=False),
        Binding("i", "include", "Include", id="logs.include"),
        Binding("x", "exclude", "Exclude", id="logs.exclude", show=False),
        Binding("h", "hide_ping", "Hide /ping", id="logs.hide_ping"),
        Binding("f", "follow", "Follow", id="logs.follow", show=False),
        Binding("F", "pattern", "CloudWatch pattern", id="logs.pattern", show=False),
        Binding("s", "stream", "Next stream", id="logs.stream", show=False),
        Binding("J", "json", "Pretty JSON", id="logs.json", show=False),
        Binding("w", "wrap", "Wrap", id="logs.wrap", show=False),
        Binding("t", "timestamps", "Timestamps", id="logs.timestamps", show=False),
        Binding("c", "stream_column", "Stream column", id="logs.stream_column", show=False),
        Binding("ctrl+s", "save", "Save", id="logs.save", show=False),
        Binding("G", "bottom", "Bottom", id="logs.bottom", show=False),
        Binding("g", "top", "Top", id="logs.top", show=False),
        Binding("escape", "close_prompt", "Close", show=False),
    ]

    @dataclass
    class BatchArrived(Message):
        """A batch from the tail thread; `generation` tells batches of an older tail apart."""

        batch: LogBatch
        generation: int

    @dataclass
    class StreamsListed(Message):
        streams: list[str]

    @dataclass
    class TailFailed(Message):
        error: str
        generation: int

    def __init__(
        self, services: ServicesApi, settings: ConsoleSettings, name: str, *,
        stream: str | None = None, since_ms: int | None = None, pattern: str | None = None,
        start_tail: bool = True,
    ) -> None:
        super().__init__(services, settings)
        self.endpoint_name = name
        self.stream = stream
        self.since_ms = since_ms
        self.pattern = pattern
        self.paused = False
        self.pending: list[LogEvent] = []
        self.pending_dropped = 0
        self.sampled = 0
        self.status = TailStatus(TailState.STARTING)
        self.streams: list[str] = []
        self.prompt_mode: str | None = None
        self.search_term = ""
        self._generation = 0
        self._tail: BackgroundLoop | None = None
        self._flush_timer: Timer | None = None
        self._last_flush = 0.0
        self._start_tail = start_tail
        self.heap = FreezeHold()  # held while this screen tails

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="logs-status", classes="status-line")
        yield LogView(max_lines=self.settings.log_max_lines, id="log-view")
        # Above the footer, in the flow (a docked bar hid under the footer: typing was blind).
        with Horizontal(id="logs-prompt-bar", classes="prompt-bar"):
            yield Static("/", id="logs-prompt-label", classes="prompt-label")
            yield Input(id="logs-prompt", select_on_focus=False)
        yield Footer(show_command_palette=False)

    @property
    def view(self) -> LogView:
        return self.query_one(LogView)

    def on_mount(self) -> None:
        self.query_one("#logs-prompt-bar").display = False
        self.view.focus()
        if self._start_tail:
            self.heap.hold()
            self.restart_tail()
            self.load_streams()
        self._update_status()

    def on_unmount(self) -> None:
        self.stop_tail()
        self.pending.clear()
        self.heap.release()

    # ---- the tail -------------------------------------------------------------------------

    def restart_tail(self) -> None:
        """(Re)start the tail with the current stream and server-side pattern."""
        self.stop_tail()
        self._generation += 1
        self.view.clear()
        self.pending.clear()
        if self._flush_timer is not None:
            self._flush_timer.stop()
            self._flush_timer = None
        self.sampled = 0
        self.status = TailStatus(TailState.STARTING)
        since = self.since_ms
        if since is None:
            now = datetime.fromtimestamp(self.settings.clock()).astimezone()
            since = parse_since(self.settings.log_since, now)
        generation, stream, pattern = self._generation, self.stream, self.pattern

        def tail(stop: threading.Event) -> None:
            froze = False
            for batch in self.services.logs.tail(
                    self.endpoint_name, stream=stream, since_ms=since, filter_pattern=pattern,
                    follow=True, stop=stop):
                if stop.is_set():
                    return
                if not froze:
                    # Again after the first call: the logs client and its model exist now.
                    self.heap.hold()
                    froze = True
                self.post_message(self.BatchArrived(batch, generation))

        self._tail = BackgroundLoop(
            f"tail-{self.endpoint_name}-{generation}", tail,
            lambda exc: self.post_message(self.TailFailed(str(exc) or type(exc).__name__,
                                                          generation)),
        ).start()
        self._update_status()

    def stop_tail(self) -> None:
        if self._tail is not None:
            self._tail.stop()
            self._tail = None

    @work(thread=True, exit_on_error=False, group="logs-streams")
    def load_streams(self) -> None:
        try:
            streams = self.services.logs.streams(self.endpoint_name)
        except errors.NotFound:
            streams = []  # the tail's status already says the group is missing
        self.post_message(self.StreamsListed(streams))

    @on(StreamsListed)
    def streams_listed(self, message: StreamsListed) -> None:
        self.streams = message.streams

    @on(BatchArrived)
    def batch_arrived(self, message: BatchArrived) -> None:
        if message.generation != self._generation:
            return  # a batch from a tail already replaced
        self.ingest(message.batch)

    def ingest(self, batch: LogBatch) -> None:
        """Take one batch: queued (bounded), shown by the next flush unless paused."""
        changed = batch.status != self.status or batch.sampled
        self.status = batch.status
        self.sampled += batch.sampled
        if batch.events:
            self.pending.extend(batch.events)
            excess = len(self.pending) - self.settings.log_max_lines
            if excess > 0:
                del self.pending[:excess]
                self.pending_dropped += excess
            self._schedule_flush()
        # The status line is redrawn by each flush; a burst of batches must not redraw it each.
        if changed or (self.paused and batch.events):
            self._update_status()

    def _schedule_flush(self) -> None:
        # Batches queued behind each other are handled without the event loop running in
        # between, so showing them is spread over frames: at most FLUSH_EVENTS per frame.
        if self.paused or self._flush_timer is not None or not self.pending:
            return
        if time.monotonic() - self._last_flush >= FLUSH_GAP:
            self._flush()
        else:
            self._flush_timer = self.set_timer(FLUSH_GAP, self._flush)

    def _flush(self) -> None:
        self._flush_timer = None
        if self.paused:
            return
        # Bounded by time as well as count: while the tail thread parses a page the GIL is
        # shared, and 10k lines could take several times their idle cost.
        started = time.monotonic()
        taken = 0
        while self.pending and taken < FLUSH_EVENTS:
            size = min(FLUSH_CHUNK, FLUSH_EVENTS - taken)
            chunk = self.pending[:size]
            del self.pending[:size]
            self.view.append(chunk)
            taken += len(chunk)
            if time.monotonic() - started >= FLUSH_BUDGET:
                break
        self._last_flush = time.monotonic()
        if self.pending:
            self._flush_timer = self.set_timer(FLUSH_GAP, self._flush)
        self._update_status()

    @on(TailFailed)
    def tail_failed(self, message: TailFailed) -> None:
        if message.generation == self._generation:
            self.status = TailStatus(TailState.ERROR, message.error)
            self.notify(f"log tail stopped: {message.error}", severity="error")
            self._update_status()

    def _update_status(self) -> None:
        view = self.view
        state = self.status
        colour = "green" if state.state in QUIET_STATES else (
            "yellow" if state.state in (TailState.STARTING, TailState.EMPTY_GROUP,
                                        TailState.THROTTLED) else "red")
        parts = [
            f"[b]{escape(self.endpoint_name)}[/b]",
            escape(self.stream or "all streams"),
            f"[{colour}]{escape(str(state))}[/]",
            "[yellow]PAUSED[/] " + (f"({len(self.pending):,} waiting)" if self.pending else "")
            if self.paused else ("follow" if view.follow else "[dim]follow off[/]"),
            f"{view.event_count:,} lines",
        ]
        if view.include or view.exclude or view.hide_ping:
            parts.append(f"{view.row_count:,} rows shown")
        if self.pattern:
            parts.append(f"pattern: {escape(self.pattern)!r}")
        if view.include:
            parts.append(f"+{escape(view.include)!r}")
        if view.exclude:
            parts.append(f"-{escape(view.exclude)!r}")
        if view.hide_ping:
            parts.append("/ping hidden")
        dropped = view.dropped + self.pending_dropped
        if dropped:
            parts.append(f"[yellow]dropped {dropped:,} (ring {self.settings.log_max_lines:,})[/]")
        if self.sampled:
            parts.append(f"[yellow]sampled updates {self.sampled:,}[/]")
        if self.search_term:
            where = view.match_line
            found = f" @ row {where + 1:,}" if where is not None else (
                " (no match)" if not view.has_match(self.search_term) else " (n: next match)")
            parts.append(f"search {escape(self.search_term)!r}{found}")
        # One fixed-size line: no layout pass (a layout means a full-screen render).
        self.query_one("#logs-status", Static).update(" · ".join(parts), layout=False)

    # ---- prompt bar (search, include, exclude) --------------------------------------------

    def _open_prompt(self, mode: str, value: str = "") -> None:
        self.prompt_mode = mode
        self.query_one("#logs-prompt-bar").display = True
        self.query_one("#logs-prompt-label", Static).update(f"{PROMPTS[mode]}: ")
        box = self.query_one("#logs-prompt", Input)
        box.value = value
        # The bar's one Input is shared by search, include and exclude: without this the
        # cursor stays where the last prompt left it, and typing lands inside the old word.
        box.cursor_position = len(value)
        box.focus()

    def _close_prompt_bar(self) -> None:
        self.prompt_mode = None
        self.query_one("#logs-prompt-bar").display = False
        self.view.focus()

    @on(Input.Changed, "#logs-prompt")
    def prompt_changed(self, event: Input.Changed) -> None:
        if self.prompt_mode == "search":
            # Incremental: every keystroke moves to the first match at or after the view.
            self.search_term = event.value
            self.view.search(event.value)
            self._update_status()

    @on(Input.Submitted, "#logs-prompt")
    def prompt_submitted(self, event: Input.Submitted) -> None:
        mode = self.prompt_mode
        if mode == "include":
            self._filtered(include=event.value.strip())
        elif mode == "exclude":
            self._filtered(exclude=event.value.strip())
        self._close_prompt_bar()
        self._update_status()

    def action_state(self, action: str) -> bool | None:
        if action == "close_prompt":
            return self.prompt_mode is not None
        return True

    def action_close_prompt(self) -> None:
        if self.prompt_mode == "search":
            self.search_term = ""
            self.view.search("")
        self._close_prompt_bar()
        self._update_status()

    # ---- actions --------------------------------------------------------------------------

    def action_pause(self) -> None:
        self.paused = not self.paused
        if not self.paused:
            self._last_flush = 0.0  # show the first of what waited at once
            self._schedule_flush()
        self.notify("paused" if self.paused else "resumed", timeout=1.5)
        self._update_status()

    def action_follow(self) -> None:
        self.view.follow = not self.view.follow
        self._update_status()

    def action_search(self) -> None:
        self._open_prompt("search", self.search_term)

    def action_next_match(self) -> None:
        if not self.view.next_match(True) and self.search_term:
            self.notify(f"{self.search_term!r} not found", severity="warning", timeout=2)
        self._update_status()

    def action_previous_match(self) -> None:
        if not self.view.next_match(False) and self.search_term:
            self.notify(f"{self.search_term!r} not found", severity="warning", timeout=2)
        self._update_status()

    def action_include(self) -> None:
        self._open_prompt("include", self.view.include)

    def action_exclude(self) -> None:
        self._open_prompt("exclude", self.view.exclude)

    def action_hide_ping(self) -> None:
        self._filtered(hide_ping=not self.view.hide_ping)
        self._update_status()

    def _filtered(self, **filters: str | bool) -> None:
        self.view.set_filters(**filters)  # type: ignore[arg-type]
        if self.search_term:
            self.view.search(self.search_term)  # the rows changed: find the match again

    def action_pattern(self) -> None:
        def chosen(value: str | None) -> None:
            if value is None:
                return
            self.pattern = value.strip() or None
            self.restart_tail()

        self.app.push_screen(
            PromptScreen("CloudWatch filter pattern (server-side; empty clears)",
                         self.pattern or "", 'e.g. ERROR or "Traceback"'),
            chosen,
        )

    def action_stream(self) -> None:
        choices: list[str | None] = [None, *self.streams]
        at = choices.index(self.stream) if self.stream in choices else 0
        self.stream = choices[(at + 1) % len(choices)]
        if len(choices) == 1:
            self.notify("no streams listed yet", severity="warning", timeout=2)
        self.restart_tail()

    def action_json(self) -> None:
        self.view.pretty_json = not self.view.pretty_json

    def action_wrap(self) -> None:
        self.view.wrap = not self.view.wrap

    def action_timestamps(self) -> None:
        self.view.show_timestamps = not self.view.show_timestamps

    def action_stream_column(self) -> None:
        self.view.show_stream = not self.view.show_stream

    def action_bottom(self) -> None:
        self.view.follow = True
        self._update_status()

    def action_top(self) -> None:
        self.view.follow = False
        self.view.scroll_home(animate=False)
        self._update_status()

    def action_save(self) -> None:
        stamp = datetime.fromtimestamp(self.settings.clock()).strftime("%Y%m%d-%H%M%S")
        default = str(Path.cwd() / f"{self.endpoint_name}-{stamp}.log")

        def chosen(value: str | None) -> None:
            if value:
                self.save_buffer(Path(value).expanduser())

        self.app.push_screen(PromptScreen("save the buffer to", default), chosen)

    def save_buffer(self, path: Path) -> None:
        lines = self.view.plain_lines()
        try:
            path.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
        except OSError as exc:  # a folder that does not exist, no permission: say so, stay
            self.notify(f"not saved to {path}: {exc.strerror or exc}", severity="error",
                        timeout=8, markup=False)
            return
        self.notify(f"saved {len(lines):,} lines to {path}", markup=False)
