"""`smconsole local serve|status|reset`: the embedded local stack."""

from __future__ import annotations

import argparse
from pathlib import Path

from smconsole import locations
from smconsole.cli.common import print_json


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    local = sub.add_parser("local", parents=parents,
                           help="run or manage the embedded local stack (moto + data plane)")
    verbs = local.add_subparsers(dest="local_command", metavar="VERB", required=True)

    serve = verbs.add_parser("serve", help="run the stack in the foreground")
    serve.add_argument("--port", type=int, default=0, help="loopback port (0: pick a free one)")
    serve.add_argument("--state-dir", type=Path, help="state folder (default: XDG state dir)")
    serve.add_argument("--latency-ms", type=int, default=0,
                       help="simulated network round trip added to every API call")
    serve.set_defaults(handler=_serve)

    for name, handler, text in (
        ("status", _status, "is a stack running for this state folder, and where"),
        ("reset", _reset, "stop the stack and delete its state"),
        ("start", _start, "start the stack in the background (or reuse it); print its URL"),
        ("stop", _stop, "stop the background stack, keeping its state"),
    ):
        verb = verbs.add_parser(name, help=text)
        verb.add_argument("--state-dir", type=Path, help="state folder (default: XDG state dir)")
        verb.set_defaults(handler=handler)


def _dir(args: argparse.Namespace) -> Path:
    return args.state_dir or locations.local_stack_dir()


def _serve(args: argparse.Namespace) -> int:
    from smconsole import errors
    from smconsole.local.daemon.server import serve

    if args.latency_ms < 0:
        raise errors.SmconsoleError("--latency-ms must be 0 or more")
    return serve(_dir(args), port=args.port, latency_ms=args.latency_ms)


def _status(args: argparse.Namespace) -> int:
    from smconsole.local import control

    print_json(control.status(_dir(args)))
    return 0


def _reset(args: argparse.Namespace) -> int:
    from smconsole.local import control

    print_json({"wiped": str(control.reset(_dir(args)))})
    return 0


def _start(args: argparse.Namespace) -> int:
    from smconsole.local import control

    print_json({"url": control.ensure_running(_dir(args))})
    return 0


def _stop(args: argparse.Namespace) -> int:
    from smconsole.local import control

    print_json({"stopped": control.stop(_dir(args))})
    return 0
