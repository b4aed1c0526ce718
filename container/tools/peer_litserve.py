#!/usr/bin/env python
"""The benchmark's LitServe peer: MiniLM behind LitServe's own batching (64 items, 5 ms).

Run by `bench.py --peers` with the python of the venv `tools/peers.sh` builds; never part of
the image. The model code is what a LitServe user would write: tokenize the batch padded to
its longest, mean-pool, normalize.

    MODEL_DIR=... PORT=... python tools/peer_litserve.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import litserve as ls
import torch
from transformers import AutoModel, AutoTokenizer


class MiniLMAPI(ls.LitAPI):
    def setup(self, device: str) -> None:
        model_dir = Path(os.environ["MODEL_DIR"])
        config = json.loads((model_dir / "sentence_bert_config.json").read_text())
        self.max_length = int(config.get("max_seq_length", 256))
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.device = device
        self.model = AutoModel.from_pretrained(model_dir).to(device).eval()

    def decode_request(self, request: dict) -> str:
        return request["inputs"]

    def predict(self, texts: list[str]) -> list[list[float]]:
        enc = self.tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        ).to(self.device)
        with torch.inference_mode():
            hidden = self.model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, dim=-1)
        return pooled.tolist()

    def encode_response(self, output: list[float]) -> dict:
        return {"embeddings": [output]}


if __name__ == "__main__":
    api = MiniLMAPI(max_batch_size=64, batch_timeout=0.005)
    server = ls.LitServer(api, accelerator=os.environ.get("DEVICE", "cpu"), workers_per_device=1)
    print(f"listening on http://127.0.0.1:{os.environ['PORT']}", flush=True)
    server.run(port=int(os.environ["PORT"]), host="127.0.0.1", generate_client_file=False)
