"""Small modal screens: delete confirmation, help, the `:` jump prompt, text prompts."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import DataTable, Input, Label, Static

JUMP_TARGETS = (":endpoints", ":logs ", ":requests", ":scaling ", ":deploy", ":container")


class ConfirmDeleteScreen(ModalScreen[bool]):
    """Deleting asks for the name typed out: a stray `d` + Enter must not delete anything."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="confirm.cancel")]

    def __init__(self, name: str, what: str = "endpoint") -> None:
        super().__init__()
        self.target = name
        self.what = what

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog", classes="dialog"):
            yield Label(f"Delete {self.what} [b]{self.target}[/b]?", id="confirm-title")
            yield Static("Type its name and press Enter; Esc cancels.", classes="hint")
            yield Input(placeholder=self.target, id="confirm-input")
            yield Static("", id="confirm-error", classes="error")

    @on(Input.Submitted, "#confirm-input")
    def confirm(self, event: Input.Submitted) -> None:
        if event.value.strip() == self.target:
            self.dismiss(True)
        else:
            self.query_one("#confirm-error", Static).update(
                f"'{event.value}' is not '{self.target}'"
            )

    def action_cancel(self) -> None:
        self.dismiss(False)


class PromptScreen(ModalScreen[str | None]):
    """One line of input (a file name, a filter pattern); Esc gives None."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="prompt.cancel")]

    def __init__(self, title: str, value: str = "", placeholder: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.value = value
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text)
            yield Input(value=self.value, placeholder=self.placeholder, id="prompt-input")

    @on(Input.Submitted, "#prompt-input")
    def submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class JumpScreen(ModalScreen[str | None]):
    """k9s-style `:` prompt: `:endpoints`, `:logs NAME`, `:requests`, `:scaling NAME`, ..."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="jump.cancel")]

    def __init__(self, names: list[str]) -> None:
        super().__init__()
        suggestions = list(JUMP_TARGETS)
        for name in names[:500]:
            suggestions += [f":logs {name}", f":scaling {name}", f":endpoint {name}"]
        self._suggester = SuggestFromList(suggestions, case_sensitive=False)

    def compose(self) -> ComposeResult:
        with Vertical(id="jump-dialog", classes="dialog"):
            yield Input(value=":", suggester=self._suggester, id="jump-input")

    @on(Input.Submitted, "#jump-input")
    def submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class HelpScreen(ModalScreen[None]):
    """Every binding of the screen underneath (and the app's), greyed when disabled."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="help.close"),
        Binding("question_mark", "close", "Close", show=False),
        Binding("q", "close", "Close", show=False),
    ]

    def __init__(self, title: str, rows: list[tuple[str, str, str, bool]]) -> None:
        super().__init__()
        self.title_text = title
        self.rows = rows

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog", classes="dialog"):
            yield Label(f"[b]{self.title_text}[/b] — keys (Esc closes)")
            yield DataTable(id="help-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("key", "action", "id", "")
        table.add_rows(
            (key, description, binding_id, "" if enabled else "disabled (read-only)")
            for key, description, binding_id, enabled in self.rows
        )

    def action_close(self) -> None:
        self.dismiss(None)
