"""What every console screen shares: its workers' outcomes reach the app's one handler."""

from __future__ import annotations

from typing import Any

from textual import on, work
from textual.screen import Screen
from textual.worker import Worker

from smconsole.ui.messages import EndpointDeleted
from smconsole.ui.screens.modals import ConfirmDeleteScreen


class ConsoleScreen(Screen[Any]):
    """A screen whose worker failures become the app's notifications and header status.

    Worker.StateChanged does not bubble, so each screen hands it to the app explicitly.
    """

    @on(Worker.StateChanged)
    def _forward_worker_state(self, event: Worker.StateChanged) -> None:
        report = getattr(self.app, "report_worker", None)
        if report is not None:
            report(event)


class EndpointActionsScreen(ConsoleScreen):
    """A screen that can delete an endpoint once the person has typed its name.

    Subclasses have `services` and `settings`, and say what to reload in `after_delete`.
    """

    services: Any
    settings: Any

    def confirm_delete(self, name: str) -> None:
        if self.settings.read_only:
            self.notify("read-only: delete is disabled", severity="warning")
            return

        def confirmed(ok: bool | None) -> None:
            if ok:
                self.delete_endpoint(name)

        self.app.push_screen(ConfirmDeleteScreen(name), confirmed)

    @work(thread=True, exit_on_error=False, group="endpoint-delete")
    def delete_endpoint(self, name: str) -> None:
        self.services.endpoints.delete(name)
        self.post_message(EndpointDeleted(name))

    @on(EndpointDeleted)
    def deleted(self, message: EndpointDeleted) -> None:
        self.notify(f"deleting {message.name}")
        self.after_delete()

    def after_delete(self) -> None:
        """Reload what the deletion changed."""
