"""One module per task; HANDLERS maps HF task names onto their handler classes."""

from __future__ import annotations

from app.tasks.embeddings import EmbeddingHandler

HANDLERS: dict[str, type] = {
    "feature-extraction": EmbeddingHandler,
    "sentence-similarity": EmbeddingHandler,
}
