"""The endpoints table: every endpoint, refreshed in the background, filtered and sorted."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer, Header, Input, Static
from textual.widgets.data_table import ColumnKey

from smconsole.models.endpoints import Endpoint
from smconsole.ui import formatting as fmt
from smconsole.ui.messages import EndpointsDescribed, EndpointsListed
from smconsole.ui.screens.base import EndpointActionsScreen

if TYPE_CHECKING:
    from smconsole.ui.protocols import ServicesApi
    from smconsole.ui.settings import ConsoleSettings

COLUMNS = (
    ("name", "Name"), ("status", "Status"), ("instance", "Instance type"),
    ("instances", "Cur/Des"), ("kind", "Kind"), ("created", "Created"),
    ("modified", "Last modified"),
)
SORT_KEYS = {
    "name": lambda e: e.name,
    "status": lambda e: (e.status, e.name),
    "instance": lambda e: (e.instance_type or "", e.name),
    "instances": lambda e: (e.current_instances or 0, e.desired_instances or 0, e.name),
    "kind": lambda e: (e.kind, e.name),
    "created": lambda e: (e.created.timestamp() if e.created else 0, e.name),
    "modified": lambda e: (e.last_modified.timestamp() if e.last_modified else 0, e.name),
}
STATUS_FILTERS = (None, "InService", "Creating", "Updating", "Failed", "Deleting", "OutOfService")
# Above this many row changes a rebuild beats row-by-row edits.
REBUILD_THRESHOLD = 200


class EndpointsScreen(EndpointActionsScreen):
    """All endpoints; Enter opens one, `l` its logs, `d` deletes it."""

    AREA = "endpoints"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Detail", id="endpoints.open"),
        Binding("l", "logs", "Logs", id="endpoints.logs"),
        Binding("r", "refresh", "Refresh", id="endpoints.refresh"),
        Binding("slash", "filter", "Filter", id="endpoints.filter"),
        Binding("f", "status_filter", "Status", id="endpoints.status_filter"),
        Binding("s", "sort", "Sort", id="endpoints.sort"),
        Binding("S", "reverse", "Reverse", id="endpoints.reverse", show=False),
        Binding("d", "delete", "Delete", id="endpoints.delete"),
        Binding("escape", "close_filter", "Close filter", show=False),
    ]
    MUTATING = frozenset({"delete"})

    def __init__(self, services: ServicesApi, settings: ConsoleSettings) -> None:
        super().__init__(id="endpoints-screen")
        self.services = services
        self.settings = settings
        self.endpoints: dict[str, Endpoint] = {}
        self.filter_text = ""
        self.status_filter: str | None = None
        self.sort_column = "name"
        self.sort_reverse = False
        self.loaded = False
        self._loading = False
        self._shown: dict[str, tuple[object, ...]] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="endpoints-filter-bar", classes="filter-bar"):
            yield Static("/", classes="prompt-label")
            yield Input(placeholder="filter by name", id="endpoints-filter")
        yield DataTable(id="endpoints-table", cursor_type="row", zebra_stripes=True)
        yield Static("loading endpoints…", id="endpoints-status", classes="status-line")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key, label in COLUMNS:
            table.add_column(label, key=key)
        self.query_one("#endpoints-filter-bar").display = False
        table.focus()
        self.load_endpoints()
        self.set_interval(self.settings.refresh_seconds, self._tick, name="endpoints-refresh")
        self.set_interval(1.0, self._tick_elapsed, name="endpoints-elapsed")

    # ---- loading --------------------------------------------------------------------------

    def _tick(self) -> None:
        # Skip when hidden or when the previous refresh is still running: never overlap.
        if self.is_current and not self._loading:
            self.load_endpoints()

    @work(thread=True, exclusive=True, exit_on_error=False, group="endpoints")
    def load_endpoints(self) -> None:
        self._loading = True
        try:
            api = self.services.endpoints
            listed: list[Endpoint] = []
            progressive = not self.loaded  # the first load fills the table page by page
            for page in api.iter_pages():
                listed += page
                if progressive:
                    self.post_message(EndpointsListed(page, complete=False))
            shown = threading.Event()
            self.post_message(EndpointsListed(listed, shown))
            # Describing competes with the first render for the GIL: let the table land first.
            shown.wait(timeout=2.0)
            stale = api.stale(listed)
            chunk = max(1, self.settings.describe_chunk)
            for start in range(0, len(stale), chunk):
                self.post_message(EndpointsDescribed(api.describe_many(stale[start:start + chunk])))
        finally:
            self._loading = False

    @on(EndpointsListed)
    def listed(self, message: EndpointsListed) -> None:
        if not message.complete:
            added = {e.name: e for e in message.endpoints if e.name not in self.endpoints}
            self.endpoints.update(added)
            self._sync(set(added))
            return
        fresh: dict[str, Endpoint] = {}
        for endpoint in message.endpoints:
            known = self.endpoints.get(endpoint.name)
            # A listing without describe fields keeps the last describe until a new one lands.
            if not endpoint.described and known is not None and known.described \
                    and known.last_modified == endpoint.last_modified:
                endpoint = endpoint.merged(known)
            fresh[endpoint.name] = endpoint
        changed = {name for name, e in fresh.items() if self.endpoints.get(name) != e}
        self.endpoints = fresh
        self.loaded = True
        self._sync(changed)
        if message.shown is not None:
            # Set after this refresh is painted, so the describes start once the table shows.
            self.call_after_refresh(message.shown.set)

    @on(EndpointsDescribed)
    def described(self, message: EndpointsDescribed) -> None:
        changed = set()
        for endpoint in message.endpoints:
            known = self.endpoints.get(endpoint.name)
            if known is not None:
                self.endpoints[endpoint.name] = known.merged(endpoint) \
                    if endpoint.status == known.status else endpoint
                changed.add(endpoint.name)
        self._sync(changed)

    # ---- the table ------------------------------------------------------------------------

    def visible(self) -> list[Endpoint]:
        text = self.filter_text.lower()
        rows = [
            e for e in self.endpoints.values()
            if (not text or text in e.name.lower())
            and (self.status_filter is None or e.status == self.status_filter)
        ]
        rows.sort(key=SORT_KEYS[self.sort_column], reverse=self.sort_reverse)
        return rows

    def _cells(self, endpoint: Endpoint) -> tuple[object, ...]:
        # Text, not str: DataTable would parse every str cell as markup when measuring widths.
        now = self.settings.clock()
        return (
            Text(endpoint.name), fmt.status_text(endpoint, now),
            Text(endpoint.instance_type or ""),
            Text(f"{fmt.count(endpoint.current_instances)}/"
                 f"{fmt.count(endpoint.desired_instances)}"),
            Text(endpoint.kind), Text(fmt.when(endpoint.created)),
            Text(fmt.when(endpoint.last_modified)),
        )

    def _sync(self, changed: set[str] | None = None) -> None:
        """Make the table show `visible()` in order, editing rows by key so the cursor stays.

        `changed` names the only endpoints whose cells may differ (None: any of them).
        """
        table = self.query_one(DataTable)
        wanted = self.visible()
        cursor = self.selected_name()
        wanted_names = [e.name for e in wanted]
        wanted_set = set(wanted_names)
        gone = [name for name in self._shown if name not in wanted_set]
        added = [e for e in wanted if e.name not in self._shown]
        if len(gone) + len(added) > REBUILD_THRESHOLD or not self._shown:
            table.clear()
            self._shown = {e.name: self._cells(e) for e in wanted}
            if wanted:
                _add_rows(table, [(e.name, self._shown[e.name]) for e in wanted])
        else:
            for name in gone:
                table.remove_row(name)
                del self._shown[name]
            for endpoint in wanted:
                before = self._shown.get(endpoint.name)
                if before is None or (changed is not None and endpoint.name not in changed):
                    continue
                cells = self._cells(endpoint)
                if before != cells:
                    for (key, _), old, new in zip(COLUMNS, before, cells, strict=True):
                        if old != new:
                            _set_cell(table, endpoint.name, key, new)
                    self._shown[endpoint.name] = cells
            if added:
                _add_rows(table, [(e.name, self._cells(e)) for e in added])
                for e in added:
                    self._shown[e.name] = self._cells(e)
            order = {name: i for i, name in enumerate(wanted_names)}
            if [str(r.key.value) for r in table.ordered_rows] != wanted_names:
                table.sort("name", key=lambda name: order[str(name)])  # cells are Text
        if cursor is not None and cursor in self._shown:
            table.move_cursor(row=table.get_row_index(cursor), animate=False)
        self._update_status()

    def _update_status(self) -> None:
        total = len(self.endpoints)
        shown = len(self._shown)
        noun = "endpoint" if total == 1 else "endpoints"
        parts = [f"{shown} of {total} {noun}" if shown != total else f"{total} {noun}"]
        if self.filter_text:
            parts.append(f"filter: {self.filter_text!r}")
        if self.status_filter:
            parts.append(f"status: {self.status_filter}")
        parts.append(f"sort: {self.sort_column} {'↓' if self.sort_reverse else '↑'}")
        pending = sum(1 for e in self.endpoints.values() if not e.described)
        if pending:
            parts.append(f"describing {pending}…")
        if self.settings.read_only:
            parts.append("read-only")
        self.query_one("#endpoints-status", Static).update(" · ".join(parts))

    def _tick_elapsed(self) -> None:
        if not self.is_current:
            return
        table = self.query_one(DataTable)
        now = self.settings.clock()
        for name in self._shown:
            endpoint = self.endpoints.get(name)
            if endpoint is not None and endpoint.is_transitional:
                _set_cell(table, name, "status", fmt.status_text(endpoint, now))

    def selected_name(self) -> str | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        except Exception:  # noqa: BLE001 - an empty or shrinking table has no cursor row
            return None
        return str(key.value) if key.value is not None else None

    # ---- actions --------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.MUTATING and self.settings.read_only:
            return None
        if action == "close_filter":
            return bool(self.query_one("#endpoints-filter-bar").display)
        return True

    @on(DataTable.RowSelected, "#endpoints-table")
    def row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def action_open(self) -> None:
        name = self.selected_name()
        if name:
            self.app.open_detail(name)  # type: ignore[attr-defined]

    def action_logs(self) -> None:
        name = self.selected_name()
        if name:
            self.app.open_logs(name)  # type: ignore[attr-defined]

    def action_refresh(self) -> None:
        self.load_endpoints()

    def action_filter(self) -> None:
        bar = self.query_one("#endpoints-filter-bar")
        bar.display = True
        self.query_one("#endpoints-filter", Input).focus()

    def action_close_filter(self) -> None:
        box = self.query_one("#endpoints-filter", Input)
        box.value = ""
        self.query_one("#endpoints-filter-bar").display = False
        self.query_one(DataTable).focus()

    @on(Input.Changed, "#endpoints-filter")
    def filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        self._sync()

    @on(Input.Submitted, "#endpoints-filter")
    def filter_submitted(self) -> None:
        self.query_one(DataTable).focus()

    def action_status_filter(self) -> None:
        index = STATUS_FILTERS.index(self.status_filter)
        self.status_filter = STATUS_FILTERS[(index + 1) % len(STATUS_FILTERS)]
        self._sync()

    def action_sort(self) -> None:
        keys = [key for key, _ in COLUMNS]
        self.sort_column = keys[(keys.index(self.sort_column) + 1) % len(keys)]
        self._sync()

    def action_reverse(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self._sync()

    @on(DataTable.HeaderSelected, "#endpoints-table")
    def header_selected(self, event: DataTable.HeaderSelected) -> None:
        key = str(event.column_key.value)
        if key == self.sort_column:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_column, self.sort_reverse = key, False
        self._sync()

    def action_delete(self) -> None:
        name = self.selected_name()
        if name:
            self.confirm_delete(name)

    def after_delete(self) -> None:
        self.load_endpoints()


def _set_cell(table: DataTable[object], row: str, column: str, value: Text) -> None:
    # Ask for a width update only when widening: for a narrower cell DataTable re-measures
    # the whole column, per cell, which is quadratic over a 1,000-row refresh.
    wider = cell_len(value.plain) > table.columns[ColumnKey(column)].content_width
    table.update_cell(row, column, value, update_width=wider)


def _add_rows(table: DataTable[object], rows: list[tuple[str, tuple[object, ...]]]) -> None:
    # One add_row per row is what DataTable offers with keys; it only marks dimensions dirty,
    # so the cost is one layout for the whole batch.
    for key, cells in rows:
        table.add_row(*cells, key=key)

