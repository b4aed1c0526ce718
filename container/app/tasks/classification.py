"""text-classification: labels with scores, top_k per input."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from app.model import Runtime
from app.schemas import ClassificationRequest
from app.tasks.common import Encoded, TextEncoder, input_limit, load_pretrained, parse_text


@dataclass(frozen=True)
class ClassificationItem:
    encoded: Encoded
    top_k: int | None

    @property
    def truncated(self) -> bool:
        return self.encoded.truncated


def top_labels(scores: torch.Tensor, id2label: dict[int, str], top_k: int | None) -> list[dict]:
    """Labels sorted by score, at most top_k (all when None)."""
    k = scores.numel() if top_k is None else min(top_k, scores.numel())
    values, indexes = scores.topk(k)
    return [
        {"label": id2label.get(int(i), str(int(i))), "score": float(v)}
        for v, i in zip(values.tolist(), indexes.tolist(), strict=True)
    ]


class ClassificationHandler:
    task = "text-classification"
    # What one more pass costs, in padded tokens (see batching.plan_passes): with 64, short
    # uniform batches were split and ran 20-23 items a pass instead of 31, and slower, on
    # 2 CPU cores; 256 keeps them whole and still cuts mixed 5-250 word batches in ~3 passes.
    # At most pass_tokens padded tokens go into one pass.
    pass_overhead = 256.0
    pass_rows = 2.0
    pass_tokens = 8192
    request_model: type[BaseModel] = ClassificationRequest
    content_types = frozenset({"text/plain"})

    def setup(self, model_dir: Path, runtime: Runtime) -> None:
        self.runtime = runtime
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=False)
        self.model = load_pretrained(AutoModelForSequenceClassification, model_dir, runtime)
        self.max_input = input_limit(self.tokenizer, self.model.config)
        self.id2label = {int(k): v for k, v in self.model.config.id2label.items()}
        self.multi_label = self.model.config.problem_type == "multi_label_classification"
        self.encoder = TextEncoder(self.tokenizer, self.max_input)

    def parse(self, body: bytes, content_type: str) -> BaseModel:
        return ClassificationRequest(inputs=parse_text(body, self.encoder.max_chars))

    def decode(self, request: BaseModel) -> list[ClassificationItem]:
        assert isinstance(request, ClassificationRequest)
        texts = [request.inputs] if isinstance(request.inputs, str) else request.inputs
        return [ClassificationItem(e, request.top_k) for e in self.encoder.encode(texts)]

    @staticmethod
    def cost(item: ClassificationItem) -> int:
        return len(item.encoded.ids)

    def predict(self, items: list[ClassificationItem]) -> list[list[dict]]:
        enc = self.encoder.pad([item.encoded for item in items], self.runtime.device)
        with torch.inference_mode():
            logits = self.model(**enc).logits.float()
            scores = logits.sigmoid() if self.multi_label else logits.softmax(-1)
        return [
            top_labels(row, self.id2label, item.top_k)
            for row, item in zip(scores.cpu(), items, strict=True)
        ]

    def encode(self, request: BaseModel, outputs: list[list[dict]]) -> dict[str, Any]:
        return {"predictions": outputs}

    def warmup_request(self) -> BaseModel:
        return ClassificationRequest(inputs=["warm-up", "another warm-up sentence"])
