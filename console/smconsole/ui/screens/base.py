"""What every console screen shares: its workers' outcomes reach the app's one handler."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.screen import Screen
from textual.worker import Worker


class ConsoleScreen(Screen[Any]):
    """A screen whose worker failures become the app's notifications and header status.

    Worker.StateChanged does not bubble, so each screen hands it to the app explicitly.
    """

    @on(Worker.StateChanged)
    def _forward_worker_state(self, event: Worker.StateChanged) -> None:
        report = getattr(self.app, "report_worker", None)
        if report is not None:
            report(event)
