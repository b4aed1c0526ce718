"""`:cost [NAME]`: what each endpoint costs, instances over time, and the scale-to-zero replay."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Static
from textual.widgets.data_table import ColumnKey

from smconsole.models.cost import EndpointCost, PolicyProposal, Simulation
from smconsole.models.scaling import ScalingPlan, ScalingResult
from smconsole.ui import formatting as fmt
from smconsole.ui.markup import escape
from smconsole.ui.screens.base import ConsoleScreen
from smconsole.ui.screens.modals import ConfirmChangesScreen
from smconsole.ui.widgets.keyed_table import Cells, KeyedTable

if TYPE_CHECKING:
    from smconsole.ui.protocols import CostApi, ServicesApi
    from smconsole.ui.settings import ConsoleSettings

WINDOWS = (timedelta(days=7), timedelta(days=1))
COLUMNS = (
    ("name", "Name"), ("flag", ""), ("n", "N"), ("rate", "$/h"), ("day", "24h $"),
    ("window", "7d $"), ("requests", "Requests"), ("per1k", "$/1k"), ("idle", "Idle $"),
    ("instance", "Instance"),
)
PLOT_HEIGHT = 4
AXIS_WIDTH = 5  # four characters of scale and the axis line
BLOCKS = " ▁▂▃▄▅▆▇█"
SIM_ROWS = (("policy", "policy"), ("hours", "instance-h"), ("usd", "$"), ("saved", "saved $"),
            ("cold", "cold starts"), ("delayed", "delayed"), ("p50", "wait p50"),
            ("p99", "wait p99"))


class CostScreen(ConsoleScreen):
    """Every endpoint's cost (or one's); `s` replays its backlog through scale-to-zero policies."""

    AREA = "cost"
    CSS_PATH = "cost.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "refresh", "Refresh", id="cost.refresh"),
        Binding("w", "window", "24h/7d", id="cost.window"),
        Binding("s", "simulate", "Simulate", id="cost.simulate"),
        Binding("a", "apply", "Apply proposal", id="cost.apply"),
        Binding("enter", "open", "Detail", id="cost.open", show=False),
        Binding("escape", "close_replay", "Close replay", id="cost.close_replay", show=False),
    ]
    MUTATING = frozenset({"apply"})
    AUTO_FOCUS = "#cost-table"

    @dataclass
    class CostsLoaded(Message):
        costs: list[EndpointCost]

    @dataclass
    class Simulated(Message):
        simulation: Simulation

    @dataclass
    class Planned(Message):
        plan: ScalingPlan
        proposal: PolicyProposal

    @dataclass
    class Applied(Message):
        result: ScalingResult

    def __init__(self, services: ServicesApi, settings: ConsoleSettings,
                 name: str | None = None) -> None:
        super().__init__(services, settings)
        self.endpoint_name = name  # None: every endpoint
        self.window = WINDOWS[0]
        self.costs: dict[str, EndpointCost] = {}
        self.simulation: Simulation | None = None
        self.plotted: list[float] = []  # the plot's values, one per column

    @property
    def api(self) -> CostApi | None:
        return getattr(self.services, "cost", None)

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Cost: loading…", id="cost-title")
        yield KeyedTable(COLUMNS, id="cost-table")
        with Horizontal(id="cost-bottom"):
            with Vertical(id="cost-plot-box", classes="cost-box"):
                yield Static("Instances", id="cost-plot-title")
                yield Static("", id="cost-plot")
                yield Static("", id="cost-axis")
            yield Static("", id="cost-summary", classes="cost-box")
        yield DataTable(id="cost-sim", cursor_type="column", show_cursor=True)
        yield Static("", id="cost-status", classes="status-line")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#cost-sim").display = False
        if self.api is None:
            self._status("cost is not available in this console")
            return
        self.load_costs()

    # ---- loading ----------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="cost")
    def load_costs(self) -> None:
        api = self.api
        assert api is not None
        if self.endpoint_name:
            costs = [api.endpoint_cost(self.endpoint_name, since=self.window)]
        else:
            costs = api.all_costs(since=self.window)
        self.post_message(self.CostsLoaded(costs))

    @on(CostsLoaded)
    def costs_loaded(self, message: CostsLoaded) -> None:
        first = not self.costs
        self.costs = {c.name: c for c in message.costs}
        table = self.query_one("#cost-table", KeyedTable)
        label = _label(self.window)
        shorter = message.costs[0].windows[0].label if message.costs else "24h"
        table.relabel("day", f"{shorter} $")
        table.relabel("window", f"{label} $")
        rows = {c.name: cost_row(c) for c in message.costs}
        # Widths from the content, all rows at once (DataTable's own auto width left the
        # header and some rows painted at the labels' widths here).
        for index, (key, _) in enumerate(COLUMNS):
            col = table.columns[ColumnKey(key)]
            col.auto_width = False
            col.width = max([col.label.cell_len] + [r[index].cell_len for r in rows.values()])
        table.show(list(rows), rows.__getitem__)
        table.refresh(layout=True)
        stranded = sum(c.stranded for c in message.costs)
        total = sum(c.usd_per_hour_now or 0 for c in message.costs)
        unknown = sum(c.usd_per_hour_now is None and c.instances_now > 0 for c in message.costs)
        title = (f"Cost · last {label} · {len(message.costs)} endpoint(s) · "
                 f"${total:,.3f}/h now" + (f" · {unknown} price unknown" if unknown else ""))
        if stranded:
            title += f" · [b red]{stranded} stranded[/]"
        self.query_one("#cost-title", Static).update(title)
        self._show_selected()
        if not message.costs:
            self._status("no endpoints")
        elif first:
            self._status("r refresh · w 24h/7d · s replay the backlog through scale to zero")

    def selected_name(self) -> str | None:
        return self.query_one("#cost-table", KeyedTable).selected_key

    @on(KeyedTable.RowHighlighted, "#cost-table")
    def row_highlighted(self) -> None:
        sim = self.simulation
        if sim is not None and sim.endpoint != self.selected_name():
            self._show_replay(False)  # the replay was another endpoint's
        self._show_selected()

    def on_resize(self) -> None:
        self._show_selected()

    def _show_replay(self, shown: bool) -> None:
        """The replay takes the place of the plot and summary (small terminals fit it)."""
        self.query_one("#cost-sim").display = shown
        self.query_one("#cost-bottom").display = not shown
        if not shown:
            self.simulation = None

    def _show_selected(self) -> None:
        cost = self.costs.get(self.selected_name() or "")
        plot = self.query_one("#cost-plot", Static)
        if cost is None:
            self.plotted = []
            plot.update("")
            self.query_one("#cost-summary", Static).update("")
            return
        width = max(8, (plot.size.width or 60) - AXIS_WIDTH - 1)
        series = self.plotted = cost.instances_per_bucket(width)
        plot.update(plot_text(series, PLOT_HEIGHT))
        start, end = cost.windows[-1].start, cost.windows[-1].end
        column = fmt.duration((end - start).total_seconds() / len(series)) if series else "-"
        # Each bar is the mean over its column (its area is what was paid for): a minute of
        # one instance in a 3-hour column reads <0.1, so the title gives the count now and,
        # where it fits, what a bar is.
        title = f"Instances, last {_label(self.window)} · now {cost.instances_now}"
        detail = f"{title} · each bar the mean of {column}"
        fits = len(detail) <= (plot.size.width or 0)
        self.query_one("#cost-plot-title", Static).update(Text(detail if fits else title))
        self.query_one("#cost-axis", Static).update(f"{fmt.when(start)} → {fmt.when(end)}")
        self.query_one("#cost-summary", Static).update(summary_markup(cost))

    # ---- the replay ---------------------------------------------------------------------------

    def action_refresh(self) -> None:
        if self.api is not None:
            self.load_costs()

    def action_close_replay(self) -> None:
        if self.simulation is not None:
            self._show_replay(False)
            self.query_one("#cost-table").focus()
        else:
            self.app.pop_screen() if len(self.app.screen_stack) > 1 else None

    def action_window(self) -> None:
        self.window = WINDOWS[(WINDOWS.index(self.window) + 1) % len(WINDOWS)]
        self.action_refresh()

    def action_open(self) -> None:
        name = self.selected_name()
        if name:
            self.app.open_detail(name)

    def action_simulate(self) -> None:
        name = self.selected_name()
        if name and self.api is not None:
            self._status(f"replaying {_label(self.window)} of {name}'s backlog…")
            self.simulate_endpoint(name)

    @work(thread=True, exclusive=True, exit_on_error=False, group="cost-simulate")
    def simulate_endpoint(self, name: str) -> None:
        assert self.api is not None
        self.post_message(self.Simulated(self.api.simulate(name, since=self.window)))

    @on(Simulated)
    def simulated(self, message: Simulated) -> None:
        self.simulation = sim = message.simulation
        table = self.query_one("#cost-sim", DataTable)
        table.clear(columns=True)
        table.add_column("", key="label")
        results = [sim.current, *sim.proposals]
        for r in results:
            table.add_column(r.proposal.name, key=r.proposal.name)
        for key, label in SIM_ROWS:
            table.add_row(label, *(sim_cell(key, r, r is sim.current) for r in results), key=key)
        self._show_replay(True)
        self.simulation = sim
        table.focus()
        table.move_cursor(column=2 if len(results) > 1 else 1)
        cold = f"{sim.cold_start_s:.0f} s " + ("measured" if sim.cold_start_measured
                                               else "(default)")
        self._status(f"{sim.endpoint}: cold start {cold} · ←/→ choose · a applies the chosen "
                     "proposal through the scaling plan")

    def action_apply(self) -> None:
        sim = self.simulation
        if sim is None:
            self._status("press s to replay the backlog first")
            return
        table = self.query_one("#cost-sim", DataTable)
        column = table.cursor_coordinate.column
        chosen = next((r.proposal for r in sim.proposals
                       if str(table.ordered_columns[column].key.value) == r.proposal.name), None)
        if chosen is None:
            self._status("choose a proposal column (←/→) to apply")
            return
        self.plan_proposal(sim.endpoint, chosen)

    @work(thread=True, exclusive=True, exit_on_error=False, group="cost-apply")
    def plan_proposal(self, name: str, proposal: PolicyProposal) -> None:
        assert self.api is not None
        self.post_message(self.Planned(self.api.plan_proposal(name, proposal), proposal))

    @on(Planned)
    def planned(self, message: Planned) -> None:
        plan = message.plan
        if plan.empty:
            self._status(f"{message.proposal.name} is already in place")
            return

        def confirmed(ok: bool | None) -> None:
            if ok:
                self.apply_plan(plan)
            else:
                self._status("not applied")

        self.app.push_screen(ConfirmChangesScreen(
            f"Apply {message.proposal.name} to {plan.before.endpoint}/{plan.before.variant}?",
            plan.diff_lines(), plan.warnings), confirmed)

    @work(thread=True, exclusive=True, exit_on_error=False, group="cost-apply")
    def apply_plan(self, plan: ScalingPlan) -> None:
        assert self.api is not None
        self.post_message(self.Applied(self.api.apply(plan)))

    @on(Applied)
    def applied(self, message: Applied) -> None:
        self._status(message.result.message())
        self.notify(message.result.message(),
                    severity="information" if message.result.applied else "error")
        self.load_costs()

    def action_state(self, action: str) -> bool | None:
        if action == "apply":
            return None if self.simulation is None else True
        return True

    def refused(self, action: str) -> str | None:
        why = super().refused(action)
        if why is None and action == "apply" and self.simulation is None:
            return "press s to replay the backlog first"
        return why

    def _status(self, text: str) -> None:
        self.query_one("#cost-status", Static).update(text)


def money(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "?"
    return f"{value:,.{max(digits, 3) if abs(value) < 10 else digits}f}"


def cost_row(c: EndpointCost) -> Cells:
    day, window = c.windows[0], c.windows[-1]  # the shorter window, and the one chosen
    per_1k = "?" if window.usd is None else (
        "-" if not window.requests else money(window.usd_per_1k, 4))
    flag = Text("STRANDED", style="bold red") if c.stranded else Text("")
    return (Text(c.name), flag, Text(str(c.instances_now)), rate_text(c.usd_per_hour_now),
            Text(money(day.usd)), Text(money(window.usd)), Text(str(window.requests or 0)),
            Text(per_1k), Text(money(window.idle_usd)), Text(c.instance_type or ""))


def plot_text(values: list[float], height: int) -> Text:
    """Bars from zero to the peak, `height` rows of eighth blocks, the peak and 0 on the left."""
    peak = max(values, default=0.0)
    rows = []
    for row in range(height, 0, -1):
        line = []
        for value in values:
            eighths = round(value / peak * height * 8) if peak else 0
            line.append(BLOCKS[max(0, min(8, eighths - (row - 1) * 8))])
        axis = _axis(peak) if row == height else ("   0" if row == 1 else "    ")
        rows.append(f"{axis}▕" + "".join(line))
    return Text("\n".join(rows), style="green", no_wrap=True, overflow="crop")


def _axis(peak: float) -> str:
    """The peak in exactly four characters (the plot's width leaves room for no more)."""
    if peak >= 100:
        return f"{min(peak, 9999):>4.0f}"
    if peak >= 0.1:
        return f"{peak:>4.1f}" if peak < 10 else f"{peak:>4.0f}"
    return "<0.1" if peak > 0 else "   0"


def rate_text(value: float | None) -> Text:
    return Text("?", style="dim") if value is None else Text(f"{value:,.3f}")


def summary_markup(c: EndpointCost, *, title: bool = True) -> str:
    """The endpoint's cost in a few lines (the cost view's summary, the detail's cost block)."""
    price = (f"${c.price.usd_per_hour:g}/h ({escape(c.price.source)})" if c.price.known
             else "[yellow]price unknown[/] (add it to prices.yaml)")
    bounds = (f"target {c.min_capacity}..{c.max_capacity}" if c.has_target
              else "no scalable target")
    lines = [f"[b]{escape(c.name)}[/b] {escape(c.instance_type or '?')} · {price}"] if title \
        else [f"{escape(c.instance_type or '?')} · {price}"]
    now = c.usd_per_hour_now
    lines.append(f"now {c.instances_now} instance(s)"
                 + (f" = ${now:,.3f}/h" if now is not None else "") + f" · {bounds}")
    for w in c.windows:
        lines.append(f"{w.label}: {w.instance_hours:.2f} inst-h · ${money(w.usd)} · idle "
                     f"{w.idle_instance_hours:.2f} h (${money(w.idle_usd)}) · "
                     f"{w.requests or 0} req")
    if c.stranded:
        lines.append(f"[b red]STRANDED[/]: {escape(c.stranded_reason or '')}")
    if c.cold_start_s is not None:
        lines.append(f"cold start {c.cold_start_s:.0f} s ({c.cold_start_samples} measured)")
    lines += [f"[dim]{escape(n)}[/]" for n in c.notes]
    return "\n".join(lines)


def sim_cell(key: str, r: Any, current: bool) -> str:
    if key == "policy":
        return short_policy(r.proposal)
    if key == "hours":
        return f"{r.instance_hours:.2f}"
    if key == "usd":
        return money(r.usd)
    if key == "saved":
        return "-" if current else money(r.saved_usd)
    if key == "cold":
        return str(r.cold_starts)
    if key == "delayed":
        return f"{r.delayed_requests}/{r.requests}"
    seconds = r.extra_wait_p50_s if key == "p50" else r.extra_wait_p99_s
    return fmt.duration(seconds)


def short_policy(p: PolicyProposal) -> str:
    """The replay table's policy cell: bounds, scale-in cooldown, the step policy."""
    if p.fixed_instances is not None:
        return f"fixed {p.fixed_instances}"
    step = " +step" if p.step else ""
    return f"{p.min_capacity}..{p.max_capacity} in {fmt.duration(p.scale_in_cooldown_s)}{step}"


def _label(span: timedelta) -> str:
    hours = int(span.total_seconds() // 3600)
    return f"{hours // 24}d" if hours % 24 == 0 and hours >= 48 else f"{hours}h"
