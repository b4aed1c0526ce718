"""Helpers shared by the text tasks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.errors import InputError

# A token is rarely more than a few characters of text; past this many characters per token
# the model's truncation would cut anyway, so the text is cut first and the tokenizer never
# sees megabytes (a 10 MB text cost +1.5 GB and 11 s to tokenize before it was truncated).
CHARS_PER_TOKEN = 16


def parse_text(body: bytes | memoryview, max_chars: int | None = None) -> str:
    """A text/plain body as one input; at most `max_chars` characters of it are decoded."""
    if max_chars is not None and len(body) > 4 * max_chars:
        body = bytes(body[: 4 * max_chars])  # UTF-8: at most 4 bytes a character
        text = body.decode("utf-8", errors="ignore")[:max_chars]
    else:
        try:
            text = bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            raise InputError("body", "text/plain body is not UTF-8") from None
    if not text.strip():
        raise InputError("body", "empty text")
    return text


@dataclass(frozen=True)
class Encoded:
    """One text, tokenized and truncated to the model's length, ready to pad into a batch."""

    ids: list[int]
    type_ids: list[int]
    truncated: bool


class TextEncoder:
    """Tokenizes at decode time: texts cut by characters first, then truncated to max_tokens.

    The lengths it gives let the batcher group inputs by length, and a pass only pads.
    """

    def __init__(self, tokenizer: Any, max_tokens: int) -> None:
        from tokenizers import Tokenizer

        self.max_tokens = max_tokens
        self.max_chars = max_tokens * CHARS_PER_TOKEN
        # A copy: the HF wrapper reconfigures its backend's truncation on every call.
        self.backend = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
        self.backend.enable_truncation(max_tokens, direction=tokenizer.truncation_side)
        self.backend.no_padding()
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.left_pad = tokenizer.padding_side == "left"
        self.with_type_ids = "token_type_ids" in tokenizer.model_input_names

    def encode(self, texts: list[str]) -> list[Encoded]:
        cut = [t if len(t) <= self.max_chars else t[: self.max_chars] for t in texts]
        # One text (most requests) on the caller's thread: encode_batch hands even one text
        # to the tokenizer's thread pool, ~50 µs more of the event loop's time per request.
        encodings = (
            [self.backend.encode(cut[0])] if len(cut) == 1 else self.backend.encode_batch(cut)
        )
        return [
            Encoded(e.ids, e.type_ids, bool(e.overflowing) or len(t) > self.max_chars)
            for e, t in zip(encodings, texts, strict=True)
        ]

    def pad(self, encoded: list[Encoded], device: Any) -> dict[str, Any]:
        """The model's inputs for one pass: ids, attention mask (and type ids), padded."""
        import torch

        width = max(len(e.ids) for e in encoded)
        ids, mask, types = [], [], []
        for e in encoded:
            gap = width - len(e.ids)
            if self.left_pad:
                ids.append([self.pad_id] * gap + e.ids)
                mask.append([0] * gap + [1] * len(e.ids))
                types.append([0] * gap + e.type_ids)
            else:
                ids.append(e.ids + [self.pad_id] * gap)
                mask.append([1] * len(e.ids) + [0] * gap)
                types.append(e.type_ids + [0] * gap)
        inputs = {"input_ids": ids, "attention_mask": mask}
        if self.with_type_ids:
            inputs["token_type_ids"] = types
        return {k: torch.tensor(v, dtype=torch.long, device=device) for k, v in inputs.items()}


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
