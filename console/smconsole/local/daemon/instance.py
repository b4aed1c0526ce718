"""One endpoint instance: the bundled container's server as a local process."""

from __future__ import annotations

import collections
import concurrent.futures
import ctypes
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from smconsole import locations
from smconsole.local.daemon.statedir import STATE_ENV

PING_TIMEOUT_S = 2.0
STOP_GRACE_S = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def new_instance_id() -> str:
    return "i-" + secrets.token_hex(9)[:17]


class Instance:
    """A container process: spawned, pinged until healthy, fed requests, drained on stop.

    `on_log(instance, lines)` receives its stdout/stderr lines as they come; `on_exit(instance,
    code)` is called the moment the process ends (a thread waits on it), however it ends.
    """

    def __init__(
        self, variant: str, env: dict[str, str], *, on_log: Callable[[Instance, list[str]], None],
        pid_registry: PidRegistry | None = None,
        on_exit: Callable[[Instance, int], None] | None = None,
    ) -> None:
        self.id = new_instance_id()
        self.variant = variant
        self.port = free_port()
        self.env = env
        self.on_log = on_log
        self.on_exit = on_exit
        self.pid_registry = pid_registry
        self.tail: collections.deque[str] = collections.deque(maxlen=40)
        self.state = "Pending"  # Pending -> Healthy -> Stopping -> Stopped | Failed
        self.in_flight = 0
        self.started_at = time.time()
        self.process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._pump: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def stream_name(self) -> str:
        return f"{self.variant}/{self.id}"

    def start(self) -> None:
        container = locations.container_dir()
        # The user's AWS identity stays with the daemon: an instance gets the stack's URL and
        # dummy keys (see lifecycle), as a SageMaker container gets its role, nothing more.
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update({
            "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1",
        })
        env.update(self.env)
        env["SAGEMAKER_BIND_TO_PORT"] = str(self.port)
        env.setdefault("SERVER_HOST", "127.0.0.1")  # loopback only, unlike a real instance
        command = [sys.executable, str(container / "run_server.py"), "serve"]
        self.process = _SPAWNER.submit(
            subprocess.Popen, command, cwd=str(container), env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=_die_with_parent(os.getpid()),
        ).result()
        if self.pid_registry:
            self.pid_registry.add(self.process.pid)
        self._pump = threading.Thread(
            target=self._pump_output, name=f"log-{self.id}", daemon=True,
        )
        self._pump.start()
        threading.Thread(target=self._watch, name=f"exit-{self.id}", daemon=True).start()

    def _watch(self) -> None:
        assert self.process is not None
        code = self.process.wait()
        if self.on_exit is not None:
            self.on_exit(self, code)

    def _pump_output(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            self.tail.append(line)
            self.on_log(self, [line])

    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def wait_exited(self, timeout_s: float) -> int | None:
        """The exit code if the process ends within timeout_s, else None."""
        if self.process is None:
            return None
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def ping(self) -> bool:
        try:
            return httpx.get(f"{self.url}/ping", timeout=PING_TIMEOUT_S).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_healthy(self, timeout_s: float, should_stop: Callable[[], bool]) -> str | None:
        """None once /ping answers 200; else why not (exited, timed out, cancelled)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            code = self.exited()
            if code is not None:
                self._drain_pump()
                return f"the container exited with code {code}"
            if should_stop():
                return "cancelled"
            if self.ping():
                self.state = "Healthy"
                return None
            time.sleep(0.25)
        return f"the container did not answer /ping with 200 within {timeout_s:.0f} seconds"

    def _drain_pump(self) -> None:
        if self._pump is not None:
            self._pump.join(timeout=2)

    def last_lines(self, n: int = 10) -> list[str]:
        return list(self.tail)[-n:]

    def acquire(self) -> None:
        with self._lock:
            self.in_flight += 1

    def release(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def stop(self, *, drain_s: float = STOP_GRACE_S) -> None:
        """SIGTERM (the container drains), SIGKILL after the grace period."""
        self.state = "Stopping"
        deadline = time.monotonic() + drain_s
        while self.in_flight > 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        proc = self.process
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=5)
        self._drain_pump()
        if proc is not None and self.pid_registry:
            self.pid_registry.remove(proc.pid)
        if self.state == "Stopping":
            self.state = "Stopped"


def _die_with_parent(parent: int) -> Callable[[], None] | None:
    """The child's pre-exec step on Linux: SIGKILL when the daemon dies, however it dies.

    PR_SET_PDEATHSIG fires when the thread that forked the child ends, not the process, so
    every instance is forked by one thread that lives as long as the daemon (_SPAWNER). Other
    platforms keep only the pid registry's sweep at the next start.
    """
    if not sys.platform.startswith("linux") or _PRCTL is None:
        return None
    prctl = _PRCTL

    def arm() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the daemon died before the signal was armed
            os._exit(1)

    return arm


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl  # loaded before any fork
    except (OSError, AttributeError):
        return None


_PR_SET_PDEATHSIG = 1
_PRCTL = _load_prctl()
_SPAWNER = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="spawner")


class PidRegistry:
    """Instance pids on disk, so a daemon that died hard leaves no orphans after its restart."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._pids: set[int] = set()

    def add(self, pid: int) -> None:
        with self._lock:
            self._pids.add(pid)
            self._write()

    def remove(self, pid: int) -> None:
        with self._lock:
            self._pids.discard(pid)
            self._write()

    def _write(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text("".join(f"{p}\n" for p in sorted(self._pids)))
        tmp.replace(self.path)

    def _ours(self, pid: int) -> bool:
        """Our container server, started for this state folder (pids get reused)."""
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False
        if b"run_server.py" not in cmdline:
            return False
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            return True  # not ours to read: the command line has to do
        tagged = [e for e in environ if e.startswith(STATE_ENV.encode() + b"=")]
        mine = f"{STATE_ENV}={self.path.parent.resolve()}".encode()
        return not tagged or mine in tagged  # untagged: started by an older version

    def kill_leftovers(self) -> int:
        """Kill process groups recorded by an earlier daemon that still run our server."""
        if not self.path.is_file():
            return 0
        killed = 0
        try:
            lines = self.path.read_text("utf-8", "replace").splitlines()
        except OSError as exc:
            print(f"smconsole-local: {self.path.name}: skipped: {exc}", flush=True)
            lines = []
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                pid = int(line)
                if pid <= 1:
                    raise ValueError(line)
            except ValueError:
                print(f"smconsole-local: {self.path.name}:{number}: skipped: not a pid",
                      flush=True)
                continue
            if not self._ours(pid):
                continue
            try:
                os.killpg(pid, signal.SIGKILL)
                killed += 1
            except (ProcessLookupError, PermissionError):
                pass
        self.path.unlink(missing_ok=True)
        return killed
