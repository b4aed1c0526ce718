"""Progress on stderr: one line redrawn in place on a terminal, one line per change otherwise."""

from __future__ import annotations

import shutil
import sys
from typing import TextIO


class StatusLine:
    """Shows a changing status (`[00:12] endpoint: Creating`) without flooding a log.

    On a terminal the current line is rewritten as its clock ticks, and kept (a new line begun)
    when what it says changes. Off a terminal (a file, CI log, pipe) a line is printed only
    when what it says changes, never once per poll.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._said: object = None
        self._open = False  # a line drawn on the terminal without its newline yet

    def __call__(self, line: str, says: object = None) -> None:
        """Show `line`; `says` is what counts as a change (default: the whole line)."""
        says = line if says is None else says
        changed = says != self._said
        self._said = says
        if self.tty:
            if changed and self._open:
                self.stream.write("\n")
            # A line that wraps cannot be redrawn in place: cut it to the terminal's width.
            width = shutil.get_terminal_size().columns
            self.stream.write("\r\x1b[K" + (line if len(line) < width else line[:width - 2] + "…"))
            self._open = True
        elif changed:
            self.stream.write(line + "\n")
        self.stream.flush()

    def end(self) -> None:
        """Finish the line in place, so what follows starts on its own line."""
        if self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open = False
