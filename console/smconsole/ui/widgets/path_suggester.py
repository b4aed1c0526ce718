"""Completes file paths as they are typed: → (or End) takes the suggestion, as in a shell."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from textual.suggester import Suggester


def complete_path(value: str, suffixes: tuple[str, ...], base: Path) -> str | None:
    """`value` completed to the first folder or `suffixes` file it can name, else None.

    Relative values resolve against `base`; `~` is the home folder. Folders come back with a
    trailing `/` so the next keystroke completes inside them.
    """
    if not value:
        return None
    head, _, partial = value.rpartition("/")
    folder_text = head + "/" if value.startswith("/") and not head else head
    folder = Path(os.path.expanduser(folder_text)) if folder_text else Path()
    if not folder.is_absolute():
        folder = base / folder
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return None
    if not partial.startswith("."):
        names = [n for n in names if not n.startswith(".")]  # hidden only when asked for
    for name in names:
        if not name.startswith(partial):
            continue
        path = folder / name
        if name == partial:
            if path.is_dir() and partial:
                return value + "/"
            continue
        if path.is_dir():
            return f"{value}{name[len(partial):]}/"
        if name.endswith(suffixes):
            return value + name[len(partial):]
    return None


class PathSuggester(Suggester):
    """Suggests folders and files ending in one of `suffixes` (all files when empty)."""

    def __init__(self, suffixes: tuple[str, ...] = (), base: Path | None = None) -> None:
        # No cache: the folder may change between two keystrokes (a file just saved).
        super().__init__(use_cache=False, case_sensitive=True)
        self.suffixes = suffixes or ("",)
        self.base = base

    async def get_suggestion(self, value: str) -> str | None:
        # A listing of a network or slow disk must not hold the screen.
        return await asyncio.to_thread(
            complete_path, value, self.suffixes, self.base or Path.cwd()
        )
