"""A table whose rows are named by key: `show` diffs what is wanted against what is shown,
editing only the cells that changed, so the cursor, scroll and order survive a refresh."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

Cells = tuple[Text, ...]
# Above this many rows added or gone a rebuild beats row-by-row edits.
REBUILD_THRESHOLD = 200


class RowTable(DataTable[Any]):
    """A DataTable of rows whose Home/End move the cursor to the first/last row."""

    BINDINGS: ClassVar[list[BindingType]] = [
        # DataTable's Home/End scroll sideways in row mode; a list's cursor should follow.
        Binding("home", "scroll_top", "First row", show=False),
        Binding("end", "scroll_bottom", "Last row", show=False),
    ]


class KeyedTable(RowTable):
    """Rows named by key, cells as Text (a str cell would be parsed as markup)."""

    def __init__(self, columns: Sequence[tuple[str, str]], *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.column_spec = tuple(columns)
        self.shown: dict[str, Cells] = {}

    def on_mount(self) -> None:
        for key, label in self.column_spec:
            self.add_column(label, key=key)

    def relabel(self, key: str, label: str) -> None:
        """Give column `key` a new header now (DataTable keeps the old one painted until
        something else clears its render caches)."""
        column = self.columns[ColumnKey(key)]
        if column.label.plain == label:
            return
        column.label = Text(label)
        self._clear_caches()  # DataTable has no public way to rename a column
        self.refresh()

    @property
    def selected_key(self) -> str | None:
        if self.row_count == 0:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except Exception:  # noqa: BLE001 - an empty or shrinking table has no cursor row
            return None
        return None if key.value is None else str(key.value)

    def show(self, keys: list[str], cells: Callable[[str], Cells],
             changed: set[str] | None = None) -> None:
        """Show rows `keys` in that order; `changed` names the only rows whose cells may
        differ from what is shown (None: any of them)."""
        cursor = self.selected_key
        wanted = set(keys)
        gone = [key for key in self.shown if key not in wanted]
        added = [key for key in keys if key not in self.shown]
        if not self.shown or len(gone) + len(added) > REBUILD_THRESHOLD:
            self.clear()
            self.shown = {key: cells(key) for key in keys}
            for key in keys:
                self.add_row(*self.shown[key], key=key)
        else:
            for key in gone:
                self.remove_row(key)
                del self.shown[key]
            for key in keys:
                before = self.shown.get(key)
                if before is None or (changed is not None and key not in changed):
                    continue
                self.set_cells(key, cells(key))
            for key in added:
                self.shown[key] = cells(key)
                self.add_row(*self.shown[key], key=key)
            if [str(r.key.value) for r in self.ordered_rows] != keys:
                first = self.column_spec[0][0]
                order = {id(self.get_cell(key, first)): i for i, key in enumerate(keys)}
                self.sort(first, key=lambda cell: order[id(cell)])
        if cursor is not None and cursor in self.shown:
            self.move_cursor(row=self.get_row_index(cursor), animate=False)

    def set_cells(self, key: str, new: Cells) -> None:
        """Edit the cells of row `key` that differ from what it shows."""
        before = self.shown.get(key)
        if before is None or before == new:
            return
        for (column, _), old, value in zip(self.column_spec, before, new, strict=True):
            if old != value:
                # Ask for a width update only when widening: for a narrower cell DataTable
                # re-measures the whole column, per cell, quadratic over a large refresh.
                wider = cell_len(value.plain) > self.columns[ColumnKey(column)].content_width
                self.update_cell(key, column, value, update_width=wider)
        self.shown[key] = new
