"""Real container servers: `run_server.py serve` as subprocesses on loopback ports."""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

CONTAINER = Path(__file__).resolve().parents[2] / "container"
RUN_SERVER = CONTAINER / "run_server.py"
LISTENING = re.compile(r"listening on http://[\d.]+:(\d+)")
START_DEADLINE_S = 120.0


def load_tiny_models() -> ModuleType:
    """container/tools/tiny_models.py, loaded by path: container/ is not an installed package."""
    spec = importlib.util.spec_from_file_location(
        "container_tiny_models", CONTAINER / "tools" / "tiny_models.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Server:
    """One running `run_server.py serve` process and what its start looked like."""

    proc: subprocess.Popen[bytes]
    log_path: Path
    url: str = ""
    ping_statuses: list[int] = field(default_factory=list)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stats(self) -> dict[str, Any]:
        return httpx.get(f"{self.url}/stats", timeout=5).json()

    def wait_until(self, condition, what: str, timeout: float = 30.0) -> dict[str, Any]:
        """Poll /stats until `condition(stats)` holds (cross-process state: poll, never sleep)."""
        deadline = time.monotonic() + timeout
        while True:
            stats = self.stats()
            if condition(stats):
                return stats
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; last stats {stats}")
            time.sleep(0.01)

    def terminate(self, timeout: float = 40.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise


def spawn(model_dir: Path, log_path: Path, **env: str) -> Server:
    """Start the server on a port the OS picks (SAGEMAKER_BIND_TO_PORT=0); not yet ready."""
    full_env = {
        **os.environ,
        "MODEL_DIR": str(model_dir),
        "SAGEMAKER_BIND_TO_PORT": "0",
        "SERVER_HOST": "127.0.0.1",
        "HF_HUB_OFFLINE": "1",
        **env,
    }
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, str(RUN_SERVER), "serve"],
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=log_path.parent,
        )
    return Server(proc=proc, log_path=log_path)


def wait_listening(server: Server) -> Server:
    deadline = time.monotonic() + START_DEADLINE_S
    while not server.url:
        if match := LISTENING.search(server.log()):
            server.url = f"http://127.0.0.1:{match.group(1)}"
            break
        if server.proc.poll() is not None:
            raise AssertionError(f"server exited {server.proc.returncode}:\n{server.log()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"server never listened:\n{server.log()}")
        time.sleep(0.02)
    return server


def wait_ready(server: Server) -> Server:
    wait_listening(server)
    deadline = time.monotonic() + START_DEADLINE_S
    with httpx.Client(timeout=5) as client:
        while True:
            try:
                status = client.get(f"{server.url}/ping").status_code
            except httpx.TransportError:  # a starved machine: not an answer, ask again
                status = None
            if status is not None:
                server.ping_statuses.append(status)
            if status == 200:
                return server
            if server.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"server never became ready:\n{server.log()}")
            time.sleep(0.05)


def start_server(model_dir: Path, log_path: Path, **env: str) -> Server:
    server = spawn(model_dir, log_path, **env)
    try:
        return wait_ready(server)
    except BaseException:
        # No fixture owns it yet: a server that failed to start would outlive the run.
        server.proc.kill()
        server.proc.wait()
        raise


def module_server(
    tmp_path_factory: pytest.TempPathFactory, model_dir: Path, name: str, **env: str
) -> Iterator[Server]:
    """Body of a module-scoped server fixture: one process shared by a test module."""
    server = start_server(model_dir, tmp_path_factory.mktemp(name) / "server.log", **env)
    try:
        yield server
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait()


class Pinger:
    """GET /ping over one kept-alive socket: times the server, not an HTTP client library."""

    def __init__(self, url: str) -> None:
        host, _, port = url.removeprefix("http://").partition(":")
        self._sock = socket.create_connection((host, int(port)), timeout=10)
        self._buffer = b""

    def ping(self) -> tuple[int, float]:
        start = time.perf_counter()
        self._sock.sendall(b"GET /ping HTTP/1.1\r\nHost: container\r\n\r\n")
        while b"\r\n\r\n" not in self._buffer:
            self._buffer += self._recv()
        head, _, self._buffer = self._buffer.partition(b"\r\n\r\n")
        length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
        while len(self._buffer) < length:
            self._buffer += self._recv()
        self._buffer = self._buffer[length:]
        return int(head.split()[1]), time.perf_counter() - start

    def _recv(self) -> bytes:
        data = self._sock.recv(65536)
        if not data:
            raise ConnectionError("server closed the connection")
        return data

    def close(self) -> None:
        self._sock.close()


def ping_while_running(url: str, call: Any) -> list[float]:
    """Ping back to back while `call` (an InBackground) runs; each must answer 200. Latencies."""
    latencies = []
    pinger = Pinger(url)
    try:
        while call.running:
            status, seconds = pinger.ping()
            assert status == 200
            latencies.append(seconds)
    finally:
        pinger.close()
    return latencies
