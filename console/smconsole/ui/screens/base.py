"""What every console screen shares: its services and settings, one read-only rule, worker
outcomes that reach the app's one handler, and deleting an endpoint (with what it uses)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from textual import events, on, work
from textual.message import Message
from textual.screen import Screen
from textual.worker import Worker

from smconsole.models.deploy import CleanupResult, Resource
from smconsole.ui.screens.modals import ConfirmDeleteScreen, DeleteChoice

if TYPE_CHECKING:
    from smconsole.ui.protocols import ServicesApi
    from smconsole.ui.settings import ConsoleSettings


class ConsoleScreen(Screen[None]):
    """A console view. `MUTATING` names the actions that change AWS: in read-only they are
    dimmed in the footer, and pressing one says so instead of doing nothing.

    Subclasses say when their other actions apply in `action_state` (True, False: hidden,
    None: dimmed), never in a `check_action` of their own.
    """

    AREA: ClassVar[str] = "smconsole"
    MUTATING: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, services: ServicesApi, settings: ConsoleSettings, *,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.services = services
        self.settings = settings

    @property
    def read_only(self) -> bool:
        return self.settings.read_only or self.services.read_only

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        state = self.action_state(action)
        if state is False:
            return False  # not offered now at all (a clean-up with nothing to clean)
        if action in self.MUTATING and self.read_only:
            return None
        return state

    def action_state(self, action: str) -> bool | None:
        return True

    def refused(self, action: str) -> str | None:
        """Why `action` cannot run now, or None when it can."""
        if action in self.MUTATING and self.read_only:
            return "read-only"
        return None

    def on_key(self, event: events.Key) -> None:
        # Textual drops the press of a dimmed key without a word; say why it did nothing.
        active = self.active_bindings.get(event.key)
        if active is None or active.enabled or active.node is not self:
            return
        why = self.refused(active.binding.action)
        if why is not None:
            label = (active.binding.description or active.binding.action).lower()
            self.notify(f"{why}: {label} refused", severity="warning", timeout=4)

    @on(Worker.StateChanged)
    def _forward_worker_state(self, event: Worker.StateChanged) -> None:
        # Worker.StateChanged does not bubble: hand it to the app's one handler.
        report = getattr(self.app, "report_worker", None)
        if report is not None:
            report(event)


class EndpointActionsScreen(ConsoleScreen):
    """A screen that deletes an endpoint once its name is typed out, and offers to delete its
    endpoint config and models with it (they are left behind otherwise)."""

    @dataclass
    class Deleted(Message):
        name: str
        removed: list[str] = field(default_factory=list)
        failed: list[str] = field(default_factory=list)

    def confirm_delete(self, name: str, uses: tuple[Resource, ...] = ()) -> None:
        if self.read_only:
            self.notify("read-only: delete refused", severity="warning")
            return
        can_cascade = self.services.deploy is not None

        def confirmed(choice: DeleteChoice | None) -> None:
            if choice is not None:
                self.notify(f"deleting {name}…", timeout=3)
                self.delete_endpoint(name, choice.with_resources and can_cascade)

        self.app.push_screen(ConfirmDeleteScreen(name, uses if can_cascade else None),
                             confirmed)

    @work(thread=True, exit_on_error=False, group="endpoint-delete")
    def delete_endpoint(self, name: str, with_resources: bool) -> None:
        deploy = self.services.deploy
        if not with_resources or deploy is None:
            self.services.endpoints.delete(name)
            self.post_message(self.Deleted(name, [f"endpoint {name}"]))
            return
        detail = self.services.endpoints.describe(name)
        # Oldest first, as a deploy creates them; cleanup deletes newest first.
        resources = (*(Resource("model", m.name) for m in detail.models),
                     Resource("endpoint-config", detail.endpoint.config_name),
                     Resource("endpoint", name))
        self.post_message(self.cleaned(name, deploy.cleanup(resources)))

    def cleaned(self, name: str, result: CleanupResult) -> EndpointActionsScreen.Deleted:
        deleted = [r.label() for r in result.deleted]
        failed = [f"{r.label()}: {why}" for r, why in result.failed]
        return self.Deleted(name, deleted, failed)

    @on(Deleted)
    def deleted(self, message: Deleted) -> None:
        if message.failed:
            self.notify("not deleted: " + "; ".join(message.failed), severity="error",
                        timeout=10)
        self.notify("deleted: " + (", ".join(message.removed) or "nothing"), timeout=5)
        self.after_delete(message.name)

    def after_delete(self, name: str) -> None:
        """Reload what the deletion changed."""
