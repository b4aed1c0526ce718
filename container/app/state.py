"""What the server knows about its model, shared by the routes and the loader thread."""

from __future__ import annotations

import threading
from typing import Any

from app.batching import Batcher


class ServerState:
    """`ready` flips once, after warm-up; `load_error` says why it never will."""

    def __init__(self) -> None:
        self.ready = False
        self.handler: Any = None
        self.batcher: Batcher | None = None
        self.load_error: str | None = None
        self.in_flight = 0
        self.stopping = False  # the shutdown budget ran out: invocations answer 503
        self.deadline: float | None = None  # monotonic time by which the process must exit
        self.loader: threading.Thread | None = None  # the model-loader thread, once started
