"""summarization: the seed's request ({"text", "max_length", "min_length"} → {"summary"})."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

from app.model import Runtime
from app.schemas import SummarizationRequest
from app.tasks.common import Encoded, TextEncoder, input_limit, load_pretrained, parse_text


@dataclass(frozen=True)
class SummaryItem:
    encoded: Encoded
    max_length: int
    min_length: int

    @property
    def truncated(self) -> bool:
        return self.encoded.truncated


class SummarizationHandler:
    task = "summarization"
    request_model: type[BaseModel] = SummarizationRequest
    content_types = frozenset({"text/plain"})
    # Generation's steps dwarf the input's length: one pass per batch, as before.
    pass_overhead = 1_000_000.0

    def setup(self, model_dir: Path, runtime: Runtime) -> None:
        self.runtime = runtime
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=False)
        self.model = load_pretrained(AutoModelForSeq2SeqLM, model_dir, runtime)
        self.max_input = input_limit(self.tokenizer, self.model.config)
        self.encoder = TextEncoder(self.tokenizer, self.max_input)

    def parse(self, body: bytes, content_type: str) -> BaseModel:
        return SummarizationRequest(text=parse_text(body, self.encoder.max_chars))

    def decode(self, request: BaseModel) -> list[SummaryItem]:
        assert isinstance(request, SummarizationRequest)
        return [
            SummaryItem(e, request.max_length, request.min_length)
            for e in self.encoder.encode(request.texts)
        ]

    @staticmethod
    def cost(item: SummaryItem) -> int:
        return len(item.encoded.ids)

    def predict(self, items: list[SummaryItem]) -> list[str]:
        # generate() takes one max/min length per call: one pass per distinct setting.
        groups: dict[tuple[int, int], list[int]] = {}
        for index, item in enumerate(items):
            groups.setdefault((item.max_length, item.min_length), []).append(index)
        outputs: list[str] = [""] * len(items)
        for (max_length, min_length), indexes in groups.items():
            enc = self.encoder.pad([items[i].encoded for i in indexes], self.runtime.device)
            with torch.inference_mode():
                generated = self.model.generate(
                    input_ids=enc["input_ids"],
                    attention_mask=enc["attention_mask"],
                    max_length=max_length,
                    min_length=min_length,
                    do_sample=False,
                )
            texts = self.tokenizer.batch_decode(generated, skip_special_tokens=True)
            for i, text in zip(indexes, texts, strict=True):
                outputs[i] = text.strip()
        return outputs

    def encode(self, request: BaseModel, outputs: list[str]) -> dict[str, Any]:
        assert isinstance(request, SummarizationRequest)
        if request.single:
            return {"summary": outputs[0]}
        return {"summaries": outputs}

    def warmup_request(self) -> BaseModel:
        return SummarizationRequest(
            text="warm-up text for the summarizer", max_length=8, min_length=1
        )
