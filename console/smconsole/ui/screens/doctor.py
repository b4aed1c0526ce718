"""`:doctor`: every async endpoint's findings; Enter (or f) shows the fix as a diff, `y` applies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Header, Static
from textual.widgets.data_table import CellDoesNotExist

from smconsole.models.doctor import EndpointHealth, Finding, FixPlan, FixResult
from smconsole.ui.markup import escape
from smconsole.ui.screens.base import ConsoleScreen
from smconsole.ui.widgets.keyed_table import RowTable

if TYPE_CHECKING:
    from smconsole.ui.protocols import ServicesApi
    from smconsole.ui.settings import ConsoleSettings

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "dim"}
MARK_STYLE = {"✖": "bold red", "!": "yellow", "·": "dim", "✓": "green", "?": "magenta"}


class ConfirmFixScreen(ModalScreen[bool]):
    """The fix's diff; `y` applies, `n` or Esc does not."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Apply", id="doctor.confirm"),
        Binding("n,escape", "answer(False)", "Cancel", id="doctor.cancel"),
    ]

    def __init__(self, plan: FixPlan) -> None:
        super().__init__()
        self.plan = plan

    def compose(self) -> ComposeResult:
        finding = self.plan.finding
        lines = [f"[b]{escape(finding.endpoint)}: {escape(finding.fix.summary)}[/b]", ""]
        lines += [escape(line) for line in self.plan.diff]
        lines += [f"[yellow]! {escape(w)}[/]" for w in self.plan.warnings]
        lines += ["", "[b]y[/b] applies (rolled back if it fails half-way) · [b]n[/b] cancels"]
        with Vertical(id="fix-dialog", classes="dialog"):
            yield Static("\n".join(lines), id="fix-diff")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class DoctorScreen(ConsoleScreen):
    """Findings of every async endpoint (or one), each with why and fix."""

    AREA = "doctor"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f", "fix", "Fix", id="doctor.fix"),
        Binding("r", "refresh", "Re-check", id="doctor.refresh"),
        Binding("o", "open", "Endpoint", id="doctor.open"),
    ]
    MUTATING = frozenset({"fix"})

    @dataclass
    class Checked(Message):
        healths: list[EndpointHealth]

    @dataclass
    class Planned(Message):
        plan: FixPlan

    @dataclass
    class Fixed(Message):
        result: FixResult

    def __init__(self, services: ServicesApi, settings: ConsoleSettings,
                 endpoint: str | None = None) -> None:
        super().__init__(services, settings)
        self.only = endpoint
        self.healths: list[EndpointHealth] = []
        self.findings: dict[str, Finding] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("checking…", id="doctor-title")
        table: DataTable[Any] = RowTable(id="doctor-table", cursor_type="row",
                                          zebra_stripes=True)
        yield table
        with VerticalScroll(id="doctor-detail", classes="detail-box"):
            yield Static("", id="doctor-why")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#doctor-table", DataTable)
        table.add_column(" ", key="mark", width=1)
        table.add_column("endpoint", key="endpoint", width=22)
        table.add_column("severity", key="severity", width=8)
        table.add_column("finding", key="title")
        self.check()

    # ---- workers ------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="doctor")
    def check(self) -> None:
        doctor = self.services.doctor
        if doctor is None:
            self.post_message(self.Checked([]))
            return
        if self.only:
            healths = [doctor.check(self.only)]
        else:
            healths = doctor.check_all()
        self.post_message(self.Checked(healths))

    @work(thread=True, exclusive=True, exit_on_error=False, group="doctor-fix")
    def plan_fix(self, finding: Finding) -> None:
        self.post_message(self.Planned(self.services.doctor.plan_fix(finding)))

    @work(thread=True, exclusive=True, exit_on_error=False, group="doctor-fix")
    def apply_fix(self, plan: FixPlan) -> None:
        self.post_message(self.Fixed(self.services.doctor.apply_fix(plan)))

    # ---- state --------------------------------------------------------------------------

    @on(Checked)
    def show(self, message: Checked) -> None:
        self.healths = message.healths
        table = self.query_one("#doctor-table", DataTable)
        selected = self._selected_key()
        table.clear()
        self.findings = {}
        counts = {"error": 0, "warning": 0, "info": 0}
        for health in message.healths:
            style = MARK_STYLE.get(health.mark, "")
            if not health.findings:
                note = "no findings" if not health.skipped else f"no findings ({len(health.skipped)} not checked)"
                table.add_row(Text(health.mark, style=style), health.endpoint, "",
                              Text(note, style="green" if health.mark == "✓" else "dim"),
                              key=f"{health.endpoint}:")
                continue
            for finding in health.findings:
                key = f"{finding.endpoint}:{finding.code}:{finding.variant or ''}"
                self.findings[key] = finding
                counts[finding.severity] += 1
                table.add_row(Text(health.mark, style=style), finding.endpoint,
                              Text(finding.severity, style=SEVERITY_STYLE[finding.severity]),
                              finding.title, key=key)
        if selected is not None and selected in table.rows:  # a fixed one's row is gone
            table.move_cursor(row=table.get_row_index(selected))
        summary = ", ".join(f"{n} {s}{'s' if n != 1 else ''}" for s, n in counts.items())
        where = self.only or f"{len(message.healths)} endpoint(s)"
        if self.services.doctor is None:
            summary = "the doctor is not available here"
        self.query_one("#doctor-title", Static).update(f"[b]doctor[/b] {escape(where)}: {summary}")
        self._show_detail()

    @on(DataTable.RowSelected, "#doctor-table")
    def selected(self, _: DataTable.RowSelected) -> None:
        # Enter on a row is the table's own key; it means the same as `f`.
        if self.settings.read_only:
            self.notify("read-only: fixes are disabled", severity="warning")
            return
        self.action_fix()

    @on(DataTable.RowHighlighted, "#doctor-table")
    def highlighted(self, _: DataTable.RowHighlighted) -> None:
        self._show_detail()
        self.refresh_bindings()  # `f` is dimmed on an endpoint's "no findings" row

    def action_state(self, action: str) -> bool | None:
        if action == "fix" and self.selected_finding() is None:
            return None
        return True

    def refused(self, action: str) -> str | None:
        why = super().refused(action)
        if why is None and action == "fix" and self.selected_finding() is None:
            key = self._selected_key()
            return (f"{key.split(':', 1)[0]} has no findings" if key
                    else "no finding highlighted")
        return why

    def _selected_key(self) -> str | None:
        table = self.query_one("#doctor-table", DataTable)
        if not table.row_count:
            return None
        try:
            return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        except CellDoesNotExist:
            return None

    def selected_finding(self) -> Finding | None:
        key = self._selected_key()
        return self.findings.get(key) if key else None

    def _show_detail(self) -> None:
        why = self.query_one("#doctor-why", Static)
        finding = self.selected_finding()
        if finding is None:
            key = self._selected_key() or ""
            health = next((h for h in self.healths if f"{h.endpoint}:" == key), None)
            skipped = health.skipped if health else ()
            why.update("\n".join(f"[dim]not checked: {escape(s)}[/]" for s in skipped))
            return
        how = ("[b]Enter[/b] shows the change as a diff, then [b]y[/b] applies it"
               if finding.fix.applicable else "by hand:")
        lines = [f"[b]why[/b] {escape(finding.why)}",
                 f"[b]fix[/b] {escape(finding.fix.summary)} — {how}"]
        lines += [f"  {escape(step)}" for step in finding.fix.steps]
        why.update("\n".join(lines))

    # ---- actions ------------------------------------------------------------------------

    def action_refresh(self) -> None:
        self.query_one("#doctor-title", Static).update("checking…")
        self.check()

    def action_fix(self) -> None:
        finding = self.selected_finding()
        if finding is None:  # Enter on a "no findings" row comes here without the footer
            self.notify(f"{self.refused('fix')}: nothing to fix", severity="warning",
                        timeout=4, markup=False)
            return
        if not finding.fix.applicable:
            self.notify("the console cannot make this fix: the steps are shown below",
                        severity="warning")
            return
        self.plan_fix(finding)

    @on(Planned)
    def confirm(self, message: Planned) -> None:
        plan = message.plan

        def answered(ok: bool | None) -> None:
            if ok:
                self.notify(f"applying: {plan.finding.fix.summary}")
                self.apply_fix(plan)

        self.app.push_screen(ConfirmFixScreen(plan), answered)

    @on(Fixed)
    def fixed(self, message: Fixed) -> None:
        result = message.result
        self.notify(result.message, severity="information" if result.applied else "error",
                    timeout=8)
        self.check()

    def action_open(self) -> None:
        key = self._selected_key()
        open_detail = getattr(self.app, "open_detail", None)
        if key and open_detail is not None:
            open_detail(key.split(":", 1)[0])
