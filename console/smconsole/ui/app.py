"""The console application: header, views, palette, help, `:` jumps, error reporting."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import ModalScreen as _Modal
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from smconsole.models.deploy import Resource
from smconsole.ui.screens.base import ConsoleScreen
from smconsole.ui.screens.container_ops import ContainerScreen
from smconsole.ui.screens.cost import CostScreen
from smconsole.ui.screens.deploy import DeployScreen
from smconsole.ui.screens.doctor import DoctorScreen
from smconsole.ui.screens.endpoint_detail import EndpointDetailScreen
from smconsole.ui.screens.endpoints import EndpointsScreen
from smconsole.ui.screens.logs import LogsScreen
from smconsole.ui.screens.modals import (
    VIEWS_WITH_ENDPOINT,
    VIEWS_WITHOUT,
    HelpRow,
    HelpScreen,
    JumpScreen,
)
from smconsole.ui.screens.requests import RequestsScreen
from smconsole.ui.screens.scaling import ScalingScreen
from smconsole.ui.screens.timeline import TimelineScreen
from smconsole.ui.settings import ConsoleSettings, save_theme

if TYPE_CHECKING:
    from smconsole.ui.protocols import ServicesApi


@dataclass(frozen=True)
class View:
    """How `:NAME [ENDPOINT]` builds a screen; `needs_endpoint`: it shows one endpoint."""

    make: Callable[[ServicesApi, ConsoleSettings, str], ConsoleScreen]
    needs_endpoint: bool = False
    # A view whose one argument is not an endpoint and must be typed: what to ask for.
    needs: str | None = None


# The `:` views (Textual's SCREENS idea: a plain table of factories, nothing found by reflection).
VIEWS: dict[str, View] = {
    "endpoint": View(lambda services, settings, name: EndpointDetailScreen(
        services, settings, name), needs_endpoint=True),
    "logs": View(lambda services, settings, name: LogsScreen(services, settings, name),
                 needs_endpoint=True),
    "scaling": View(lambda services, settings, name: ScalingScreen(services, settings, name),
                    needs_endpoint=True),
    "requests": View(lambda services, settings, _: RequestsScreen(services, settings)),
    "deploy": View(lambda services, settings, _: DeployScreen(services, settings)),
    "container": View(lambda services, settings, _: ContainerScreen(services, settings)),
    # `:cost` every endpoint, `:cost NAME` one.
    "cost": View(lambda services, settings, name: CostScreen(services, settings, name or None)),
    # `:doctor` every endpoint, `:doctor NAME` one; `:request ID` one request's timeline.
    "doctor": View(lambda services, settings, name: DoctorScreen(services, settings, name or None)),
    "request": View(lambda services, settings, ref: TimelineScreen(services, settings, ref),
                    needs="a request (inference id, or BATCH/INDEX)"),
}
ALIASES = {"ep": "endpoints", "e": "endpoints", "describe": "endpoint", "log": "logs"}
assert set(VIEWS) | {"endpoints"} == set(VIEWS_WITH_ENDPOINT) | set(VIEWS_WITHOUT)


class SMConsole(App[None]):
    """k9s for SageMaker async endpoints."""

    CSS_PATH = "app.tcss"
    TITLE = "smconsole"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "Help", id="app.help"),
        Binding("colon", "jump_prompt", "Jump", id="app.jump"),
        Binding("escape", "back", "Back", id="app.back"),
        Binding("q", "quit", "Quit", id="app.quit"),
    ]

    @dataclass
    class ConnectionChanged(Message):
        """A call succeeded (`error` None) or failed; the header shows the latest."""

        error: str | None

    def __init__(self, services: ServicesApi, settings: ConsoleSettings | None = None) -> None:
        super().__init__()
        self.services = services
        self.settings = settings or ConsoleSettings(read_only=services.read_only)
        self.connection_error: str | None = None
        self.endpoints_screen = EndpointsScreen(services, self.settings)
        # What failed deploys left behind, by endpoint: its detail view offers the clean-up
        # after the deploy view is gone.
        self.failed_deploys: dict[str, tuple[Resource, ...]] = {}
        self._theme_ready = False

    def on_mount(self) -> None:
        if self.settings.theme in self.available_themes:
            self.theme = self.settings.theme
        else:
            self.notify(f"unknown theme {self.settings.theme!r}", severity="warning")
        self._theme_ready = True
        if self.settings.keymap:
            self.set_keymap(self.settings.keymap)
        self.push_screen(self.endpoints_screen)
        self._update_header()

    def watch_theme(self, theme: str) -> None:
        # A theme picked in the palette is kept for the next start.
        if self._theme_ready and theme != self.settings.theme:
            try:
                save_theme(theme)
            except OSError as exc:
                self.notify(f"theme not saved: {exc}", severity="warning")

    # ---- header and errors ----------------------------------------------------------------

    def _update_header(self) -> None:
        # sub_title is plain text: no markup (it printed "[red]✖ …[/]" as typed).
        where = self.services.label
        state = f"✖ {self.connection_error}" if self.connection_error else "● connected"
        read_only = " · READ-ONLY" if self.settings.read_only else ""
        self.sub_title = f"{where} · {state}{read_only}"

    @on(ConnectionChanged)
    def connection_changed(self, message: ConnectionChanged) -> None:
        self.connection_error = message.error
        self._update_header()

    def report_worker(self, event: Worker.StateChanged) -> None:
        """Every worker's failure becomes a notification and a header status, never an exit.

        Only calls to AWS move the connection indicator: a local step (a container folder
        that does not exist) is the input's fault, not the connection's.
        """
        worker = event.worker
        if event.state is WorkerState.SUCCESS:
            if self.connection_error is not None and _talks_to_aws(worker.group):
                self.connection_error = None
                self._update_header()
        elif event.state is WorkerState.ERROR:
            error = worker.error
            text = str(error) or type(error).__name__
            self.notify(text, title=worker.group or "error", severity="error", timeout=8,
                        markup=False)
            if _talks_to_aws(worker.group):
                self.connection_error = type(error).__name__ if len(text) > 60 else text
                self._update_header()

    @on(Worker.StateChanged)
    def _app_worker(self, event: Worker.StateChanged) -> None:
        self.report_worker(event)

    # ---- navigation -----------------------------------------------------------------------

    def open_detail(self, name: str) -> None:
        self.push_screen(EndpointDetailScreen(self.services, self.settings, name))

    def open_timeline(self, ref: str) -> None:
        self.push_screen(TimelineScreen(self.services, self.settings, ref))

    def open_logs(self, name: str) -> None:
        self.push_screen(LogsScreen(self.services, self.settings, name))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back":
            # On the root view Esc has nowhere to go: not offered rather than a dead key.
            return len(self.screen_stack) > 2 or isinstance(self.screen, _Modal)
        return True

    def action_back(self) -> None:
        if len(self.screen_stack) > 2:
            self.pop_screen()

    def action_help(self) -> None:
        screen = self.screen
        area = getattr(screen, "AREA", "smconsole")
        refused = getattr(screen, "refused", None)
        order = {area: 0, "console": 1, "textual": 2}
        rows: list[HelpRow] = []
        for active in screen.active_bindings.values():
            binding = active.binding
            if not binding.description:
                continue
            # By id: a Screen's own inherited keys (Tab, copy) are Textual's, not the view's.
            binding_id = binding.id or ""
            section = area if binding_id.startswith(f"{area}.") else \
                "console" if binding_id.startswith("app.") else "textual"
            note = ""
            if not active.enabled:
                note = (refused(binding.action) if refused is not None else None) \
                    or "not available now"
            rows.append(HelpRow(section, self.get_key_display(binding), binding.description,
                                binding.id or "", note))
        rows.append(HelpRow("console", "ctrl+p", "Command palette", "app.command_palette"))
        rows.sort(key=lambda row: order.get(row.section, 3))  # stable: keeps each's order
        self.push_screen(HelpScreen(area, rows))

    def action_jump_prompt(self) -> None:
        names = sorted(self.endpoints_screen.endpoints)

        def chosen(text: str | None) -> None:
            if text:
                self.jump(text)

        self.push_screen(JumpScreen(names), chosen)

    def jump(self, text: str) -> None:
        """Go to `:endpoints`, `:endpoint NAME`, `:logs NAME`, `:requests`, `:scaling NAME`...
        The view may be any unique prefix of its name (`:re` is `:requests`)."""
        words = text.strip().lstrip(":").split()
        if not words:
            return
        typed, args = words[0].lower(), words[1:]
        target = _resolve(typed, has_argument=bool(args))
        if target is None:
            known = ", ".join(sorted({*VIEWS, "endpoints"}))
            self.notify(f"unknown view :{typed} (views: {known})", severity="warning",
                        markup=False)
            return
        if target == "endpoints":
            while len(self.screen_stack) > 2:
                self.pop_screen()
            return
        view = VIEWS[target]
        # Only a view that shows one endpoint takes the highlighted one when none is named.
        name = args[0] if args else (self._current_endpoint() if view.needs_endpoint else "")
        if view.needs and not name:
            self.notify(f":{target} needs {view.needs}", severity="warning", markup=False)
            return
        if view.needs_endpoint and not name:
            self.notify(f":{target} needs an endpoint name (:{target} NAME)",
                        severity="warning", markup=False)
            return
        screen = view.make(self.services, self.settings, name or "")
        # Already open further down: go back to it rather than stack a second copy.
        for index, open_screen in enumerate(self.screen_stack):
            if type(open_screen) is type(screen) and getattr(open_screen, "endpoint_name",
                                                             None) == getattr(
                    screen, "endpoint_name", None):
                while len(self.screen_stack) > index + 1:
                    self.pop_screen()
                return
        self.push_screen(screen)

    def _current_endpoint(self) -> str | None:
        screen = self.screen
        name = getattr(screen, "endpoint_name", None)
        if name:
            return str(name)
        if isinstance(screen, EndpointsScreen):
            return screen.selected_name()
        return None

    # ---- the palette ----------------------------------------------------------------------

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        area = getattr(screen, "AREA", None)
        if area:
            for key, active in screen.active_bindings.items():
                binding = active.binding
                if not binding.description or active.node is self or not active.enabled:
                    continue
                yield SystemCommand(
                    f"{area}: {binding.description.lower()}",
                    f"{binding.id or binding.action} ({key})",
                    _runner(active.node, binding.action),
                )
        yield SystemCommand("app: help", "list the keys of this screen (?)", self.action_help)
        yield SystemCommand("app: jump", "go to a view by name (:)", self.action_jump_prompt)
        yield SystemCommand("endpoints: show all", ":endpoints", lambda: self.jump(":endpoints"))
        for target, view in VIEWS.items():
            if not view.needs_endpoint:
                yield SystemCommand(f"{target}: open", f":{target}",
                                    lambda t=target: self.jump(f":{t}"))
        for name in sorted(self.endpoints_screen.endpoints)[:200]:
            yield SystemCommand(f"endpoint: open {name}", "detail", lambda n=name: self.open_detail(n))
            yield SystemCommand(f"logs: tail {name}", "logs", lambda n=name: self.open_logs(n))


def _resolve(typed: str, *, has_argument: bool = False) -> str | None:
    names = sorted({*VIEWS, "endpoints"})
    if typed in names:
        return typed
    if typed in ALIASES:
        return ALIASES[typed]
    matches = [n for n in names if n.startswith(typed)]
    if not has_argument:
        # `:re` is `:requests`: a view that cannot open without its argument is not meant.
        matches = [n for n in matches if n not in VIEWS or not VIEWS[n].needs] or matches
    if len(matches) == 1:
        return matches[0]
    # "endpoint" is a prefix of "endpoints": the shorter wins when both match.
    return min(matches, key=len) if matches and all(m.startswith(min(matches, key=len))
                                                     for m in matches) else None


# Worker groups whose work is local (files, the container on this machine).
LOCAL_GROUPS = ("container", "logs-save", "requests-export")


def _talks_to_aws(group: str | None) -> bool:
    return not (group or "").startswith(LOCAL_GROUPS)


def _runner(node: Any, action: str) -> Any:
    async def run() -> None:
        await node.run_action(action)

    return run


def run_app(services: ServicesApi, settings: ConsoleSettings | None = None, *,
            farewell: str | None = None) -> int:
    """Run the console; `farewell` is printed once it has closed (what is still running)."""
    try:
        SMConsole(services, settings).run()
    finally:
        close = getattr(services, "close", None)
        if close is not None:
            close()
    if farewell:
        print(farewell)
    return 0
