"""Model code apart from HTTP: find the model, pick its task, and run setup/decode/predict/encode."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
import transformers
from pydantic import BaseModel

from app.errors import InputError, ModelLoadError

__all__ = ["InputError", "ModelLoadError", "Runtime", "TaskHandler", "load"]

log = logging.getLogger("container.model")


@dataclass(frozen=True)
class Runtime:
    """Where and how the model runs."""

    device: torch.device
    dtype: torch.dtype


class TaskHandler(Protocol):
    """One task: the server batches `Item`s across requests and calls `predict` off the loop."""

    task: str
    request_model: type[BaseModel]
    content_types: frozenset[str]

    def setup(self, model_dir: Path, runtime: Runtime) -> None:
        """Load weights and tokenizer/processor; runs once, before warm-up."""

    def parse(self, body: bytes, content_type: str) -> BaseModel:
        """Turn a raw body of a non-JSON content type into a request (JSON goes through pydantic)."""

    def decode(self, request: BaseModel) -> list[Any]:
        """Split a validated request into independent work items, one per input."""

    def predict(self, items: list[Any]) -> list[Any]:
        """Run one forward pass over items from any number of requests; one output per item."""

    def encode(self, request: BaseModel, outputs: list[Any]) -> dict[str, Any]:
        """Build the response body for one request from its items' outputs."""

    def warmup_request(self) -> BaseModel:
        """A small valid request used to warm the model before /ping turns healthy."""


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


def pick_runtime(device: str | None) -> Runtime:
    """CUDA when present (bf16 where supported, else fp16), CPU in fp32 otherwise."""
    if device:
        dev = torch.device(device)
    else:
        dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if dev.type == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    else:
        dtype = torch.float32
    return Runtime(device=dev, dtype=dtype)


def handler_for(task: str) -> TaskHandler:
    """A fresh handler for a supported task."""
    from app.tasks import SUPPORTED_TASKS, handler_class

    if task not in SUPPORTED_TASKS:
        supported = ", ".join(sorted(SUPPORTED_TASKS))
        raise ModelLoadError(f"HF_TASK {task!r} is not supported; use one of {supported}")
    return handler_class(task)()


def load(model_root: Path, task: str | None, device: str | None) -> TaskHandler:
    """Find, load and warm the model so the first real request pays no start-up cost."""
    model_dir = find_model_dir(model_root)
    task = task or detect_task(model_dir)
    handler = handler_for(task)
    transformers.utils.logging.disable_progress_bar()
    runtime = pick_runtime(device)
    log.info("loading %s model from %s on %s (%s)", task, model_dir, runtime.device, runtime.dtype)
    handler.setup(model_dir, runtime)
    warm = handler.warmup_request()
    handler.encode(warm, handler.predict(handler.decode(warm)))
    log.info("model loaded and warmed")
    return handler
