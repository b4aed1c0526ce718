"""Start, find, stop and wipe the local stack daemon; deploy the demo endpoint on it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from smconsole import errors, locations
from smconsole.local.daemon import statedir
from smconsole.local.daemon.instance import PidRegistry

SERVER_FILE = "server.json"
START_TIMEOUT_S = 120.0
ALREADY_RUNNING = 3  # `local serve`'s exit code when another daemon holds the state dir


def _state_dir(state_dir: Path | str | None) -> Path:
    return Path(state_dir) if state_dir else locations.local_stack_dir()


def running(state_dir: Path | str | None = None) -> dict[str, Any] | None:
    """The running daemon's {url, pid, ...} for this state dir, or None."""
    root = _state_dir(state_dir)
    info = _server_file(root)
    if info is None or not _alive(info["pid"]) or not statedir.is_daemon_of(info["pid"], root):
        return None
    try:
        ok = httpx.get(f"{info['url']}/_smconsole/health", timeout=3).status_code == 200
    except httpx.HTTPError:
        ok = False
    return info if ok else None


def _server_file(root: Path) -> dict[str, Any] | None:
    """server.json's {url, pid, ...} when it is whole and well-formed, else None."""
    try:
        info = json.loads((root / SERVER_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not (isinstance(info, dict) and isinstance(info.get("pid"), int)
            and isinstance(info.get("url"), str)):
        return None
    return info


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        # A zombie (our own exited child) is not a server.
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return True


def ensure_running(state_dir: Path | str | None = None, *, latency_ms: int = 0) -> str:
    """The URL of the stack for this state dir, starting it in the background if needed."""
    root = _state_dir(state_dir)
    found = running(root)
    if found:
        return str(found["url"])
    try:
        statedir.claim(root)  # `reset` deletes only marked folders: this one is ours now
    except ValueError as exc:
        raise errors.SmconsoleError(str(exc)) from None
    command = [sys.executable, "-m", "smconsole", "local", "serve", "--port", "0",
               "--state-dir", str(root), "--latency-ms", str(latency_ms)]
    fd = os.open(root / "server.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with open(fd, "ab") as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                   start_new_session=True, close_fds=True)
    deadline = time.monotonic() + START_TIMEOUT_S
    ours = True
    while time.monotonic() < deadline:
        if ours and process.poll() is not None:
            if process.returncode != ALREADY_RUNNING:
                raise errors.SmconsoleError(
                    f"the local stack exited with code {process.returncode} while starting; "
                    f"see {root / 'server.log'}")
            ours = False  # another start holds the state dir: wait for that daemon instead
        found = running(root)
        if found and (not ours or int(found["pid"]) == process.pid):
            return str(found["url"])
        time.sleep(0.2)
    raise errors.SmconsoleError(
        f"the local stack did not become ready within {START_TIMEOUT_S:.0f} s; "
        f"see {root / 'server.log'}")


def stop(state_dir: Path | str | None = None, *, timeout_s: float = 60.0) -> bool:
    """SIGTERM the daemon (it drains its instances); True if one was running.

    Only a pid that is this folder's daemon is signalled: server.json may be stale and its
    pid reused by any other process since."""
    root = _state_dir(state_dir)
    path = root / SERVER_FILE
    info = _server_file(root)
    if info is None:
        return False
    pid = info["pid"]
    if not _alive(pid) or not statedir.is_daemon_of(pid, root):
        path.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.2)
    if _alive(pid) and statedir.is_daemon_of(pid, root):
        os.kill(pid, signal.SIGKILL)
    path.unlink(missing_ok=True)
    return True


def reset(state_dir: Path | str | None = None) -> Path:
    """Stop the daemon if it runs, then delete its state folder (only a stack's folder)."""
    root = _state_dir(state_dir)
    if root.is_dir() and any(root.iterdir()) and not statedir.is_state_folder(root):
        raise errors.SmconsoleError(
            f"{root} is not a local stack state folder (it has no {statedir.MARKER} file); "
            "nothing was deleted")
    if root.exists() and not root.is_dir():
        raise errors.SmconsoleError(f"{root} is not a folder; nothing was deleted")
    stop(root)
    # Instances of a daemon that was killed outright still run: end them with their state.
    PidRegistry(root / "instances.pids").kill_leftovers()
    if root.is_dir() and not statedir.wait_until_unserved(root):
        raise errors.SmconsoleError(
            f"a local stack still serves {root} (it holds {statedir.LOCK_FILE}); nothing was "
            "deleted")
    if root.exists():
        shutil.rmtree(root)
    return root


def status(state_dir: Path | str | None = None) -> dict[str, Any]:
    root = _state_dir(state_dir)
    info = running(root)
    out: dict[str, Any] = {
        "running": info is not None, "state_dir": str(root),
        "url": info["url"] if info else None, "pid": info["pid"] if info else None,
    }
    if info:
        try:
            out.update(httpx.get(f"{info['url']}/_smconsole/status", timeout=5).json())
        except (httpx.HTTPError, ValueError):
            pass
    return out


def ensure_demo_endpoint(session: Any) -> str:
    """Deploy the demo async endpoint unless it exists; its name."""
    from smconsole.local.demo import ensure_demo_endpoint as ensure

    return ensure(session)
