"""Request and response bodies per task, plus the error body every failure shares."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

NonEmptyText = Annotated[str, StringConstraints(min_length=1)]
TextInputs = NonEmptyText | Annotated[list[NonEmptyText], Field(min_length=1)]


class _Request(BaseModel):
    # A misspelt option should be a 400 naming it, not silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


class EmbeddingRequest(_Request):
    inputs: TextInputs
    normalize: bool | None = None


class EmbeddingResponse(BaseModel):
    embeddings: list[list[float]]
    dimension: int


class SummarizationRequest(_Request):
    """The seed's request (`text`), or `inputs` like the other tasks."""

    text: TextInputs | None = None
    inputs: TextInputs | None = None
    max_length: Annotated[int, Field(ge=1, le=4096)] = 50
    min_length: Annotated[int, Field(ge=0, le=4096)] = 25

    @model_validator(mode="after")
    def _one_source(self) -> SummarizationRequest:
        if (self.text is None) == (self.inputs is None):
            raise ValueError("give exactly one of text or inputs")
        if self.min_length > self.max_length:
            raise ValueError("min_length must not exceed max_length")
        return self

    @property
    def texts(self) -> list[str]:
        value = self.text if self.text is not None else self.inputs
        assert value is not None
        return [value] if isinstance(value, str) else list(value)

    @property
    def single(self) -> bool:
        return isinstance(self.text if self.text is not None else self.inputs, str)


class ClassificationRequest(_Request):
    inputs: TextInputs
    top_k: Annotated[int, Field(ge=1)] | None = 1


class ImageRequest(_Request):
    """Images as base64 (optionally a data: URL) or s3:// URIs."""

    inputs: NonEmptyText | Annotated[list[NonEmptyText], Field(min_length=1)]
    top_k: Annotated[int, Field(ge=1)] | None = 5


class Label(BaseModel):
    label: str
    score: float


class ErrorBody(BaseModel):
    """What every non-2xx answer carries: a kind, a message, and the field at fault if any."""

    error: str
    message: str
    field: str | None = None
