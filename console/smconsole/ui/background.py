"""Long-lived loops (a log tail, the output watcher) in threads of their own.

Not workers: Textual's worker threads are a small shared pool, and these loops never end by
themselves. Each runs `body(stop)` until `stop` is set; an exception it raises goes to
`on_error` (the screen posts it as a message) instead of killing the thread silently.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class BackgroundLoop:
    """One daemon thread running `body(stop)`; `stop()` asks it to end (it is never joined:
    a loop blocked in a network call ends on its own once the call returns)."""

    def __init__(self, name: str, body: Callable[[threading.Event], None],
                 on_error: Callable[[Exception], None]) -> None:
        self.stop_event = threading.Event()
        self._body = body
        self._on_error = on_error
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> BackgroundLoop:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self._body(self.stop_event)
        except Exception as exc:  # noqa: BLE001 - reported on screen, never a dead thread
            if not self.stop_event.is_set():
                self._on_error(exc)

    def stop(self) -> None:
        self.stop_event.set()

    @property
    def stopped(self) -> bool:
        return self.stop_event.is_set()
