"""The `smconsole` command: the TUI by default, subcommands with --json for scripts."""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from collections.abc import Sequence

from smconsole import errors

# Each module owns its subcommands: register(subparsers, parents) adds them, and sets
# `handler` on the parsed namespace. Imported lazily so `smconsole endpoints --json`
# never loads Textual.
SUBCOMMAND_MODULES = (
    "smconsole.cli.local_cmd",
    "smconsole.cli.endpoints_cmd",
    "smconsole.cli.logs_cmd",
    "smconsole.cli.requests_cmd",
    "smconsole.cli.scale_cmd",
    "smconsole.cli.deploy_cmd",
    "smconsole.cli.delete_cmd",
    "smconsole.cli.container_cmd",
    "smconsole.cli.cost_cmd",
    "smconsole.cli.diagnose_cmd",
)


def connection_options(*, inherit: bool = False) -> argparse.ArgumentParser:
    """Options every command shares: where AWS is and how to talk to it.

    `inherit` (for subcommands) leaves unset options out of the namespace, so a subparser's
    defaults cannot overwrite `smconsole --local deploy ...` given before the subcommand.
    """
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("connection")
    unset: dict[str, object] = {"default": argparse.SUPPRESS} if inherit else {}
    group.add_argument("--profile", help="AWS profile (else AWS_PROFILE / default chain)", **unset)
    group.add_argument("--region", help="AWS region (else AWS_DEFAULT_REGION / the profile's region)", **unset)
    group.add_argument("--endpoint-url", help="send every AWS call to this URL", **unset)
    group.add_argument("--local", action="store_true",
                       help="use the embedded local stack (started if not running)", **unset)
    group.add_argument("--read-only", action="store_true",
                       help="refuse every mutating AWS call", **unset)
    return common


def build_parser() -> argparse.ArgumentParser:
    common = connection_options()
    parser = argparse.ArgumentParser(
        prog="smconsole", parents=[common],
        description="Operate SageMaker asynchronous inference endpoints from the terminal.",
    )
    parser.set_defaults(handler=None)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).register(sub, [connection_options(inherit=True)])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.handler is None:
            from smconsole.cli.tui_cmd import run_tui

            return run_tui(args)
        code = int(args.handler(args) or 0)
        sys.stdout.flush()  # inside the try: a reader gone (`| head`) shows up here
        return code
    except errors.SmconsoleError as exc:
        print(f"smconsole: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `smconsole ... | head -3`: the reader has what it wanted. Point stdout at /dev/null
        # so the interpreter's own flush at exit cannot raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + signal.SIGPIPE
