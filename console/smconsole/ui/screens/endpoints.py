"""The endpoints table: every endpoint, refreshed in the background, filtered and sorted."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Footer, Header, Input, Static

from smconsole.models.cost import Price
from smconsole.models.endpoints import Endpoint
from smconsole.ui import formatting as fmt
from smconsole.ui.screens.base import EndpointActionsScreen
from smconsole.ui.widgets.keyed_table import Cells, KeyedTable

if TYPE_CHECKING:
    from smconsole.ui.protocols import ServicesApi
    from smconsole.ui.settings import ConsoleSettings

COLUMNS = (
    ("name", "Name"), ("status", "Status"), ("health", "H"), ("instance", "Instance type"),
    ("instances", "Cur/Des"), ("rate", "$/h"), ("kind", "Kind"), ("created", "Created"),
    ("modified", "Last modified"),
)
SORT_KEYS = {
    "name": lambda e: e.name,
    "status": lambda e: (e.status, e.name),
    "instance": lambda e: (e.instance_type or "", e.name),
    "health": lambda e: e.name,  # replaced per screen: the marks live on the screen
    "instances": lambda e: (e.current_instances or 0, e.desired_instances or 0, e.name),
    "rate": lambda e: e.name,  # by price: the screen's own key (it knows the prices)
    "kind": lambda e: (e.kind, e.name),
    "created": lambda e: (e.created.timestamp() if e.created else 0, e.name),
    "modified": lambda e: (e.last_modified.timestamp() if e.last_modified else 0, e.name),
}
STATUS_FILTERS = (None, "InService", "Creating", "Updating", "Failed", "Deleting", "OutOfService")
# Instance counts move (autoscaling) without LastModifiedTime moving: describes older than
# this are redone, a few per refresh, so the counts converge without a call per endpoint.
DESCRIBE_MAX_AGE_S = 60.0
REDESCRIBE_PER_REFRESH = 20
# The health mark is the doctor's quick (control-plane) check, redone when an endpoint changes;
# a few per refresh so a thousand endpoints cost no burst of calls.
HEALTH_PER_REFRESH = 10
MARK_STYLE = {"✖": "bold red", "!": "yellow", "·": "dim", "✓": "green", "?": "magenta"}
MARK_ORDER = {"✖": 0, "!": 1, "?": 2, "·": 3, "✓": 4, "": 5}


class EndpointsScreen(EndpointActionsScreen):
    """All endpoints; Enter (or `d`, describe) opens one, `l` its logs, Ctrl+D deletes it."""

    AREA = "endpoints"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Detail", id="endpoints.open"),
        Binding("d", "open", "Describe", id="endpoints.describe"),
        Binding("l", "logs", "Logs", id="endpoints.logs"),
        Binding("h", "doctor", "Doctor", id="endpoints.doctor", show=False),
        Binding("r", "refresh", "Refresh", id="endpoints.refresh"),
        Binding("slash", "filter", "Filter", id="endpoints.filter"),
        Binding("f", "status_filter", "Status filter", id="endpoints.status_filter",
                show=False),
        Binding("s", "sort", "Sort", id="endpoints.sort", show=False),
        Binding("S", "reverse", "Reverse", id="endpoints.reverse", show=False),
        Binding("ctrl+d", "delete", "Delete", id="endpoints.delete"),
        Binding("dollar_sign", "cost", "Cost", id="endpoints.cost", show=False),
        Binding("escape", "close_filter", "Close filter", show=False),
    ]
    MUTATING = frozenset({"delete"})

    @dataclass
    class Listed(Message):
        """A listing arrived: one page of the first load, or (`complete`) every page, and
        rows not in a complete listing are gone. `shown`, when given, is set once the table
        shows it."""

        endpoints: list[Endpoint]
        shown: threading.Event | None = None
        complete: bool = True

    @dataclass
    class Described(Message):
        """Some endpoints now carry instance type, counts and kind."""

        endpoints: list[Endpoint]

    @dataclass
    class Refreshed(Message):
        at: float

    @dataclass
    class Priced(Message):
        """Hosting prices for instance types (from the price book; None: price unknown)."""

        prices: dict[str, Price]

    @dataclass
    class HealthChecked(Message):
        """The doctor's quick check of one endpoint, as of its LastModifiedTime."""

        name: str
        modified: object
        mark: str
        summary: str

    def __init__(self, services: ServicesApi, settings: ConsoleSettings) -> None:
        super().__init__(services, settings, id="endpoints-screen")
        self.endpoints: dict[str, Endpoint] = {}
        self.filter_text = ""
        self.status_filter: str | None = None
        self.sort_column = "name"
        self.sort_reverse = False
        self.loaded = False
        self.refreshed_at: float | None = None
        self._loading = False
        self.prices: dict[str, Price] = {}
        self._described_at: dict[str, float] = {}
        self.health: dict[str, tuple[object, str, str]] = {}  # name -> (modified, mark, why)
        self._checking_health = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="endpoints-filter-bar", classes="filter-bar"):
            yield Static("/", classes="prompt-label")
            yield Input(placeholder="filter by name", id="endpoints-filter")
        yield KeyedTable(COLUMNS, id="endpoints-table")
        yield Static("loading endpoints…", id="endpoints-status", classes="status-line")
        yield Footer(show_command_palette=False)

    @property
    def table(self) -> KeyedTable:
        return self.query_one(KeyedTable)

    def on_mount(self) -> None:
        self.query_one("#endpoints-filter-bar").display = False
        self.table.focus()
        self.load_endpoints()
        self.set_interval(self.settings.refresh_seconds, self._tick, name="endpoints-refresh")
        self.set_interval(1.0, self._tick_elapsed, name="endpoints-elapsed")

    # ---- loading --------------------------------------------------------------------------

    def _tick(self) -> None:
        # Skip when hidden or when the previous refresh is still running: never overlap.
        if self.is_current and not self._loading:
            self.load_endpoints()

    def _old_describes(self, listed: list[Endpoint], *, every: bool) -> list[str]:
        if every:
            return [e.name for e in listed]
        limit = self.settings.clock() - DESCRIBE_MAX_AGE_S
        old = sorted((self._described_at.get(e.name, 0.0), e.name) for e in listed)
        return [name for when, name in old if when < limit][:REDESCRIBE_PER_REFRESH]

    @work(thread=True, exclusive=True, exit_on_error=False, group="endpoints")
    def load_endpoints(self, *, every: bool = False) -> None:
        """List, then describe what is new or changed; `every`: describe every endpoint."""
        self._loading = True
        try:
            api = self.services.endpoints
            listed: list[Endpoint] = []
            progressive = not self.loaded  # the first load fills the table page by page
            for page in api.iter_pages():
                listed += page
                if progressive:
                    self.post_message(self.Listed(page, complete=False))
            shown = threading.Event()
            self.post_message(self.Listed(listed, shown))
            # Describing competes with the first render for the GIL: let the table land first.
            shown.wait(timeout=2.0)
            stale = api.stale(listed)
            again = [n for n in self._old_describes(listed, every=every) if n not in stale]
            names = stale + again
            chunk = max(1, self.settings.describe_chunk)
            priced = set(self.prices)
            priced |= self._price({e.instance_type for e in listed if e.instance_type} - priced)
            for start in range(0, len(names), chunk):
                described = api.describe_many(names[start:start + chunk])
                # Prices first: a row is complete (type, counts, $/h) once its describe lands.
                priced |= self._price({e.instance_type for e in described
                                       if e.instance_type} - priced)
                self.post_message(self.Described(described))
            self.post_message(self.Refreshed(self.settings.clock()))
        finally:
            self._loading = False

    def _price(self, types: set[str]) -> set[str]:
        """Look up prices not seen yet (worker thread: on AWS the first lookup may refresh the
        price book from the Pricing API); the types looked up."""
        cost = getattr(self.services, "cost", None)
        if not types or cost is None:
            return set()
        self.post_message(self.Priced({t: cost.price(t) for t in sorted(types)}))
        return types

    @on(Priced)
    def priced(self, message: Priced) -> None:
        self.prices.update(message.prices)
        self._sync({e.name for e in self.endpoints.values()
                    if e.instance_type in message.prices})

    def rate(self, endpoint: Endpoint) -> float | None:
        """$/h now: current instances x the type's price (None: unknown or not described)."""
        price = self.prices.get(endpoint.instance_type or "")
        if price is None or price.usd_per_hour is None or endpoint.current_instances is None:
            return None
        return endpoint.current_instances * price.usd_per_hour

    def _rate_cell(self, endpoint: Endpoint) -> Text:
        price = self.prices.get(endpoint.instance_type or "")
        if price is None:
            return Text("")
        value = self.rate(endpoint)
        return Text("?", style="dim") if value is None else Text(f"{value:,.3f}")

    @on(Listed)
    def listed(self, message: Listed) -> None:
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

    @on(Described)
    def described(self, message: Described) -> None:
        self.absorb(message.endpoints)

    def absorb(self, endpoints: list[Endpoint]) -> None:
        """Fresh describes (from this screen's refresh, or a detail view's) into the table."""
        changed = set()
        now = self.settings.clock()
        for endpoint in endpoints:
            known = self.endpoints.get(endpoint.name)
            if known is not None:
                self.endpoints[endpoint.name] = known.merged(endpoint) \
                    if endpoint.status == known.status else endpoint
                self._described_at[endpoint.name] = now
                changed.add(endpoint.name)
        if changed and self.is_mounted:
            self._sync(changed)

    @on(Refreshed)
    def refreshed(self, message: Refreshed) -> None:
        # The load is over once this arrives; the worker's own reset can land after this
        # handler ran, which left "refreshing…" on the status line until the next event.
        self._loading = False
        self.refreshed_at = message.at
        self._update_status()
        # getattr: bundles built before the doctor existed (older fakes) simply show no marks.
        doctor = getattr(self.services, "doctor", None)
        if doctor is not None and not self._checking_health:
            due = [e for e in self.endpoints.values() if e.is_async
                   and self.health.get(e.name, (None,))[0] != e.last_modified]
            if due:
                self._checking_health = True
                self.check_health([(e.name, e.last_modified) for e in due[:HEALTH_PER_REFRESH]])

    @work(thread=True, exclusive=True, exit_on_error=False, group="endpoints-health")
    def check_health(self, due: list[tuple[str, object]]) -> None:
        from smconsole.errors import SmconsoleError

        doctor = self.services.doctor
        try:
            for name, modified in due:
                try:
                    health = doctor.check(name, quick=True)  # type: ignore[union-attr]
                except SmconsoleError as exc:
                    self.post_message(self.HealthChecked(name, modified, "?", str(exc)))
                    continue
                worst = [f.title for f in health.findings if f.severity == health.worst]
                summary = f"{len(health.findings)} finding(s): {worst[0]}" if worst else "clean"
                self.post_message(self.HealthChecked(name, modified, health.mark, summary))
        finally:
            self._checking_health = False

    @on(HealthChecked)
    def health_checked(self, message: HealthChecked) -> None:
        self.health[message.name] = (message.modified, message.mark, message.summary)
        if message.name in self.endpoints and self.is_mounted:
            self._sync({message.name})

    # ---- the table ------------------------------------------------------------------------

    def visible(self) -> list[Endpoint]:
        text = self.filter_text.lower()
        rows = [
            e for e in self.endpoints.values()
            if (not text or text in e.name.lower())
            and (self.status_filter is None or e.status == self.status_filter)
        ]
        if self.sort_column == "rate":
            rows.sort(key=lambda e: (self.rate(e) or -1.0, e.name), reverse=self.sort_reverse)
        elif self.sort_column == "health":
            rows.sort(key=lambda e: (MARK_ORDER.get(self._mark(e.name), 5), e.name),
                      reverse=self.sort_reverse)
        else:
            rows.sort(key=SORT_KEYS[self.sort_column], reverse=self.sort_reverse)
        return rows

    def _cells(self, name: str) -> Cells:
        endpoint = self.endpoints[name]
        now = self.settings.clock()
        mark = self._mark(name)
        return (
            Text(endpoint.name), fmt.status_text(endpoint, now),
            Text(mark, style=MARK_STYLE.get(mark, "")),
            Text(endpoint.instance_type or ""),
            Text(f"{fmt.count(endpoint.current_instances)}/"
                 f"{fmt.count(endpoint.desired_instances)}"),
            self._rate_cell(endpoint), Text(endpoint.kind), Text(fmt.when(endpoint.created)),
            Text(fmt.when(endpoint.last_modified)),
        )

    def _mark(self, name: str) -> str:
        """✖ ! · ✓ from the doctor's quick check ('' until checked, and for real-time)."""
        found = self.health.get(name)
        return found[1] if found else ""

    def _sync(self, changed: set[str] | None = None) -> None:
        """Show `visible()` in order; `changed` names the only rows that may differ."""
        self.table.show([e.name for e in self.visible()], self._cells, changed)
        self._update_status()

    def _update_status(self) -> None:
        total = len(self.endpoints)
        shown = len(self.table.shown)
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
        if self._loading:
            parts.append("refreshing…")
        elif self.refreshed_at is not None:
            parts.append(f"refreshed {fmt.clock_time(self.refreshed_at)}")
        if self.read_only:
            parts.append("read-only")
        self.query_one("#endpoints-status", Static).update(Text(" · ".join(parts)))

    def _tick_elapsed(self) -> None:
        if not self.is_current:
            return
        now = self.settings.clock()
        table = self.table
        for name, cells in list(table.shown.items()):
            endpoint = self.endpoints.get(name)
            if endpoint is not None and endpoint.is_transitional:
                table.set_cells(name, (cells[0], fmt.status_text(endpoint, now), *cells[2:]))

    def selected_name(self) -> str | None:
        return self.table.selected_key

    # ---- actions --------------------------------------------------------------------------

    def action_state(self, action: str) -> bool | None:
        if action == "close_filter":
            return bool(self.query_one("#endpoints-filter-bar").display)
        return True

    @on(KeyedTable.RowSelected, "#endpoints-table")
    def row_selected(self, event: KeyedTable.RowSelected) -> None:
        self.action_open()

    def action_open(self) -> None:
        name = self.selected_name()
        if name:
            self.app.open_detail(name)  # type: ignore[attr-defined]

    def action_cost(self) -> None:
        self.app.jump(":cost")  # type: ignore[attr-defined]

    def action_logs(self) -> None:
        name = self.selected_name()
        if name:
            self.app.open_logs(name)  # type: ignore[attr-defined]

    def action_doctor(self) -> None:
        """The selected endpoint's findings (the H column is their quick summary)."""
        name = self.selected_name()
        if name:
            self.app.jump(f":doctor {name}")  # type: ignore[attr-defined]

    def action_refresh(self) -> None:
        self._loading = True  # shown at once; the worker clears it
        self._update_status()
        self.notify(f"refreshing {len(self.endpoints)} endpoint(s)…", timeout=2)
        self.load_endpoints(every=True)

    def action_filter(self) -> None:
        bar = self.query_one("#endpoints-filter-bar")
        bar.display = True
        self.query_one("#endpoints-filter", Input).focus()
        self.refresh_bindings()

    def action_close_filter(self) -> None:
        box = self.query_one("#endpoints-filter", Input)
        box.value = ""
        self.query_one("#endpoints-filter-bar").display = False
        self.table.focus()
        self.refresh_bindings()

    @on(Input.Changed, "#endpoints-filter")
    def filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        self._sync()

    @on(Input.Submitted, "#endpoints-filter")
    def filter_submitted(self) -> None:
        self.table.focus()

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

    @on(KeyedTable.HeaderSelected, "#endpoints-table")
    def header_selected(self, event: KeyedTable.HeaderSelected) -> None:
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

    def after_delete(self, name: str) -> None:
        self.load_endpoints()
