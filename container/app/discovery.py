"""Find the model folder and its task before anything heavy loads, so bad setups fail fast."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from app.errors import ModelLoadError


def find_model_dir(root: Path) -> Path:
    """The HF model folder: `root` itself or its single subfolder holding config.json."""
    if not root.is_dir():
        raise ModelLoadError(f"MODEL_DIR {root} is not a directory")
    if (root / "config.json").is_file():
        return root
    found = sorted(p for p in root.iterdir() if p.is_dir() and (p / "config.json").is_file())
    if len(found) == 1:
        return found[0]
    if not found:
        raise ModelLoadError(f"no config.json in {root} or in any folder directly under it")
    names = ", ".join(p.name for p in found)
    raise ModelLoadError(f"several model folders under {root} ({names}): point MODEL_DIR at one")


def detect_task(model_dir: Path) -> str:
    """The task the model's own files describe."""
    if (model_dir / "modules.json").is_file() or (model_dir / "1_Pooling").is_dir():
        return "feature-extraction"
    config = json.loads((model_dir / "config.json").read_text())
    architectures = config.get("architectures") or []
    for arch in architectures:
        if arch.endswith("ForConditionalGeneration") and config.get("is_encoder_decoder"):
            return "summarization"
        if arch.endswith("ForSequenceClassification"):
            return "text-classification"
        if arch.endswith("ForImageClassification"):
            return "image-classification"
    if "summarization" in (config.get("task_specific_params") or {}):
        return "summarization"
    return "feature-extraction"


def handler_for(task: str) -> Any:
    """A fresh handler for a supported task."""
    from app.tasks import SUPPORTED_TASKS, handler_class

    if task not in SUPPORTED_TASKS:
        supported = ", ".join(sorted(SUPPORTED_TASKS))
        raise ModelLoadError(f"HF_TASK {task!r} is not supported; use one of {supported}")
    return handler_class(task)()


def resolve(model_root: Path, task: str | None) -> tuple[Path, str]:
    """The model folder under MODEL_DIR and its task (HF_TASK, else the model's config)."""
    from app.tasks import SUPPORTED_TASKS

    model_dir = find_model_dir(model_root)
    task = task or detect_task(model_dir)
    if task not in SUPPORTED_TASKS:
        supported = ", ".join(sorted(SUPPORTED_TASKS))
        raise ModelLoadError(f"HF_TASK {task!r} is not supported; use one of {supported}")
    return model_dir, task
