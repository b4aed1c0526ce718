"""One module per task; HANDLERS names the handler class for each HF task name."""

from __future__ import annotations

import importlib

_HANDLERS = {
    "feature-extraction": "app.tasks.embeddings:EmbeddingHandler",
    "sentence-similarity": "app.tasks.embeddings:EmbeddingHandler",
    "summarization": "app.tasks.summarization:SummarizationHandler",
    "text-classification": "app.tasks.classification:ClassificationHandler",
    "sentiment-analysis": "app.tasks.classification:ClassificationHandler",
    "image-classification": "app.tasks.images:ImageClassificationHandler",
}

SUPPORTED_TASKS = frozenset(_HANDLERS)


def handler_class(task: str) -> type:
    """The handler class for `task`; imports only that task's module."""
    module, _, name = _HANDLERS[task].partition(":")
    return getattr(importlib.import_module(module), name)
