"""/ping and /invocations as plain ASGI, in front of FastAPI's router.

These two routes are the only ones SageMaker calls, and under load thousands of times a
second. Through FastAPI's router, dependency solving and exception middleware an invocation
cost 242 µs of server CPU; here it costs 77 µs (a model that answers at once, c=64:
container/tools/http_overhead.py). With a tiny model answering 64 requests per pass,
that time is the gap between batches, when the model sits idle waiting for its callers to
come back. Everything else (/stats, 404s) stays with FastAPI.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from app.batching import PredictionError, QueueFull, ShuttingDown
from app.bodies import BodyTooLarge, ClientGone, read_body, trim_heap
from app.codec import ApiError, dumps, input_error, internal_error, prepare
from app.errors import InputError
from app.settings import Settings
from app.state import ServerState

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("container.server")
# One line per invocation, carrying the inference id SageMaker sent, so a request can be found
# in the logs by its id (uvicorn's own access line has no headers and is skipped for this path).
access_log = logging.getLogger("container.access")

CUSTOM_ATTRIBUTES = b"x-amzn-sagemaker-custom-attributes"
INFERENCE_ID = b"x-amzn-sagemaker-inference-id"
ATTRIBUTES_FIELD = "X-Amzn-SageMaker-Custom-Attributes"
# SageMaker's limit: at most 1,024 characters of printable ASCII.
MAX_ATTRIBUTES = 1024
# Bodies above this are parsed off the event loop so a 1 GB async payload cannot stall /ping.
PARSE_INLINE_LIMIT = 64 * 1024
_JSON = (b"content-type", b"application/json")
_PING_OK = dumps({"status": "ok"})
_ALLOWED = {"/ping": ("GET", "HEAD"), "/invocations": ("POST",)}


class HotRoutes:
    """ASGI middleware: answers /ping and /invocations itself, passes everything else on."""

    def __init__(self, app: ASGIApp, state: ServerState, settings: Settings) -> None:
        self.app = app
        self.state = state
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        allowed = _ALLOWED.get(scope["path"]) if scope["type"] == "http" else None
        if allowed is None:
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method not in allowed:
            error = ApiError(405, "method_not_allowed", f"{method} {scope['path']}")
            headers = {"Allow": ", ".join(allowed)}
            await _answer(send, error.status, error.payload(), _headers(scope, headers))
            return
        if scope["path"] == "/ping":
            await self._ping(send, head=method == "HEAD")
            return
        started = time.perf_counter()
        attributes = _header(scope, CUSTOM_ATTRIBUTES)
        if attributes is not None and not _valid_attributes(attributes):
            error = ApiError(
                400,
                "invalid_request",
                f"{ATTRIBUTES_FIELD}: at most {MAX_ATTRIBUTES} printable ASCII characters "
                f"(got {len(attributes)})",
                ATTRIBUTES_FIELD,
            )
            await _answer(send, 400, error.payload(), [_JSON])  # not echoed: it is the fault
            if self.settings.access_log:
                _log_invocation(scope, 400, time.perf_counter() - started)
            return
        self.state.in_flight += 1
        try:
            status, body, extra = await self._invoke(scope, receive)
        except ClientGone:
            return
        except ApiError as exc:
            status, body, extra = exc.status, exc.payload(), exc.headers
        except Exception as exc:  # any fault answers a JSON 500, never a trace
            log.error("unhandled error on POST /invocations", exc_info=exc)
            status, body, extra = 500, internal_error(exc).payload(), {}
        finally:
            self.state.in_flight -= 1
        await _answer(send, status, body, _headers(scope, extra))
        if self.settings.access_log:
            _log_invocation(scope, status, time.perf_counter() - started)
        if scope.get("smc.large_body"):
            await asyncio.to_thread(trim_heap)  # what parsing it freed goes back to the OS

    async def _ping(self, send: Send, head: bool) -> None:
        state = self.state
        if state.ready:
            status, body = 200, _PING_OK
        else:
            status = 503
            body = dumps({"status": "failed" if state.load_error else "loading"})
        await _answer(send, status, b"" if head else body, [_JSON], length=len(body))

    async def _invoke(self, scope: Scope, receive: Receive) -> tuple[int, bytes, dict[str, str]]:
        state, settings = self.state, self.settings
        handler, batcher = state.handler, state.batcher
        if not state.ready or handler is None or batcher is None:
            raise ApiError(503, "not_ready", "model is still loading", headers={"Retry-After": "5"})
        if state.stopping:
            raise _stopping()
        content_type = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
        body = None
        batcher.admit()
        try:
            try:
                body = await read_body(
                    _header(scope, b"content-length"),
                    receive,
                    settings.max_payload_bytes,
                    settings.spool_bytes,
                )
            except BodyTooLarge as exc:
                raise ApiError(413, "payload_too_large", str(exc), "body") from None
            args = (handler, body.data, content_type, settings.max_inputs)
            if len(body) > PARSE_INLINE_LIMIT or getattr(handler, "blocking_decode", False):
                parsed, items = await asyncio.to_thread(prepare, *args)
            else:
                parsed, items = prepare(*args)
        finally:
            batcher.release()
            if body is not None and body.large:
                body.close()
                scope["smc.large_body"] = True
        try:
            outputs = await batcher.submit(items)
        except QueueFull as exc:
            raise ApiError(503, "overloaded", str(exc), headers={"Retry-After": "1"}) from None
        except ShuttingDown:
            raise _stopping() from None
        except PredictionError as exc:
            if isinstance(exc.__cause__, InputError):
                raise input_error(exc.__cause__) from None
            raise ApiError(500, "model_error", str(exc)) from None
        answer = handler.encode(parsed, outputs)
        truncated = [i for i, item in enumerate(items) if getattr(item, "truncated", False)]
        if truncated:
            # Inputs cut to the model's length: their indexes, so the caller can tell.
            answer["truncated"] = truncated
        return 200, dumps(answer), {}


def _stopping() -> ApiError:
    return ApiError(
        503, "shutting_down", "the server is shutting down", headers={"Retry-After": "1"}
    )


def _valid_attributes(value: str) -> bool:
    return len(value) <= MAX_ATTRIBUTES and all(" " <= ch <= "~" for ch in value)


def _log_invocation(scope: Scope, status: int, seconds: float) -> None:
    client = scope.get("client")
    caller = f"{client[0]}:{client[1]}" if client else "-"
    inference_id = (_header(scope, INFERENCE_ID) or "-")[:128]
    access_log.info(
        '%s - "POST /invocations HTTP/%s" %d %.1fms inference-id=%s',
        caller,
        scope.get("http_version", "1.1"),
        status,
        seconds * 1000,
        inference_id,
    )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def _headers(scope: Scope, extra: dict[str, str]) -> list[tuple[bytes, bytes]]:
    headers = [_JSON]
    headers.extend((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in extra.items())
    # Custom attributes go back on every answer, errors included, as SageMaker passes them on.
    attributes = _header(scope, CUSTOM_ATTRIBUTES)
    if attributes is not None:
        headers.append((CUSTOM_ATTRIBUTES, attributes.encode("latin-1")))
    return headers


async def _answer(
    send: Send,
    status: int,
    body: bytes,
    headers: list[tuple[bytes, bytes]],
    length: int | None = None,
) -> None:
    headers = [*headers, (b"content-length", str(len(body) if length is None else length).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
