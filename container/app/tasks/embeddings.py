"""feature-extraction: sentence embeddings with the model's own pooling."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel
from transformers import AutoModel, AutoTokenizer

from app.model import Runtime
from app.schemas import EmbeddingRequest
from app.tasks.common import Encoded, TextEncoder, load_pretrained, parse_text

POOLING_MODES = ("cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens", "lasttoken")


@dataclass(frozen=True)
class EmbeddingItem:
    encoded: Encoded
    normalize: bool

    @property
    def truncated(self) -> bool:
        return self.encoded.truncated


def read_pooling(model_dir: Path) -> tuple[str, ...]:
    """Pooling modes from sentence-transformers' 1_Pooling/config.json; mean without one."""
    path = model_dir / "1_Pooling" / "config.json"
    if not path.is_file():
        return ("mean_tokens",)
    config = json.loads(path.read_text())
    modes = tuple(m for m in POOLING_MODES if config.get(f"pooling_mode_{m}"))
    return modes or ("mean_tokens",)


def has_normalize_module(model_dir: Path) -> bool:
    path = model_dir / "modules.json"
    if not path.is_file():
        return False
    modules = json.loads(path.read_text())
    return any(str(m.get("type", "")).endswith("Normalize") for m in modules)


def max_seq_length(model_dir: Path, tokenizer: Any, config: Any) -> int:
    path = model_dir / "sentence_bert_config.json"
    if path.is_file():
        value = json.loads(path.read_text()).get("max_seq_length")
        if value:
            return int(value)
    limits = [tokenizer.model_max_length, getattr(config, "max_position_embeddings", None)]
    return min(int(x) for x in limits if x and x < 1_000_000) if any(limits) else 512


def pool(hidden: torch.Tensor, mask: torch.Tensor, modes: tuple[str, ...]) -> torch.Tensor:
    """Pool token states into one vector per row, concatenating modes like sentence-transformers."""
    mask_f = mask.unsqueeze(-1).to(hidden.dtype)
    parts = []
    for mode in modes:
        if mode == "cls_token":
            parts.append(hidden[:, 0])
        elif mode == "max_tokens":
            parts.append(hidden.masked_fill(mask_f == 0, torch.finfo(hidden.dtype).min).amax(1))
        elif mode == "lasttoken":
            last = mask.sum(1) - 1
            parts.append(hidden[torch.arange(hidden.size(0), device=hidden.device), last])
        else:
            summed = (hidden * mask_f).sum(1)
            counts = mask_f.sum(1).clamp(min=1e-9)
            parts.append(summed / (counts.sqrt() if mode == "mean_sqrt_len_tokens" else counts))
    return torch.cat(parts, dim=-1)


class EmbeddingHandler:
    task = "feature-extraction"
    # What one more pass costs, in padded tokens (see batching.plan_passes): with 64, short
    # uniform batches were split and ran 20-23 items a pass instead of 31, and slower, on
    # 2 CPU cores; 256 keeps them whole and still cuts mixed 5-250 word batches in ~3 passes.
    # At most pass_tokens padded tokens go into one pass.
    pass_overhead = 256.0
    pass_rows = 2.0
    pass_tokens = 8192
    request_model: type[BaseModel] = EmbeddingRequest
    content_types = frozenset({"text/plain"})

    def setup(self, model_dir: Path, runtime: Runtime) -> None:
        self.runtime = runtime
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=False)
        self.model = load_pretrained(AutoModel, model_dir, runtime)
        self.modes = read_pooling(model_dir)
        self.default_normalize = has_normalize_module(model_dir)
        self.max_length = max_seq_length(model_dir, self.tokenizer, self.model.config)
        self.encoder = TextEncoder(self.tokenizer, self.max_length)
        self.forward = lambda enc: self.model(**enc).last_hidden_state
        # Validated by Settings (EMBEDDING_RUNTIME); ONNX Runtime only on CPU.
        if os.environ.get("EMBEDDING_RUNTIME", "torch").strip().lower() == "onnx":
            if runtime.device.type != "cpu":
                raise ValueError("EMBEDDING_RUNTIME=onnx runs on CPU only")
            from app.tasks.onnx_encoder import OnnxEncoder

            names = ["input_ids", "attention_mask"]
            if self.encoder.with_type_ids:
                names.append("token_type_ids")
            self.forward = OnnxEncoder(self.model, names)

    def parse(self, body: bytes, content_type: str) -> BaseModel:
        return EmbeddingRequest(inputs=parse_text(body, self.encoder.max_chars))

    def decode(self, request: BaseModel) -> list[EmbeddingItem]:
        assert isinstance(request, EmbeddingRequest)
        texts = [request.inputs] if isinstance(request.inputs, str) else request.inputs
        normalize = self.default_normalize if request.normalize is None else request.normalize
        return [EmbeddingItem(e, normalize) for e in self.encoder.encode(texts)]

    @staticmethod
    def cost(item: EmbeddingItem) -> int:
        return len(item.encoded.ids)

    def predict(self, items: list[EmbeddingItem]) -> list[list[float]]:
        enc = self.encoder.pad([item.encoded for item in items], self.runtime.device)
        with torch.inference_mode():
            hidden = self.forward(enc)
            vectors = pool(hidden, enc["attention_mask"], self.modes).float()
            norms = vectors.norm(dim=-1, keepdim=True).clamp(min=1e-12)
            wanted = torch.tensor([item.normalize for item in items], device=vectors.device)
            vectors = torch.where(wanted.unsqueeze(-1), vectors / norms, vectors)
        return vectors.cpu().tolist()

    def encode(self, request: BaseModel, outputs: list[list[float]]) -> dict[str, Any]:
        return {"embeddings": outputs, "dimension": len(outputs[0]) if outputs else 0}

    def warmup_request(self) -> BaseModel:
        return EmbeddingRequest(inputs=["warm-up", "a second, longer warm-up sentence"])
