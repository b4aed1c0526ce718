"""What the CLI writes as a newcomer pipes and watches it: a closed pipe is no traceback,
progress is one line per change off a terminal and one line redrawn on it."""

from __future__ import annotations

import io
import os

from fixtures.cli import run_into_a_closed_pipe
from smconsole.cli.progress import StatusLine


def test_a_closed_pipe_for_local_status(tmp_path) -> None:
    env = {**os.environ, "SMCONSOLE_STATE_DIR": str(tmp_path),
           "SMCONSOLE_LOCAL_DIR": str(tmp_path / "local")}
    result = run_into_a_closed_pipe("local", "status", "--json", env=env)
    assert result.returncode == 141 and result.stderr == ""


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_off_a_terminal_one_line_per_change_not_per_poll() -> None:
    stream = io.StringIO()
    status = StatusLine(stream)
    for second in range(6):
        status(f"[00:0{second}] endpoint: Creating", says="Creating")
    status("[00:06] endpoint: InService", says="InService")
    status.end()
    assert stream.getvalue() == "[00:00] endpoint: Creating\n[00:06] endpoint: InService\n"


def test_on_a_terminal_the_line_is_redrawn_and_kept_when_it_changes() -> None:
    stream = Terminal()
    status = StatusLine(stream)
    status("[00:00] endpoint: Creating", says="Creating")
    status("[00:01] endpoint: Creating", says="Creating")
    status("[00:02] endpoint: InService", says="InService")
    status.end()
    assert stream.getvalue() == ("\r\x1b[K[00:00] endpoint: Creating"
                                 "\r\x1b[K[00:01] endpoint: Creating\n"
                                 "\r\x1b[K[00:02] endpoint: InService\n")
