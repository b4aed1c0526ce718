"""Writing batch files for tests."""

from __future__ import annotations

from pathlib import Path


def write_batch(folder: Path, text: str, name: str = "batch.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path
