"""The daemon: moto's WSGI app behind our router on one loopback port, until SIGTERM."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import threading
import time
from pathlib import Path

from smconsole.local.daemon import patches, statedir
from smconsole.local.daemon.internal import InternalAws
from smconsole.local.daemon.invoke import DataPlane
from smconsole.local.daemon.journal import Journal
from smconsole.local.daemon.metrics import MetricsPublisher
from smconsole.local.daemon.metricstore import MetricStore
from smconsole.local.daemon.router import Router
from smconsole.local.daemon.scaling import Autoscaler, ScalingRecord

READY_PREFIX = "smconsole local stack ready at "
ALREADY_RUNNING = 3
REFUSED = 2  # the state folder is not one a stack may use
SERVER_FILE = "server.json"


def serve(state_dir: Path, *, port: int = 0, host: str = "127.0.0.1",
          latency_ms: int = 0) -> int:
    """Run until SIGTERM/SIGINT; announce the URL on stdout and in state_dir/server.json."""
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    try:
        statedir.prepare(state_dir)
    except ValueError as exc:
        print(f"smconsole-local: {exc}", flush=True)
        return REFUSED
    lock = (state_dir / statedir.LOCK_FILE).open("a")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print(f"smconsole-local: another daemon already serves {state_dir}", flush=True)
        return ALREADY_RUNNING
    patches.apply()
    moto_app = DomainDispatcherApplication(create_backend_app)
    holder: dict[str, Router] = {}

    def app(environ: dict, start_response: object) -> object:
        return holder["router"](environ, start_response)

    class QuietHandler(MotoRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            """Per-request access lines would swamp the daemon's log."""

    server = make_server(host, port, app, threaded=True, request_handler=QuietHandler)
    url = f"http://{host}:{server.port}"
    aws = InternalAws(url)
    plane = DataPlane(state_dir, aws)
    record = ScalingRecord(state_dir / "scaling-activities.json")
    router = Router(moto_app, plane, Journal(state_dir / "journal"), record, latency_ms)
    holder["router"] = router
    plane.start()
    thread = threading.Thread(target=server.serve_forever, name="http", daemon=True)
    thread.start()

    started = time.monotonic()
    replayed, refused = router.replay()
    store = MetricStore(state_dir)
    restored = store.replay(lambda region: aws.client("cloudwatch", region))
    plane.resume(desired=_load_desired(state_dir))
    autoscaler = Autoscaler(plane, record)
    autoscaler.start()
    metrics = MetricsPublisher(plane, store)
    metrics.start()
    router.ready = True
    _write_server_file(state_dir, url, latency_ms)
    print(f"smconsole-local: replayed {replayed} journal entries ({refused} refused) and "
          f"{restored} metric datums in {time.monotonic() - started:.1f}s", flush=True)
    print(READY_PREFIX + url, flush=True)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        while not stop.wait(5.0):
            _save_desired(state_dir, plane)
    finally:
        router.ready = False
        _save_desired(state_dir, plane)
        autoscaler.stop()
        metrics.stop()
        plane.shutdown()
        metrics.flush()
        server.shutdown()
        server_file = state_dir / SERVER_FILE
        try:
            if json.loads(server_file.read_text()).get("pid") == os.getpid():
                server_file.unlink()
        except (OSError, ValueError):
            pass
        print("smconsole-local: stopped", flush=True)
    return 0


def _write_server_file(state_dir: Path, url: str, latency_ms: int) -> None:
    tmp = state_dir / (SERVER_FILE + ".tmp")
    tmp.write_text(json.dumps({"url": url, "pid": os.getpid(), "latency_ms": latency_ms}))
    tmp.replace(state_dir / SERVER_FILE)


def _save_desired(state_dir: Path, plane: DataPlane) -> None:
    """Instance counts the autoscaler chose survive a restart."""
    desired = {f"{r.region}/{r.name}": {v.name: v.desired for v in r.variants.values()}
               for r in plane.all_runtimes()}
    tmp = state_dir / "desired.tmp"
    tmp.write_text(json.dumps(desired))
    tmp.replace(state_dir / "desired.json")


def _load_desired(state_dir: Path) -> dict[str, dict[str, int]]:
    path = state_dir / "desired.json"
    if not path.is_file():
        return {}
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        found = None
    if not isinstance(found, dict):
        print("smconsole-local: desired.json: skipped: unreadable (each endpoint starts with "
              "its configured instance counts)", flush=True)
        return {}
    return {endpoint: {v: n for v, n in counts.items() if isinstance(n, int) and n >= 0}
            for endpoint, counts in found.items() if isinstance(counts, dict)}
