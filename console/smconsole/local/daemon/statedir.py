"""The state folder: private to its user, marked as ours, and which process serves it.

Both sides use this: the daemon prepares the folder; `local stop`/`reset` (control.py) check,
before they signal a pid or delete a folder, that the pid is this folder's daemon and that
the folder is a stack's.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

MARKER = "smconsole-local-state"  # present in every folder a stack has used
LOCK_FILE = "daemon.lock"  # held (flock) by the serving daemon for its whole life
STATE_ENV = "SMCONSOLE_LOCAL_STATE"  # in every instance's environment: whose it is


def prepare(state_dir: Path) -> None:
    """Claim the folder and make it private: 0700 for it and its folders, 0600 for what is in
    it, and the daemon's umask so files made from now on are 0600 too (journal, blobs,
    pending requests, models, logs)."""
    os.umask(0o077)
    claim(state_dir)
    for folder, _dirs, files in os.walk(state_dir):  # what an older version left readable
        os.chmod(folder, 0o700)
        for name in files:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                os.chmod(path, 0o600)


def claim(folder: Path) -> None:
    """Create the folder (0700) or adopt it, and mark it as a stack's.

    ValueError for a folder that holds something else: a mistyped --state-dir must not
    become a folder that `reset` may delete. A folder an earlier version served (its lock
    file is there) is adopted."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    if is_state_folder(folder):
        return
    # Two starts at once both find the folder unmarked; the first writes the marker before
    # anything else, so a file seen here next to a marker that exists by now is its sibling's
    # (the marker is looked for again after the listing, not before).
    others = [p for p in folder.iterdir() if p.name != MARKER]
    if others and not is_state_folder(folder) and not (folder / LOCK_FILE).is_file():
        raise ValueError(f"{folder} holds files and is not a local stack state folder (no "
                         f"{MARKER} file in it); choose an empty or new folder")
    (folder / MARKER).write_text("This folder holds an smconsole local stack's state; "
                                 "`smconsole local reset` deletes it.\n")


def is_state_folder(folder: Path) -> bool:
    return (folder / MARKER).is_file()


def is_daemon_of(pid: int, state_dir: Path) -> bool:
    """True when pid is an `smconsole local serve` process holding this folder's lock.

    A stale server.json may name a pid the system has since given to anything else."""
    if pid <= 1:
        return False
    proc = Path(f"/proc/{pid}")
    if proc.is_dir():
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        if b"serve" not in args or not any(b"smconsole" in a for a in args):
            return False
        lock = (state_dir / LOCK_FILE).resolve()
        try:
            fds = list((proc / "fd").iterdir())
        except OSError:
            return False
        for fd in fds:
            try:
                if Path(os.readlink(fd)) == lock:
                    return True
            except OSError:
                continue
        return False
    if sys.platform.startswith("linux"):
        return False  # no such process
    try:  # elsewhere: the command line must name serve and this folder
        shown = subprocess.run(["ps", "-o", "command=", "-p", str(pid)], capture_output=True,
                               text=True, timeout=5, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "smconsole" in shown and " serve" in shown and str(state_dir) in shown


def wait_until_unserved(state_dir: Path, timeout_s: float = 60.0) -> bool:
    """True once no process holds the folder's daemon lock (False after `timeout_s`).

    server.json goes before the daemon has finished exiting; a folder deleted in between
    is made again by its last writes (a reset under load left it behind)."""
    path = state_dir / LOCK_FILE
    if not path.is_file():
        return True
    deadline = time.monotonic() + timeout_s
    with path.open("a") as lock:
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.1)
                continue
            fcntl.flock(lock, fcntl.LOCK_UN)
            return True
