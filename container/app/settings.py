"""Server settings from the environment, following SageMaker's conventions."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

GIB = 1024**3


class SettingsError(ValueError):
    """An environment variable holds a value the server cannot use."""


def _int(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}: expected an integer, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name}: must be at least {minimum}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}: expected a number, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name}: must be at least {minimum}, got {value}")
    return value


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = env.get(name, "").strip().lower() or default
    if raw not in choices:
        raise SettingsError(f"{name}: expected one of {', '.join(choices)}, got {raw!r}")
    return raw


@dataclass(frozen=True)
class Settings:
    """Everything the server reads from its environment, validated once at start."""

    model_dir: Path
    host: str
    port: int
    task: str | None
    device: str | None
    max_batch_size: int | None  # None: the task's default for its device
    max_batch_wait_s: float
    max_queue_size: int
    max_payload_bytes: int
    drain_timeout_s: float
    access_log: bool
    max_head_bytes: int = 32 * 1024
    max_inputs: int = 2048
    max_request_pixels: int = 100_000_000
    max_batch_tokens: int | None = None  # None: the task's default for its device
    spool_bytes: int = 1024 * 1024
    runtime: str = "torch"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        port = _int(env, "SAGEMAKER_BIND_TO_PORT", 8080, 0)
        if port > 65535:
            raise SettingsError(f"SAGEMAKER_BIND_TO_PORT: not a port: {port}")
        return cls(
            model_dir=Path(env.get("MODEL_DIR") or "/opt/ml/model"),
            host=env.get("SERVER_HOST") or "0.0.0.0",
            port=port,
            task=(env.get("HF_TASK") or "").strip() or None,
            device=(env.get("DEVICE") or "").strip() or None,
            max_batch_size=_int(env, "BATCH_MAX_SIZE", 0, 1) or None,
            max_batch_wait_s=_float(env, "BATCH_MAX_WAIT_MS", 5.0, 0.0) / 1000.0,
            max_queue_size=_int(env, "QUEUE_MAX_SIZE", 1024, 1),
            # Async endpoints accept 1 GB payloads; real-time's 6 MB would break them.
            max_payload_bytes=_int(env, "MAX_PAYLOAD_BYTES", GIB + 64 * 1024**2, 1),
            # SageMaker sends SIGKILL 30 s after SIGTERM.
            drain_timeout_s=_float(env, "DRAIN_TIMEOUT_SECONDS", 25.0, 0.0),
            access_log=(env.get("ACCESS_LOG", "1").strip().lower() not in ("0", "false", "no")),
            # Request line plus headers; SageMaker's own headers are far below this.
            max_head_bytes=_int(env, "MAX_HEADER_BYTES", 32 * 1024, 4096),
            max_inputs=_int(env, "MAX_INPUTS_PER_REQUEST", 2048, 1),
            max_request_pixels=_int(env, "MAX_REQUEST_PIXELS", 100_000_000, 1),
            max_batch_tokens=_int(env, "BATCH_MAX_TOKENS", 0, 1) or None,
            # Bodies past this go to a temporary file, not the heap.
            spool_bytes=_int(env, "SPOOL_BODY_BYTES", 1024 * 1024, 0),
            runtime=_choice(env, "EMBEDDING_RUNTIME", "torch", ("torch", "onnx")),
        )
