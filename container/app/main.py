"""HTTP: /ping and /invocations over the batched model; every failure answers a JSON ErrorBody."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from app.batching import Batcher, PredictionError, QueueFull
from app.errors import InputError
from app.schemas import ErrorBody
from app.settings import Settings

try:
    import orjson

    def _dumps(body: Any) -> bytes:
        return orjson.dumps(body)

    _loads: Callable[[bytes], Any] = orjson.loads
except ImportError:  # orjson is an optional speed-up

    def _dumps(body: Any) -> bytes:
        return json.dumps(body, separators=(",", ":")).encode()

    _loads = json.loads

log = logging.getLogger("container.server")

CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"
JSON_TYPES = frozenset({"", "application/json", "text/json"})
# Bodies above this are parsed off the event loop so a 1 GB async payload cannot stall /ping.
PARSE_INLINE_LIMIT = 256 * 1024


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


class ServerState:
    """What the server knows about its model; `ready` flips once, after warm-up."""

    def __init__(self) -> None:
        self.ready = False
        self.handler: Any = None
        self.batcher: Batcher | None = None
        self.load_error: str | None = None
        self.in_flight = 0


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        _dumps(body), status_code=status, headers=headers, media_type="application/json"
    )


def _field_of(err: ValidationError) -> tuple[str, str]:
    """The first field at fault, and a message naming every field at fault."""
    parts = []
    for error in err.errors():
        field = ".".join(str(part) for part in error["loc"]) or "body"
        parts.append((field, f"{field}: {error['msg'].removeprefix('Value error, ')}"))
    return parts[0][0], "; ".join(message for _, message in parts)


def _is_json(handler: Any, body: bytes, content_type: str) -> bool:
    if content_type in JSON_TYPES or content_type.endswith("+json"):
        return True
    # Clients that omit ContentType often send octet-stream: take a JSON object as JSON
    # unless the task takes raw bytes (images).
    return (
        content_type == "application/octet-stream"
        and content_type not in handler.content_types
        and body.lstrip()[:1] == b"{"
    )


def _validate(handler: Any, body: bytes, content_type: str) -> BaseModel:
    if _is_json(handler, body, content_type):
        try:
            payload = _loads(body)
        except ValueError as exc:
            raise ApiError(400, "invalid_json", f"body: not valid JSON ({exc})", "body") from None
        if not isinstance(payload, dict):
            raise ApiError(400, "invalid_request", "body: expected a JSON object", "body")
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
            raise ApiError(400, "invalid_request", str(exc), exc.field) from None
    kinds = ", ".join(sorted({"application/json", *accepted}))
    raise ApiError(415, "unsupported_media_type", f"Content-Type {content_type!r}; use {kinds}")


def _prepare(handler: Any, body: bytes, content_type: str) -> tuple[BaseModel, list[Any]]:
    parsed = _validate(handler, body, content_type)
    try:
        return parsed, handler.decode(parsed)
    except InputError as exc:
        raise ApiError(400, "invalid_request", str(exc), exc.field) from None


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "payload_too_large", f"body of {declared} bytes exceeds {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "payload_too_large", f"body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _load_in_background(
    settings: Settings,
    model_dir: Path,
    task: str,
    state: ServerState,
    on_fatal: Callable[[], None],
) -> threading.Thread:
    def run() -> None:
        try:
            # torch and transformers load here, not at import, so the port opens at once.
            from app import model

            handlers = model.load_all(model_dir, task, settings.device, settings.max_batch_size)
        except Exception as exc:
            state.load_error = f"{type(exc).__name__}: {exc}"
            log.error("model failed to load: %s", state.load_error, exc_info=exc)
            on_fatal()
            return
        handler = handlers[0]  # decode/encode need no device; predict runs on each
        batch_size = settings.max_batch_size or model.DEFAULT_BATCH_SIZE
        batcher = Batcher(
            [h.predict for h in handlers],
            max_batch_size=batch_size,
            max_wait_s=settings.max_batch_wait_s,
            max_queue_size=settings.max_queue_size,
            name=f"batcher-{handler.task}",
        )
        batcher.start()
        state.handler, state.batcher = handler, batcher
        state.ready = True
        log.info(
            "ready: task=%s consumers=%d max_batch_size=%d max_batch_wait_ms=%g max_queue_size=%d",
            handler.task,
            len(handlers),
            batch_size,
            settings.max_batch_wait_s * 1000,
            settings.max_queue_size,
        )

    thread = threading.Thread(target=run, name="model-loader", daemon=True)
    thread.start()
    return thread


def create_app(
    settings: Settings,
    model_dir: Path,
    task: str,
    on_fatal: Callable[[], None] = lambda: None,
) -> FastAPI:
    """The app; the model loads in a thread so the port answers (503) within milliseconds."""
    state = ServerState()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        _load_in_background(settings, model_dir, task, state, on_fatal)
        yield
        if state.batcher is not None:
            # uvicorn has already waited for in-flight requests; this ends the consumer.
            await asyncio.to_thread(state.batcher.stop, settings.drain_timeout_s)
        log.info("stopped")

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.server = state

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        headers = dict(exc.headers)
        attributes = request.headers.get(CUSTOM_ATTRIBUTES)
        if attributes is not None:
            headers[CUSTOM_ATTRIBUTES] = attributes
        return json_response(exc.body.model_dump(exclude_none=True), exc.status, headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        body = ErrorBody(error="internal_error", message=f"internal error: {type(exc).__name__}")
        return json_response(body.model_dump(exclude_none=True), 500)

    @app.get("/ping")
    async def ping() -> Response:
        if state.ready:
            return json_response({"status": "ok"})
        status = "failed" if state.load_error else "loading"
        return json_response({"status": status}, 503)

    @app.get("/stats")
    async def stats() -> Response:
        """Load and batching counters, for operators and the benchmark (SageMaker ignores it)."""
        batcher = state.batcher
        return json_response(
            {
                "ready": state.ready,
                "task": getattr(state.handler, "task", None),
                "in_flight": state.in_flight,
                "queued": batcher.depth if batcher else 0,
                "consumers": batcher.consumers if batcher else 0,
                "max_batch_size": batcher.max_batch_size if batcher else 0,
                **(batcher.stats.as_dict() if batcher else {}),
            }
        )

    @app.post("/invocations")
    async def invocations(request: Request) -> Response:
        state.in_flight += 1
        try:
            return await _invoke(request)
        finally:
            state.in_flight -= 1

    async def _invoke(request: Request) -> Response:
        handler, batcher = state.handler, state.batcher
        if not state.ready or handler is None or batcher is None:
            raise ApiError(503, "not_ready", "model is still loading", headers={"Retry-After": "5"})
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        batcher.admit()
        try:
            body = await _read_body(request, settings.max_payload_bytes)
            if len(body) > PARSE_INLINE_LIMIT or getattr(handler, "blocking_decode", False):
                parsed, items = await asyncio.to_thread(_prepare, handler, body, content_type)
            else:
                parsed, items = _prepare(handler, body, content_type)
        finally:
            batcher.release()
        try:
            outputs = await batcher.submit(items)
        except QueueFull as exc:
            raise ApiError(503, "overloaded", str(exc), headers={"Retry-After": "1"}) from None
        except PredictionError as exc:
            raise ApiError(500, "model_error", str(exc)) from None
        headers = {}
        attributes = request.headers.get(CUSTOM_ATTRIBUTES)
        if attributes is not None:
            headers[CUSTOM_ATTRIBUTES] = attributes
        return json_response(handler.encode(parsed, outputs), headers=headers)

    return app
