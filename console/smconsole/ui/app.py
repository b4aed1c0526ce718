"""The Textual application (placeholder until the console issue lands)."""

from __future__ import annotations

from typing import Any


def run_app(session: Any) -> int:
    from textual.app import App
    from textual.widgets import Footer, Header, Static

    class Placeholder(App[None]):
        BINDINGS = [("q", "quit", "Quit")]

        def compose(self):  # type: ignore[no-untyped-def]
            yield Header()
            yield Static(f"smconsole connected to {session.describe()}")
            yield Footer()

    Placeholder().run()
    return 0
