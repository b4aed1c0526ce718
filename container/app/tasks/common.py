"""Helpers shared by the text tasks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.errors import InputError


def parse_text(body: bytes) -> str:
    """A text/plain body as one input."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("body", "text/plain body is not UTF-8") from None
    if not text.strip():
        raise InputError("body", "empty text")
    return text


def require_files(model_dir: Path, *names: str) -> None:
    """Fail loading early with the missing file named, not a deep transformers error."""
    for name in names:
        if not (model_dir / name).exists():
            raise FileNotFoundError(f"{model_dir / name} is missing")


def input_limit(tokenizer: Any, config: Any) -> int:
    """Truncation length: the tokenizer's declared limit, else the model's positions, else 512."""
    declared = getattr(tokenizer, "model_max_length", None)
    if declared and declared < 1_000_000:
        return int(declared)
    positions = getattr(config, "max_position_embeddings", None)
    return int(positions) if positions else 512


def load_pretrained(auto_class: Any, model_dir: Path, runtime: Any) -> Any:
    """A model on the runtime's device and dtype, in eval mode; remote code always stays off."""
    model = auto_class.from_pretrained(model_dir, dtype=runtime.dtype, trust_remote_code=False)
    return model.to(runtime.device).eval()
