"""The app: FastAPI, the model loading in the background, and the two hot routes in front."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from app.batching import Batcher
from app.codec import dumps, internal_error
from app.hot_routes import HotRoutes
from app.settings import Settings
from app.state import ServerState

log = logging.getLogger("container.server")


def json_response(body: Any) -> Response:
    return Response(dumps(body), media_type="application/json")


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
        for h in handlers:
            if hasattr(h, "max_request_pixels"):
                h.max_request_pixels = settings.max_request_pixels
        batcher = Batcher(
            [h.predict for h in handlers],
            max_batch_size=batch_size,
            max_wait_s=settings.max_batch_wait_s,
            max_queue_size=settings.max_queue_size,
            name=f"batcher-{handler.task}",
            cost=getattr(handler, "cost", None),
            max_tokens=settings.max_batch_tokens or model.pass_budget(handler, settings),
            pass_overhead=getattr(handler, "pass_overhead", 0.0),
            pass_rows=getattr(handler, "pass_rows", 0.0),
        )
        batcher.start()
        state.handler, state.batcher = handler, batcher
        state.ready = True
        log.info(
            "ready: task=%s consumers=%d max_batch_size=%d max_batch_tokens=%s "
            "max_batch_wait_ms=%g max_queue_size=%d",
            handler.task,
            len(handlers),
            batch_size,
            batcher.max_tokens,
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
    """The app; the model loads in a thread so /ping answers (503) within milliseconds."""
    state = ServerState()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.loader = _load_in_background(settings, model_dir, task, state, on_fatal)
        yield
        if state.batcher is not None:
            # uvicorn has already waited for (or answered) the requests in flight; what is
            # left of the one shutdown budget goes to ending the consumers.
            left = settings.drain_timeout_s
            if state.deadline is not None:
                left = max(0.0, state.deadline - 0.5 - time.monotonic())
            if not await asyncio.to_thread(state.batcher.stop, left):
                log.warning("a forward pass is still running; exiting without it")
        log.info("stopped")

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.server = state

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        # Unknown paths and methods answer the same JSON shape as everything else.
        kinds = {404: "not_found", 405: "method_not_allowed"}
        error = kinds.get(exc.status_code, "http_error")
        message = f"{request.method} {request.url.path}: {exc.detail}"
        return Response(
            dumps({"error": error, "message": message}),
            exc.status_code,
            headers=dict(exc.headers or {}),
            media_type="application/json",
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return Response(internal_error(exc).payload(), 500, media_type="application/json")

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

    # Outermost but for Starlette's error middleware: SageMaker's two routes skip the router.
    app.add_middleware(HotRoutes, state=state, settings=settings)
    return app
