"""An invocation's body in, a JSON answer out: content types, validation, and the error shape."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from app.errors import InputError, TooLarge
from app.schemas import ErrorBody

try:
    import orjson

    def dumps(body: Any) -> bytes:
        return orjson.dumps(body)

    loads: Callable[[bytes], Any] = orjson.loads
except ImportError:  # orjson is an optional speed-up

    def dumps(body: Any) -> bytes:
        return json.dumps(body, separators=(",", ":")).encode()

    loads = json.loads

JSON_TYPES = frozenset({"", "application/json", "text/json"})


class ApiError(Exception):
    """An answer other than 200, with the JSON body it carries."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = ErrorBody(error=error, message=message, field=field)
        self.headers = headers or {}

    def payload(self) -> bytes:
        return dumps(self.body.model_dump(exclude_none=True))


def internal_error(exc: BaseException) -> ApiError:
    """The 500 for a fault of ours: the exception's kind only, never its text or trace."""
    return ApiError(500, "internal_error", f"internal error: {type(exc).__name__}")


def _field_of(err: ValidationError) -> tuple[str, str]:
    """The first field at fault, and a message naming every field at fault."""
    parts = []
    for error in err.errors():
        field = ".".join(str(part) for part in error["loc"]) or "body"
        parts.append((field, f"{field}: {error['msg'].removeprefix('Value error, ')}"))
    return parts[0][0], "; ".join(message for _, message in parts)


def _is_json(handler: Any, body: bytes | memoryview, content_type: str) -> bool:
    if content_type in JSON_TYPES or content_type.endswith("+json"):
        return True
    # Clients that omit ContentType often send octet-stream: take a JSON object as JSON
    # unless the task takes raw bytes (images).
    return (
        content_type == "application/octet-stream"
        and content_type not in handler.content_types
        and bytes(body[:4096]).lstrip()[:1] == b"{"
    )


def too_many(count: int, limit: int, field: str) -> ApiError:
    return ApiError(
        413,
        "too_many_inputs",
        f"{field}: {count} inputs; a request may hold {limit} (MAX_INPUTS_PER_REQUEST)",
        field,
    )


def _count_inputs(payload: dict, max_inputs: int) -> None:
    """Refuse an over-long input list before validation walks every item of it."""
    for name in ("inputs", "text"):
        value = payload.get(name)
        if isinstance(value, list) and len(value) > max_inputs:
            raise too_many(len(value), max_inputs, name)


def _validate(
    handler: Any, body: bytes | memoryview, content_type: str, max_inputs: int
) -> BaseModel:
    if _is_json(handler, body, content_type):
        try:
            payload = loads(body)
        except ValueError as exc:
            raise ApiError(400, "invalid_json", f"body: not valid JSON ({exc})", "body") from None
        if not isinstance(payload, dict):
            raise ApiError(400, "invalid_request", "body: expected a JSON object", "body")
        _count_inputs(payload, max_inputs)
        try:
            return handler.request_model.model_validate(payload)
        except ValidationError as exc:
            field, message = _field_of(exc)
            raise ApiError(400, "invalid_request", message, field) from None
    accepted = handler.content_types
    if content_type in accepted or ("image/*" in accepted and content_type.startswith("image/")):
        try:
            return handler.parse(body, content_type)
        except InputError as exc:
            raise input_error(exc) from None
    kinds = ", ".join(sorted({"application/json", *accepted}))
    raise ApiError(415, "unsupported_media_type", f"Content-Type {content_type!r}; use {kinds}")


def input_error(exc: InputError) -> ApiError:
    if isinstance(exc, TooLarge):
        return ApiError(413, "payload_too_large", str(exc), exc.field)
    return ApiError(400, "invalid_request", str(exc), exc.field)


def prepare(
    handler: Any, body: bytes | memoryview, content_type: str, max_inputs: int = 2048
) -> tuple[BaseModel, list[Any]]:
    """The validated request and its work items; ApiError (400/413/415) names what is wrong."""
    parsed = _validate(handler, body, content_type, max_inputs)
    try:
        items = handler.decode(parsed)
    except InputError as exc:
        raise input_error(exc) from None
    if len(items) > max_inputs:
        raise too_many(len(items), max_inputs, "inputs")
    return parsed, items
