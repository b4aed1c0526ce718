"""The seed's example server, kept verbatim in behaviour as the benchmark's baseline.

An `async def` handler calls the model on the event loop, one request at a time; `/ping` always
answers 200. transformers 5 removed the `summarization` pipeline the seed used, so summarization
does what that pipeline did (tokenize with truncation, `generate(max_length, min_length,
do_sample=False)`, decode) in the same blocking handler. For feature-extraction (the seed only
shows summarization) it uses the feature-extraction pipeline plus mean pooling, answering our
response shape.

    MODEL_DIR=... HF_TASK=summarization PORT=8081 python container/tools/naive_server.py
"""

from __future__ import annotations

import os

import numpy as np
import torch
import uvicorn
from fastapi import FastAPI, Request
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer, pipeline

TASK = os.environ.get("HF_TASK", "summarization")
MODEL = os.environ.get("MODEL_DIR", os.environ.get("MODEL_NAME"))
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
app = FastAPI()


class Summarizer:
    """What transformers 4's pipeline("summarization") did for one text."""

    def __init__(self, model_dir: str) -> None:
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.model = AutoModelForSeq2SeqLM.from_pretrained(model_dir).to(DEVICE).eval()

    def __call__(self, text: str, max_length: int, min_length: int, do_sample: bool) -> list:
        inputs = self.tokenizer(text, truncation=True, return_tensors="pt").to(DEVICE)
        with torch.no_grad():
            out = self.model.generate(
                **inputs, max_length=max_length, min_length=min_length, do_sample=do_sample
            )
        return [{"summary_text": self.tokenizer.decode(out[0], skip_special_tokens=True)}]


if TASK == "summarization":
    model = Summarizer(MODEL)
else:
    model = pipeline(TASK, model=MODEL, device=DEVICE)


@app.get("/ping")
async def ping():
    return {"message": "ok"}


@app.post("/invocations")
async def invocations(request: Request):
    data = await request.json()
    if TASK == "summarization":
        paragraph = data.get("text")
        max_length = data.get("max_length", 50)
        min_length = data.get("min_length", 25)
        summary = model(paragraph, max_length=max_length, min_length=min_length, do_sample=False)
        return {"summary": summary[0]["summary_text"]}
    texts = data["inputs"] if isinstance(data["inputs"], list) else [data["inputs"]]
    embeddings = []
    for text in texts:
        tokens = np.asarray(model(text)[0])
        vector = tokens.mean(axis=0)
        if data.get("normalize", True):
            vector = vector / np.linalg.norm(vector)
        embeddings.append(vector.tolist())
    return {"embeddings": embeddings, "dimension": len(embeddings[0])}


if __name__ == "__main__":
    uvicorn.run(
        app,
        host=os.environ.get("HOST", "0.0.0.0"),
        port=int(os.environ.get("PORT", "8080")),
        proxy_headers=True,
    )
