"""How the console behaves: read-only, refresh interval, log ring size, theme, clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ConsoleSettings:
    read_only: bool = False
    refresh_seconds: float = 15.0
    log_max_lines: int = 100_000
    log_since: str = "10m"
    theme: str = "textual-dark"
    # Injected so snapshots and tests render the same elapsed times every run.
    clock: Callable[[], float] = field(default=time.time)
    # Names of endpoints describe in one worker step; the rest follow in later steps.
    describe_chunk: int = 50
