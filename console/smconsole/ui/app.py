"""The console application: header, screens, palette, help, `:` jumps, error reporting."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from smconsole.ui.messages import ConnectionChanged
from smconsole.ui.screens.endpoint_detail import EndpointDetailScreen
from smconsole.ui.screens.endpoints import EndpointsScreen
from smconsole.ui.screens.logs import LogsScreen
from smconsole.ui.screens.modals import HelpScreen, JumpScreen
from smconsole.ui.settings import ConsoleSettings

if TYPE_CHECKING:
    from smconsole.ui.protocols import ServicesApi

# Screens other parts of the console own: (module, class); mounted once their module exists.
OPTIONAL_SCREENS: dict[str, tuple[str, str]] = {
    "requests": ("smconsole.ui.screens.requests", "RequestsScreen"),
    "scaling": ("smconsole.ui.screens.scaling", "ScalingScreen"),
    "deploy": ("smconsole.ui.screens.deploy", "DeployScreen"),
    "container": ("smconsole.ui.screens.container_ops", "ContainerScreen"),
}
NEEDS_ENDPOINT = frozenset({"logs", "scaling", "endpoint"})


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

    def __init__(self, services: ServicesApi, settings: ConsoleSettings | None = None) -> None:
        super().__init__()
        self.services = services
        self.settings = settings or ConsoleSettings(read_only=services.read_only)
        self.connection_error: str | None = None
        self.endpoints_screen = EndpointsScreen(services, self.settings)

    def on_mount(self) -> None:
        if self.settings.theme in self.available_themes:
            self.theme = self.settings.theme
        else:
            self.notify(f"unknown theme {self.settings.theme!r}", severity="warning")
        if self.settings.keymap:
            self.set_keymap(self.settings.keymap)
        self.push_screen(self.endpoints_screen)
        self._update_header()

    # ---- header and errors ----------------------------------------------------------------

    def _update_header(self) -> None:
        where = self.services.label
        state = "[red]✖ " + self.connection_error + "[/]" if self.connection_error \
            else "● connected"
        read_only = " · READ-ONLY" if self.settings.read_only else ""
        self.sub_title = f"{where} · {state}{read_only}"

    @on(ConnectionChanged)
    def connection_changed(self, message: ConnectionChanged) -> None:
        self.connection_error = message.error
        self._update_header()

    @on(Worker.StateChanged)
    def report_worker(self, event: Worker.StateChanged) -> None:
        """Every worker's failure becomes a notification and a header status, never an exit."""
        worker = event.worker
        if event.state is WorkerState.SUCCESS:
            if self.connection_error is not None:
                self.connection_error = None
                self._update_header()
        elif event.state is WorkerState.ERROR:
            error = worker.error
            text = str(error) or type(error).__name__
            self.notify(text, title=worker.group or "error", severity="error", timeout=8)
            short = type(error).__name__
            self.connection_error = short if len(text) > 60 else text
            self._update_header()

    # ---- navigation -----------------------------------------------------------------------

    def open_detail(self, name: str) -> None:
        self.push_screen(EndpointDetailScreen(self.services, self.settings, name))

    def open_logs(self, name: str, **options: Any) -> None:
        self.push_screen(LogsScreen(self.services, self.settings, name, **options))

    def action_back(self) -> None:
        if len(self.screen_stack) > 2:
            self.pop_screen()

    def action_help(self) -> None:
        screen = self.screen
        rows = []
        for active in screen.active_bindings.values():
            binding = active.binding
            if not binding.description:
                continue
            rows.append((binding.key_display or self.get_key_display(binding), binding.description,
                         binding.id or "", active.enabled))
        rows.append(("ctrl+p", "Command palette", "app.command_palette", True))
        title = getattr(screen, "AREA", "smconsole")
        self.push_screen(HelpScreen(title, rows))

    def action_jump_prompt(self) -> None:
        names = sorted(self.endpoints_screen.endpoints)

        def chosen(text: str | None) -> None:
            if text:
                self.jump(text)

        self.push_screen(JumpScreen(names), chosen)

    def jump(self, text: str) -> None:
        """Go to `:endpoints`, `:endpoint NAME`, `:logs NAME`, `:requests`, `:scaling NAME`..."""
        words = text.strip().lstrip(":").split()
        if not words:
            return
        target, args = words[0].lower(), words[1:]
        name = args[0] if args else self._current_endpoint()
        if target in ("endpoints", "ep", "e"):
            while len(self.screen_stack) > 2:
                self.pop_screen()
            return
        if target in NEEDS_ENDPOINT and not name:
            self.notify(f":{target} needs an endpoint name", severity="warning")
            return
        if target == "logs":
            self.open_logs(name)
        elif target == "endpoint":
            self.open_detail(name)
        elif target in OPTIONAL_SCREENS:
            screen = self._optional_screen(target, name)
            if screen is not None:
                self.push_screen(screen)
        else:
            self.notify(f"unknown view :{target}", severity="warning")

    def _current_endpoint(self) -> str | None:
        screen = self.screen
        name = getattr(screen, "endpoint_name", None)
        if name:
            return str(name)
        if isinstance(screen, EndpointsScreen):
            return screen.selected_name()
        return None

    def _optional_screen(self, target: str, endpoint: str | None) -> Screen[Any] | None:
        module_name, class_name = OPTIONAL_SCREENS[target]
        try:
            module = importlib.import_module(module_name)
            screen_class = getattr(module, class_name)
        except (ImportError, AttributeError):
            self.notify(f":{target} is not available yet", severity="warning")
            return None
        # Pass what the constructor asks for, by parameter name.
        offered = {
            "services": self.services, "settings": self.settings, "endpoint": endpoint,
            "endpoint_name": endpoint, "name": endpoint,
        }
        kwargs = {}
        for parameter in inspect.signature(screen_class).parameters.values():
            if parameter.name in offered:
                kwargs[parameter.name] = offered[parameter.name]
            elif parameter.default is inspect.Parameter.empty and parameter.kind not in (
                    parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                self.notify(f":{target}: cannot supply {parameter.name}", severity="error")
                return None
        return screen_class(**kwargs)

    # ---- read-only and the palette --------------------------------------------------------

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
        for target in OPTIONAL_SCREENS:
            yield SystemCommand(f"{target}: open", f":{target}",
                                lambda t=target: self.jump(f":{t}"))
        for name in sorted(self.endpoints_screen.endpoints)[:200]:
            yield SystemCommand(f"endpoint: open {name}", "detail", lambda n=name: self.open_detail(n))
            yield SystemCommand(f"logs: tail {name}", "logs", lambda n=name: self.open_logs(n))


def _runner(node: Any, action: str) -> Any:
    async def run() -> None:
        await node.run_action(action)

    return run


def run_app(services: ServicesApi, settings: ConsoleSettings | None = None) -> int:
    try:
        SMConsole(services, settings).run()
    finally:
        close = getattr(services, "close", None)
        if close is not None:
            close()
    return 0
