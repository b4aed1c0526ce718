#!/usr/bin/env python
"""Entry point: `python run_server.py [serve]`, as SageMaker's `docker run IMAGE serve` calls it."""

from __future__ import annotations

import asyncio
import logging
import logging.config
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import uvicorn
from app.settings import Settings, SettingsError

USAGE = "usage: run_server.py [serve]"


class OneLineFormatter(logging.Formatter):
    """One log record per line, tracebacks included, so line-based shippers keep them whole."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\n", " | ")


class SkipHealthChecks(logging.Filter):
    """SageMaker pings every few seconds; successful pings would drown the access log.

    uvicorn's lines for /invocations go too: the hot route writes its own, with the inference id.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if not (isinstance(args, tuple) and len(args) >= 5):
            return True
        return not ((args[2] == "/ping" and args[4] == 200) or args[2] == "/invocations")


def configure_logging() -> None:
    # Pipes are block-buffered by default; log shippers need each line as it happens.
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"line": {"()": OneLineFormatter, "fmt": fmt}},
            "filters": {"pings": {"()": SkipHealthChecks}},
            "handlers": {
                "stdout": {
                    "class": "logging.StreamHandler",
                    "formatter": "line",
                    "stream": "ext://sys.stdout",
                },
                "access": {
                    "class": "logging.StreamHandler",
                    "formatter": "line",
                    "stream": "ext://sys.stdout",
                    "filters": ["pings"],
                },
            },
            "root": {"handlers": ["stdout"], "level": "INFO"},
            "loggers": {
                "uvicorn": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
                "uvicorn.error": {"level": "INFO"},
                "uvicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
                "transformers": {"level": "WARNING"},
            },
        }
    )


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket for uvicorn to take over."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP,
    # and without it Nagle + delayed ACKs add ~40 ms to responses written in two parts.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


# What the shutdown budget keeps back to write the 503s and close before it ends.
ANSWER_MARGIN_S = 2.0


class BudgetedServer(uvicorn.Server):
    """uvicorn's server with one shutdown budget, counted from SIGTERM.

    uvicorn's graceful timeout and then the consumers' drain used to run one after the
    other (25 s + 25 s, where SageMaker kills at 30 s); here both share one deadline.
    Whatever cannot finish by it is answered 503 while there is time to send it.
    """

    def __init__(self, config: uvicorn.Config, state: Any, budget_s: float) -> None:
        super().__init__(config)
        self.state = state
        self.budget_s = budget_s

    def handle_exit(self, sig: int, frame: Any) -> None:
        if self.state.deadline is None:
            self.state.deadline = time.monotonic() + self.budget_s
        super().handle_exit(sig, frame)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        state = self.state
        if state.deadline is None:
            state.deadline = time.monotonic() + self.budget_s
        left = state.deadline - time.monotonic()
        loop = asyncio.get_running_loop()
        timer = loop.call_later(max(0.0, left - ANSWER_MARGIN_S), self._abandon)
        self.config.timeout_graceful_shutdown = max(0.0, left - ANSWER_MARGIN_S / 2)
        try:
            await super().shutdown(sockets)
        finally:
            timer.cancel()

    def _abandon(self) -> None:
        state = self.state
        state.stopping = True
        if state.batcher is not None:
            count = state.batcher.abandon("the server is shutting down")
            if count:
                logging.getLogger("container").warning(
                    "shutdown budget spent: %d request(s) answered 503", count
                )


def _stop_before_serving(signum: int, frame: object) -> None:
    # SIGTERM before uvicorn took over (or re-raised by it after draining): leave cleanly.
    raise SystemExit(0)


def main(argv: list[str]) -> int:
    if argv not in ([], ["serve"]):
        print(USAGE, file=sys.stderr)
        return 2
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _stop_before_serving)
    # Weights come from MODEL_DIR only; never reach for the Hub from a serving container.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    # Spinning OpenMP workers steal the cores the event loop needs to answer /ping, and on a
    # shared CPU they slow inference itself by 10x; sleeping workers cost microseconds.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    configure_logging()
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        logging.getLogger("container").error("bad setting: %s", exc)
        return 2

    log = logging.getLogger("container")
    # Bind before the heavy imports: SageMaker expects connections accepted within 250 ms;
    # the kernel queues them until uvicorn takes over the socket.
    try:
        sock = listen(settings.host, settings.port)
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", settings.host, settings.port, exc)
        return 1
    log.info("listening on http://%s:%d", settings.host, sock.getsockname()[1])

    from app.discovery import resolve
    from app.errors import ModelLoadError

    try:
        model_dir, task = resolve(settings.model_dir, settings.task)
    except ModelLoadError as exc:
        log.error("cannot serve: %s", exc)
        sock.close()
        return 1

    from app.main import create_app

    failed = []
    server: Any = None

    def on_fatal() -> None:
        failed.append(True)
        if server is not None:
            server.should_exit = True

    from app.protocol import protocol_class

    app = create_app(settings, model_dir, task, on_fatal)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        proxy_headers=True,
        forwarded_allow_ips="*",
        timeout_graceful_shutdown=int(settings.drain_timeout_s),
        http=protocol_class(settings.max_head_bytes),
        h11_max_incomplete_event_size=settings.max_head_bytes,
        timeout_keep_alive=75,  # above SageMaker's 60 s idle timeout
        access_log=settings.access_log,
        log_config=None,
        lifespan="on",
    )
    server = BudgetedServer(config, app.state.server, settings.drain_timeout_s)
    try:
        server.run(sockets=[sock])
        code = 1 if failed or not server.started else 0
    except SystemExit as exc:  # the SIGTERM uvicorn re-raises once it has shut down
        code = 1 if failed else int(exc.code or 0)
    batcher = app.state.server.batcher
    loader = app.state.server.loader
    if (batcher is not None and batcher.busy) or (loader is not None and loader.is_alive()):
        # A consumer still inside a forward pass, or the loader still importing torch and
        # reading weights: interpreter teardown under either aborts the process (rc -6,
        # "terminate called without an active exception") or hangs on the import lock.
        log.info("exiting with a forward pass or the model load still running")
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
