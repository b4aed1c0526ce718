"""A bounded, filterable, searchable log view that renders only the lines on screen.

Events live in a ring (a list with a moving head, compacted now and then); display rows are
derived from events by the current filters, JSON and wrap settings, so a burst costs one list
extend per batch and a toggle costs one pass over the ring.

Both are kept as plain tuples of ints and strings, never as objects: the cyclic GC stops
tracking such tuples after their first young collection, so a full ring adds nothing to a
full (generation 2) collection. With LogEvent objects, and rows pointing at them, 100k lines
were 200k tracked objects and each full collection paused every thread for 100-500 ms.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from smconsole.models.logs import LogEvent, level_of

LEVEL_STYLES = {
    "CRITICAL": Style(color="bright_red", bold=True),
    "ERROR": Style(color="red"),
    "WARNING": Style(color="yellow"),
    "INFO": Style(),
    "DEBUG": Style(color="bright_black"),
    "TRACE": Style(color="bright_black", dim=True),
}
TIMESTAMP_STYLE = Style(color="cyan", dim=True)
STREAM_STYLE = Style(color="magenta")
MATCH_STYLE = Style(color="black", bgcolor="yellow")
CURRENT_MATCH_STYLE = Style(color="black", bgcolor="bright_green", bold=True)
# Health checks: SageMaker pings every few seconds and buries everything else.
PING_NOISE = re.compile(r"(GET|\"GET) /ping\b|/ping HTTP")


# An event in the ring: (timestamp, message, stream, event_id), LogEvent's fields.
_Event = tuple[int, str, str, str]
_TS, _MESSAGE, _STREAM = 0, 1, 2
# A display row: (event's absolute index, text, first). Plain tuples: a burst makes one per
# line, and (see above) a tuple of atomics is invisible to the GC once untracked.
_Row = tuple[int, str, bool]
_EVENT, _TEXT, _FIRST = 0, 1, 2


class LogView(ScrollView, can_focus=True):
    """Log lines with level colours, timestamps, stream column, filters, search and a ring."""

    show_timestamps: reactive[bool] = reactive(True)
    show_stream: reactive[bool] = reactive(True)
    wrap: reactive[bool] = reactive(False)
    pretty_json: reactive[bool] = reactive(False)
    follow: reactive[bool] = reactive(True)

    def __init__(
        self, *, max_lines: int = 100_000, time_format: Callable[[int], str] | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.max_lines = max_lines
        self._events: list[_Event] = []
        self._base = 0  # absolute index of self._events[0] (rows name events by it)
        self._head = 0  # events before this index have left the ring
        self._rows: list[_Row] = []
        self._row_head = 0
        self._width = 0
        self._stream_width = 0
        self.dropped = 0
        self.include: str = ""
        self.exclude: str = ""
        self.hide_ping = False
        self._search: re.Pattern[str] | None = None
        self._match_row: int | None = None  # absolute row index of the current match
        self._time_format = time_format or _local_time
        self._end_pending = False
        self.rebuilt_width = 0

    # ---- data in -------------------------------------------------------------------------

    @property
    def event_count(self) -> int:
        return len(self._events) - self._head

    @property
    def row_count(self) -> int:
        return len(self._rows) - self._row_head

    def events(self) -> list[LogEvent]:
        return [LogEvent(*event) for event in self._events[self._head:]]

    def append(self, events: Iterable[LogEvent]) -> None:
        """Add a batch in time order; the oldest leave once the ring is full."""
        new = [(e.timestamp, e.message, e.stream, e.event_id) for e in events]
        if not new:
            return
        start = self._base + len(self._events)
        self._events.extend(new)
        streams = {event[_STREAM] for event in new}
        self._stream_width = max(self._stream_width,
                                 *(len(_stream_label(name).rstrip()) for name in streams))
        rows = self._rows_for(start, new)
        self._rows.extend(rows)
        width = max((len(r[_TEXT]) for r in rows), default=0)
        self._width = max(self._width, width)
        self._evict()
        self._update_virtual_size()
        # Following sticks to the bottom; scrolling up (keys or wheel) turns it off. Testing
        # "at the end" instead would fail when two appends come before the next layout.
        if self.follow:
            self._follow_end()
        self.refresh()

    def clear(self) -> None:
        self._events, self._rows = [], []
        self._base = self._head = self._row_head = 0
        self._width = 0
        self.dropped = 0
        self._match_row = None
        self._update_virtual_size()
        self.refresh()

    def on_unmount(self) -> None:
        # The screen may outlive its unmount in a cycle the GC never visits (see
        # ui.heap.FreezeHold): the ring, up to max_lines lines, must not.
        self._events, self._rows = [], []
        self._base = self._head = self._row_head = 0

    def _evict(self) -> None:
        excess = self.event_count - self.max_lines
        if excess <= 0:
            return
        self._head += excess
        self.dropped += excess
        first_live = self._base + self._head
        rows, head = self._rows, self._row_head
        while head < len(rows) and rows[head][_EVENT] < first_live:
            head += 1
        if self._match_row is not None:
            self._match_row = self._match_row - (head - self._row_head) \
                if self._match_row >= head else None
        self._row_head = head
        # Compact once the dead prefix outweighs the live part: amortised O(1) per event.
        if self._head > self.max_lines:
            del self._events[:self._head]
            self._base += self._head
            self._head = 0
        if self._row_head > max(self.max_lines, 1024):
            if self._match_row is not None:
                self._match_row -= self._row_head
            del self._rows[:self._row_head]
            self._row_head = 0

    # ---- derived rows --------------------------------------------------------------------

    def _accepts(self) -> Callable[[str], bool] | None:
        include, exclude, hide_ping = self.include.lower(), self.exclude.lower(), self.hide_ping
        if not (include or exclude or hide_ping):
            return None

        def accept(text: str) -> bool:
            if hide_ping and "/ping" in text and PING_NOISE.search(text):
                return False
            lowered = text.lower() if include or exclude else text
            if include and include not in lowered:
                return False
            return not (exclude and exclude in lowered)

        return accept

    def _rows_for(self, start: int, events: list[_Event]) -> list[_Row]:
        """Rows for `events`, the first of which has absolute index `start`."""
        accept = self._accepts()
        chosen = [(start + i, e[_MESSAGE]) for i, e in enumerate(events)
                  if accept is None or accept(e[_MESSAGE])]
        pretty, wrap = self.pretty_json, self.wrap
        if not pretty and not wrap:
            # The common case, one row per event, built by a comprehension (a burst is 100k).
            if not any("\n" in message for _, message in chosen):
                return [(index, message, True) for index, message in chosen]
            rows = []
            for index, message in chosen:
                if "\n" in message:
                    rows.extend((index, part, i == 0)
                                for i, part in enumerate(message.split("\n")))
                else:
                    rows.append((index, message, True))
            return rows
        # The scrollbar takes columns too: cut to what is drawn, or a character per row is lost.
        width = max(20, self.scrollable_content_region.width - self._prefix_width()) \
            if wrap else 0
        self.rebuilt_width = width  # what wrapped rows were cut to (0: not wrapped)
        rows = []
        for index, message in chosen:
            first = True
            for line in _pretty(message) if pretty else message.split("\n"):
                chunks = [line[i:i + width] for i in range(0, len(line), width)] \
                    if wrap and len(line) > width else [line]
                for chunk in chunks:
                    rows.append((index, chunk, first))
                    first = False
        return rows

    def rebuild(self) -> None:
        """Re-derive every row after a filter or display toggle."""
        keep_end = self.follow and self.is_vertical_scroll_end
        self._rows = self._rows_for(self._base + self._head, self._events[self._head:])
        self._row_head = 0
        self._width = max((len(r[_TEXT]) for r in self._rows), default=0)
        self._match_row = None
        self._update_virtual_size()
        if keep_end or self.follow:
            self._follow_end()
        self.refresh()

    def set_filters(self, *, include: str | None = None, exclude: str | None = None,
                    hide_ping: bool | None = None) -> None:
        if include is not None:
            self.include = include
        if exclude is not None:
            self.exclude = exclude
        if hide_ping is not None:
            self.hide_ping = hide_ping
        self.rebuild()

    def watch_wrap(self) -> None:
        if self.is_mounted:
            self.rebuild()

    def watch_pretty_json(self) -> None:
        if self.is_mounted:
            self.rebuild()

    def watch_show_timestamps(self) -> None:
        self._prefix_changed()

    def watch_show_stream(self) -> None:
        self._prefix_changed()

    def _prefix_changed(self) -> None:
        if self.wrap and self.is_mounted:
            self.rebuild()  # wrapped rows were cut for the old prefix's width
        else:
            self._update_virtual_size()
            self.refresh()

    def watch_follow(self, follow: bool) -> None:
        if follow and self.is_mounted:
            self._follow_end()

    # ---- following, and the reader scrolling away from the end stopping it ----------------

    def _follow_end(self) -> None:
        # After the next layout: until then the new height allows no scrolling. One request
        # per frame however many batches arrive before it.
        if not self._end_pending:
            self._end_pending = True
            self.call_after_refresh(self._scroll_to_end)

    def _scroll_to_end(self) -> None:
        self._end_pending = False
        if self.follow:
            self.scroll_end(animate=False, immediate=True, x_axis=False)

    def action_scroll_up(self) -> None:
        self.follow = False
        super().action_scroll_up()

    def action_page_up(self) -> None:
        self.follow = False
        super().action_page_up()

    def action_scroll_home(self) -> None:
        self.follow = False
        super().action_scroll_home()

    def action_scroll_end(self) -> None:
        self.follow = True
        super().action_scroll_end()

    def _on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self.follow = False
        super()._on_mouse_scroll_up(event)

    def on_resize(self) -> None:
        if self.wrap:
            self.rebuild()
        else:
            self._update_virtual_size()

    def _stream_column(self) -> int:
        # The stream column gives way on a narrow terminal: the message is what is read.
        return min(self._stream_width, max(STREAM_MIN, self.size.width // 8))

    def _prefix_width(self) -> int:
        width = 0
        if self.show_timestamps:
            width += len(self._time_format(0)) + 1
        if self.show_stream and self._stream_width:
            width += self._stream_column() + 1
        return width

    def has_match(self, term: str) -> bool:
        """Whether any shown row contains `term` (case-insensitive)."""
        pattern = re.compile(re.escape(term), re.IGNORECASE)
        return any(pattern.search(r[_TEXT]) for r in self._rows[self._row_head:])

    def _update_virtual_size(self) -> None:
        width = 0 if self.wrap else self._width + self._prefix_width()
        self.virtual_size = Size(width, self.row_count)

    # ---- search ---------------------------------------------------------------------------

    def search(self, term: str, *, forward: bool = True, from_current: bool = False) -> bool:
        """Find `term` (case-insensitive, plain text) and scroll to it; False when absent."""
        self._search = re.compile(re.escape(term), re.IGNORECASE) if term else None
        if self._search is None:
            self._match_row = None
            self.refresh()
            return True
        if from_current and self._match_row is not None:
            start = self._match_row
        else:
            start = self._row_head + (self.scroll_offset.y if forward else self.row_count - 1)
        return self._seek(start, forward, include_start=True)

    def next_match(self, forward: bool = True) -> bool:
        if self._search is None:
            return False
        start = self._match_row if self._match_row is not None else \
            self._row_head + self.scroll_offset.y
        return self._seek(start, forward, include_start=self._match_row is None)

    @property
    def match_line(self) -> int | None:
        """The current match's row, counted from the first row in the ring."""
        return None if self._match_row is None else self._match_row - self._row_head

    def _seek(self, start: int, forward: bool, *, include_start: bool) -> bool:
        pattern = self._search
        assert pattern is not None
        rows, head, end = self._rows, self._row_head, len(self._rows)
        if end == head:
            return False
        span = end - head
        start = min(max(start, head), end - 1)
        step = 1 if forward else -1
        first = 0 if include_start else 1
        for offset in range(first, span + first):
            index = head + (start - head + step * offset) % span
            if pattern.search(rows[index][_TEXT]):
                self._match_row = index
                self.follow = False
                line = index - head
                if not (self.scroll_offset.y <= line < self.scroll_offset.y + self.size.height):
                    self.scroll_to(y=max(0, line - self.size.height // 2), animate=False,
                                   immediate=True)
                self.refresh()
                return True
        # No row has it: the match of a shorter term typed before is not this term's.
        self._match_row = None
        self.refresh()
        return False

    # ---- output ---------------------------------------------------------------------------

    def plain_lines(self) -> list[str]:
        """What is shown, as text (for saving the buffer)."""
        return [self._plain(r) for r in self._rows[self._row_head:]]

    def _plain(self, row: _Row) -> str:
        index, text, first = row
        if not first:
            return " " * self._prefix_width() + text
        event = self._events[index - self._base]
        parts = []
        if self.show_timestamps:
            parts.append(self._time_format(event[_TS]))
        if self.show_stream and self._stream_width:
            parts.append(_stream_label(event[_STREAM], self._stream_column()))
        parts.append(text)
        return " ".join(parts)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        base = self.rich_style
        index = self._row_head + scroll_y + y
        if index >= len(self._rows):
            return Strip.blank(width, base)
        event_index, row_text, first = self._rows[index]
        timestamp, message, stream, _ = self._events[event_index - self._base]
        segments: list[Segment] = []
        if not first:
            prefix = self._prefix_width()
            if prefix:
                segments.append(Segment(" " * prefix, base))
        else:
            if self.show_timestamps:
                segments.append(Segment(self._time_format(timestamp) + " ",
                                        base + TIMESTAMP_STYLE))
            if self.show_stream and self._stream_width:
                name = _stream_label(stream, self._stream_column())
                segments.append(Segment(name + " ", base + STREAM_STYLE))
        level = level_of(message)
        style = base + LEVEL_STYLES.get(level, Style()) if level else base
        text = row_text.expandtabs()
        pattern = self._search
        if pattern is not None and (found := list(pattern.finditer(text))):
            hit = base + (CURRENT_MATCH_STYLE if index == self._match_row else MATCH_STYLE)
            at = 0
            for match in found:
                if match.start() > at:
                    segments.append(Segment(text[at:match.start()], style))
                segments.append(Segment(match.group(), hit))
                at = match.end()
            if at < len(text):
                segments.append(Segment(text[at:], style))
        else:
            segments.append(Segment(text, style))
        strip = Strip(segments)
        return strip.crop_extend(scroll_x, scroll_x + width, base)


STREAM_WIDTH = 28
STREAM_MIN = 8


def _stream_label(stream: str, width: int = STREAM_WIDTH) -> str:
    """`variant/instance`, or the instance id's end when both do not fit, padded to `width`."""
    if len(stream) > width:
        stream = stream.rsplit("/", 1)[-1][-width:]
    return stream.ljust(width)


def _local_time(timestamp_ms: int) -> str:
    seconds, ms = divmod(timestamp_ms, 1000)
    return time.strftime("%H:%M:%S", time.localtime(seconds)) + f".{ms:03d}"


def _pretty(message: str) -> list[str]:
    stripped = message.strip()
    if stripped[:1] in ("{", "["):
        try:
            return json.dumps(json.loads(stripped), indent=2).split("\n")
        except ValueError:
            pass
    return message.split("\n")
