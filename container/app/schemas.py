"""Request and response bodies per task, plus the error body every failure shares."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)


def _text_or_texts(value: Any) -> str | list[str]:
    # One validator instead of a str | list union, so errors read "inputs: ..." not per-branch.
    if isinstance(value, str):
        if not value:
            raise ValueError("must not be empty")
        return value
    if isinstance(value, list):
        if not value:
            raise ValueError("must not be an empty list")
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item:
                raise ValueError(f"item {index} must be a non-empty string")
        return value
    raise ValueError("expected a string or a list of strings")


TextInputs = Annotated[
    str | list[str],
    PlainValidator(_text_or_texts),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}),
]


class _Request(BaseModel):
    # A misspelt option should be a 400 naming it, not silently ignored; and strict types:
    # "normalize": "yes" or "top_k": "3" is a client's mistake to name, not to guess at.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class EmbeddingRequest(_Request):
    """feature-extraction; `normalize` defaults to the model's own (its Normalize module)."""

    inputs: TextInputs
    normalize: bool | None = None


class SummarizationRequest(_Request):
    """The seed's request (`text`), or `inputs` like the other tasks."""

    text: TextInputs | None = None
    inputs: TextInputs | None = Field(default=None, validate_default=True)
    max_length: Annotated[int, Field(ge=1, le=4096)] = 50
    min_length: Annotated[int, Field(ge=0, le=4096)] = 25

    @field_validator("inputs")
    @classmethod
    def _one_source(cls, value: Any, info: ValidationInfo) -> Any:
        has_text = info.data.get("text") is not None
        if has_text == (value is not None):
            raise ValueError("give exactly one of text or inputs")
        return value

    @field_validator("min_length")
    @classmethod
    def _not_above_max(cls, value: int, info: ValidationInfo) -> int:
        if value > info.data.get("max_length", value):
            raise ValueError("must not exceed max_length")
        return value

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

    inputs: TextInputs
    top_k: Annotated[int, Field(ge=1)] | None = 5


class ErrorBody(BaseModel):
    """What every non-2xx answer carries: a kind, a message, and the field at fault if any."""

    error: str
    message: str
    field: str | None = None
