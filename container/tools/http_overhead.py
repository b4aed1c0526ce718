#!/usr/bin/env python
"""What the HTTP path alone costs: our server with a model that answers at once.

Starts `run_server.py` with a stand-in summarization handler whose predict returns at once,
drives it with bench.py's client, and prints requests/s and the server's CPU time per request
(from /proc), at concurrency 1 and 64. Everything else (batcher, codec, routes, uvicorn) is
the real thing, so the figure is the per-request work that sits between two forward passes.

    python container/tools/http_overhead.py
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path

CONTAINER = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(CONTAINER))


class InstantSummarizer:
    """Validates the seed's request like the real handler; the 'model' answers at once."""

    task = "summarization"
    content_types: frozenset[str] = frozenset()

    def __init__(self) -> None:
        from app.schemas import SummarizationRequest

        self.request_model = SummarizationRequest

    def decode(self, request):
        return request.texts

    def predict(self, items):
        return ["a short summary" for _ in items]

    def encode(self, request, outputs):
        return {"summary": outputs[0]}


def serve() -> None:
    import runpy

    from app import discovery, model

    model.load_all = lambda *args, **kwargs: [InstantSummarizer()]
    discovery.resolve = lambda model_dir, task: (model_dir, "summarization")
    sys.argv = [str(CONTAINER / "run_server.py")]
    runpy.run_path(str(CONTAINER / "run_server.py"), run_name="__main__")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    import bench

    log = Path(tempfile.mkdtemp(prefix="http-overhead-")) / "server.log"
    env = {**os.environ, "SAGEMAKER_BIND_TO_PORT": "0", "SERVER_HOST": "127.0.0.1"}
    env.update(MODEL_DIR=str(log.parent), ACCESS_LOG="1")
    proc, port = bench.launch([sys.executable, __file__, "--serve"], env, log, "server", 60)
    try:
        body = [json.dumps({"text": "the cat sat on the mat", "max_length": 30}).encode()]
        asyncio.run(bench.drive(port, body, 8, 1.0, ping=False))  # warm-up
        for concurrency in (1, 64):
            before = cpu_seconds(proc.pid)
            level = asyncio.run(bench.drive(port, body, concurrency, 4.0, ping=False))
            per_request = (cpu_seconds(proc.pid) - before) / max(1, level.completed)
            print(
                f"c={concurrency:<3} {level.rps:8.0f} req/s  "
                f"server CPU {per_request * 1e6:5.0f} µs/request  errors {level.errors}"
            )
    finally:
        bench.stop(proc)
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        serve()
    else:
        sys.exit(main())
