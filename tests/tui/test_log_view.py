"""The log view's ring: eviction, compaction, filters and search stay consistent."""

from __future__ import annotations

from smconsole.models.logs import LogEvent
from smconsole.ui.widgets.log_view import LogView
from textual.app import App, ComposeResult


class Host(App[None]):
    def compose(self) -> ComposeResult:
        yield LogView(max_lines=1_000, id="log-view")


def _events(start: int, count: int) -> list[LogEvent]:
    return [LogEvent(1_800_000_000_000 + i, f"{'ERROR' if i % 10 == 0 else 'INFO'} line {i}",
                     "AllTraffic/i-1", str(i)) for i in range(start, start + count)]


async def test_ring_keeps_the_newest_and_counts_the_dropped() -> None:
    app = Host()
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.query_one(LogView)
        for start in range(0, 4_900, 700):  # crosses the compaction point several times
            view.append(_events(start, 700))
        await pilot.pause()
        assert view.event_count == 1_000 and view.row_count == 1_000
        assert view.dropped == 4_900 - 1_000
        assert view.events()[0].message.endswith("line 3900")
        assert view.plain_lines()[-1].endswith("line 4899")
        assert view.is_vertical_scroll_end

        view.set_filters(include="error")
        assert view.row_count == 100
        view.append(_events(4_900, 10))  # one more ERROR line, 9 INFO lines; 10 evicted
        assert view.row_count == 100  # lines 3900 (ERROR) gone, 4900 (ERROR) in
        assert view.dropped == 3_910

        view.set_filters(include="")
        assert view.search("line 4905") and view.match_line == 999 - 4
        assert view.next_match() and view.match_line == 999 - 4  # the only match: wraps to it
        assert not view.search("line 12")  # evicted long ago
        view.search("")
        assert view.match_line is None


async def test_multiline_and_json_rows() -> None:
    app = Host()
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.query_one(LogView)
        view.append([LogEvent(1, "Traceback (most recent call last):\n  boom", "s", "a"),
                     LogEvent(2, '{"level": "warning", "n": 1}', "s", "b")])
        await pilot.pause()
        assert view.row_count == 3
        view.pretty_json = True
        await pilot.pause()
        assert view.row_count == 2 + 4
        assert view.plain_lines()[3].strip() == '"level": "warning",'
        assert view.events()[1].level == "WARNING" and view.events()[0].level is None




async def test_the_ring_is_invisible_to_the_cyclic_gc() -> None:
    # A full (generation 2) collection walks every tracked object while holding the GIL; a
    # ring of LogEvent objects (and rows pointing at them) made 100k lines cost 100+ ms per
    # collection in the middle of a burst.
    import gc

    app = Host()
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.query_one(LogView)
        view.append(_events(0, 600))
        view.set_filters(include="line")  # rows rebuilt from the ring
        view.append(_events(600, 600))  # and the ring wrapped
        await pilot.pause()
        gc.collect()
        ring = view._events[view._head:] + view._rows[view._row_head:]
        assert len(ring) == 2_000
        assert not any(gc.is_tracked(item) for item in ring)
        assert view.events()[-1] == _events(1_199, 1)[0]
