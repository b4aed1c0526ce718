"""Every modal of the console: confirmations (they only dismiss), prompts, help, the `:` jump."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Checkbox, DataTable, Input, Label, Static

from smconsole.ui import formatting as fmt
from smconsole.ui.markup import escape
from smconsole.ui.widgets.keyed_table import RowTable

if TYPE_CHECKING:
    from smconsole.models.deploy import Resource
    from smconsole.models.requests import Batch

# What `:` completes to; the first word may also be any unique prefix (`:re` → requests).
VIEWS_WITH_ENDPOINT = ("endpoint", "logs", "scaling")
VIEWS_WITHOUT = ("endpoints", "requests", "deploy", "container", "cost", "doctor", "request")


@dataclass(frozen=True)
class DeleteChoice:
    """The person typed the name; `with_resources`: its config and models go too."""

    with_resources: bool


class ConfirmDeleteScreen(ModalScreen[DeleteChoice | None]):
    """Deleting asks for the name typed out: a stray key + Enter must not delete anything.

    `uses` (None: cannot be offered here) are the endpoint config and models it would leave
    behind; one checkbox deletes them too.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="confirm.cancel"),
    ]

    def __init__(self, name: str, uses: tuple[Resource, ...] | None = None) -> None:
        super().__init__()
        self.target = name
        self.uses = uses

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog", classes="dialog"):
            yield Label(f"Delete endpoint [b]{escape(self.target)}[/b]?", id="confirm-title")
            yield Static("Type its name and press Enter; Esc cancels.", classes="hint")
            yield Input(placeholder=self.target, id="confirm-input")
            if self.uses is not None:
                names = ", ".join(r.label() for r in self.uses) or "its endpoint config and models"
                yield Checkbox(f"also delete {names}", value=True, id="confirm-cascade")
            yield Static("", id="confirm-error", classes="error")

    def on_mount(self) -> None:
        self.query_one("#confirm-input", Input).focus()

    @on(Input.Submitted, "#confirm-input")
    def confirm(self, event: Input.Submitted) -> None:
        if event.value.strip() == self.target:
            cascade = self.uses is not None and self.query_one("#confirm-cascade", Checkbox).value
            self.dismiss(DeleteChoice(with_resources=cascade))
        else:
            self.query_one("#confirm-error", Static).update(
                f"{escape(event.value)!r} is not {escape(self.target)!r}")

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmChangesScreen(ModalScreen[bool]):
    """The diff of what will change; `y` applies, `n`/Esc cancels. Only dismisses."""

    # Shown over any screen, also in hosts without the console's stylesheet.
    DEFAULT_CSS = """
    ConfirmChangesScreen {
        align: center middle;
    }
    ConfirmChangesScreen #changes-dialog {
        width: 100;
        max-width: 95%;
        height: auto;
        max-height: 90%;
        padding: 1 2;
        border: thick $warning;
        background: $surface;
    }
    ConfirmChangesScreen #changes-diff {
        height: auto;
        margin: 1 0;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "confirm", "Apply", id="confirm-changes.apply"),
        Binding("n,escape", "cancel", "Cancel", id="confirm-changes.cancel"),
    ]

    def __init__(self, title: str, lines: list[str], warnings: tuple[str, ...] = (),
                 verb: str = "applies") -> None:
        super().__init__()
        self.title_text = title
        self.lines = lines
        self.warnings = warnings
        self.verb = verb

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="changes-dialog"):
            yield Label(f"[b]{escape(self.title_text)}[/b]")
            yield Static(diff_markup(self.lines), id="changes-diff")
            if self.warnings:
                yield Static("\n".join(f"[yellow]! {escape(w)}[/]" for w in self.warnings),
                             id="changes-warnings")
            yield Static(f"y {self.verb} · n or Esc cancels", classes="hint")

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)


class ConfirmAgainScreen(ModalScreen[bool]):
    """The same batch was sent before: send it again?"""

    DEFAULT_CSS = """
    ConfirmAgainScreen {
        align: center middle;
    }
    ConfirmAgainScreen #again-dialog {
        width: 70;
        max-width: 95%;
        height: auto;
        padding: 1 2;
        border: thick $warning;
        background: $panel;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Send again", id="requests.again.yes"),
        Binding("n,escape", "answer(False)", "Cancel", id="requests.again.no"),
    ]

    def __init__(self, file: str, earlier: list[Batch], now: float) -> None:
        super().__init__()
        self.file = file
        self.earlier = earlier
        self.now = now

    def compose(self) -> ComposeResult:
        last = self.earlier[0]
        when = fmt.duration(self.now - last.created_at)
        times = "" if len(self.earlier) == 1 else f"; {len(self.earlier)} times in all"
        with Vertical(id="again-dialog"):
            yield Label(f"[b]{escape(Path(self.file).name)}[/b] was sent before",
                        id="again-title")
            yield Static(
                f"as {escape(last.batch_id)}, {when} ago ({last.finished}/{last.total} "
                f"finished{times}).\nSend it again as a new batch?  [b]y[/b] send · "
                "[b]n[/b] cancel",
                id="again-text",
            )

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class PromptScreen(ModalScreen[str | None]):
    """One line of input (a file name, a filter pattern); Esc gives None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="prompt.cancel"),
    ]

    def __init__(self, title: str, value: str = "", placeholder: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.value = value
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(escape(self.title_text))
            yield Input(value=self.value, placeholder=self.placeholder, id="prompt-input",
                        select_on_focus=False)
            yield Static("Enter accepts · Esc cancels", classes="hint")

    @on(Input.Submitted, "#prompt-input")
    def submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class JumpScreen(ModalScreen[str | None]):
    """k9s-style `:` prompt. The colon is a label, not text: what is typed is the view."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="jump.cancel"),
        Binding("tab", "complete", "Complete", id="jump.complete", show=False),
    ]

    def __init__(self, names: list[str]) -> None:
        super().__init__()
        suggestions = [f"{view} " for view in VIEWS_WITH_ENDPOINT] + list(VIEWS_WITHOUT)
        for name in names[:500]:
            suggestions += [f"{view} {name}" for view in VIEWS_WITH_ENDPOINT]
        self._suggester = SuggestFromList(suggestions, case_sensitive=False)

    def compose(self) -> ComposeResult:
        with Vertical(id="jump-dialog", classes="dialog"):
            yield Label(":", id="jump-colon")
            yield Input(suggester=self._suggester, id="jump-input", select_on_focus=False,
                        placeholder="endpoints, endpoint NAME, logs NAME, requests, "
                                    "request ID, scaling NAME, deploy, container, doctor")

    def on_mount(self) -> None:
        self.query_one("#jump-input", Input).focus()

    def action_complete(self) -> None:
        box = self.query_one("#jump-input", Input)
        if box._suggestion:  # the completion Input shows greyed after the cursor
            box.value = box._suggestion
            box.cursor_position = len(box.value)

    @on(Input.Submitted, "#jump-input")
    def submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


@dataclass(frozen=True)
class HelpRow:
    section: str
    key: str
    description: str
    binding_id: str
    note: str = ""


class HelpScreen(ModalScreen[None]):
    """Every key of the screen underneath: its own first, then the console's, then Textual's."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="help.close"),
        Binding("question_mark", "close", "Close", show=False),
        Binding("q", "close", "Close", show=False),
    ]

    def __init__(self, title: str, rows: list[HelpRow]) -> None:
        super().__init__()
        self.title_text = title
        self.rows = rows

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog", classes="dialog"):
            yield Label(f"[b]{escape(self.title_text)}[/b] — keys (Esc closes)")
            yield RowTable(id="help-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("", "key", "action", "id", "")
        table.add_rows((row.section, row.key, row.description, row.binding_id, row.note)
                       for row in self.rows)
        table.focus()

    def action_close(self) -> None:
        self.dismiss(None)


def diff_markup(lines: list[str]) -> str:
    """A plan's lines coloured by their first mark: + green, - red, ~ and ! yellow."""
    colours = {"+": "green", "-": "red", "~": "yellow", "!": "yellow"}
    out = []
    for line in lines:
        colour = colours.get(line.lstrip()[:1])
        out.append(f"[{colour}]{escape(line)}[/]" if colour else escape(line))
    return "\n".join(out)
