"""Model code apart from HTTP: find the model, pick its task, and run setup/decode/predict/encode."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
import transformers
from pydantic import BaseModel

from app.discovery import handler_for
from app.errors import InputError, ModelLoadError

__all__ = ["InputError", "ModelLoadError", "Runtime", "TaskHandler", "load", "load_all"]

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
    runtime: Runtime  # set by setup()

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


def devices(spec: str | None) -> list[torch.device]:
    """DEVICE as given ("cuda:0,cuda:1", "cpu"); "cuda" or unset means every visible GPU."""
    if spec and spec != "cuda":
        return [torch.device(part.strip()) for part in spec.split(",") if part.strip()]
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count:
        return [torch.device("cuda", i) for i in range(count)]
    if spec == "cuda":
        raise ModelLoadError("DEVICE=cuda but no CUDA device is visible")
    return [torch.device("cpu")]


def pick_runtime(dev: torch.device) -> Runtime:
    """fp32 on CPU; bf16 on GPUs that support it, else fp16."""
    if dev.type == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    else:
        dtype = torch.float32
    return Runtime(device=dev, dtype=dtype)


# On 2 idle CPU cores MiniLM's raw pass keeps gaining up to 64 inputs (244 -> 305 items/s from
# 16 to 64) and generation amortises its per-step overhead; the batcher never waits to fill a
# batch, so a high cap costs nothing at low concurrency.
DEFAULT_BATCH_SIZE = 64


def load_all(
    model_dir: Path, task: str, device: str | None, batch_size: int | None = None
) -> list[TaskHandler]:
    """One loaded, warmed handler per device; the batcher runs one consumer on each."""
    return [
        load(model_dir, task, pick_runtime(dev), batch_size or DEFAULT_BATCH_SIZE)
        for dev in devices(device)
    ]


def load(model_dir: Path, task: str, runtime: Runtime, warm_batch: int = 1) -> TaskHandler:
    """Load and warm the model so the first real request pays no start-up cost.

    The warm-up also runs one full batch, so a batch size the device cannot hold fails at
    start (and /ping never turns healthy) rather than on the first busy minute.
    """
    handler = handler_for(task)
    transformers.utils.logging.disable_progress_bar()
    log.info("loading %s model from %s on %s (%s)", task, model_dir, runtime.device, runtime.dtype)
    handler.setup(model_dir, runtime)
    warm = handler.warmup_request()
    items = handler.decode(warm)
    handler.encode(warm, handler.predict(items))
    full = [items[i % len(items)] for i in range(warm_batch)]
    if len(handler.predict(full)) != len(full):
        raise ModelLoadError(f"{task} handler returned the wrong number of outputs")
    log.info("model loaded and warmed (batch of %d)", warm_batch)
    return handler


def pass_budget(handler: Any, settings: Any) -> int | None:
    """Most cost units (padded tokens; pixels for images) one forward pass may hold."""
    if handler.task == "image-classification":
        return int(settings.max_request_pixels)
    return getattr(handler, "pass_tokens", None)
