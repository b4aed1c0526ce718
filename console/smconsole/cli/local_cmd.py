"""`smconsole local serve|status|reset`: the embedded local stack."""

from __future__ import annotations

import argparse
import sys
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
        ("reset", _reset, "stop the stack and delete its state (the request ledger is kept)"),
        ("start", _start, "start the stack in the background (or reuse it); print its URL"),
        ("stop", _stop, "stop the background stack, keeping its state"),
    ):
        verb = verbs.add_parser(name, help=text)
        verb.add_argument("--state-dir", type=Path, help="state folder (default: XDG state dir)")
        # Every verb answers in JSON already; --json is accepted so scripts can say so.
        verb.add_argument("--json", action="store_true", help="print JSON (the default)")
        verb.set_defaults(handler=handler)
        if name == "start":
            verb.add_argument("--latency-ms", type=int, default=0,
                              help="simulated network round trip added to every API call")
        if name == "reset":
            verb.add_argument("--clear-ledger", action="store_true",
                              help="also forget every recorded request batch (the ledger is "
                                   "shared with real AWS sessions: their batches go too)")


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
    from smconsole.ledger import Ledger
    from smconsole.local import control

    wiped = control.reset(_dir(args))
    with Ledger() as ledger:
        if args.clear_ledger:
            cleared = ledger.clear()
            print(f"cleared the request ledger {ledger.path} ({cleared} batch(es))",
                  file=sys.stderr)
        else:
            kept = len(ledger.batches())
            if kept:
                # The stack's outputs are gone, but the ledger still lists their batches.
                print(f"kept the request ledger {ledger.path} ({kept} batch(es), real AWS "
                      "ones included); `smconsole local reset --clear-ledger` clears it too",
                      file=sys.stderr)
        print_json({"wiped": str(wiped), "ledger": str(ledger.path),
                    "ledger_cleared": bool(args.clear_ledger)})
    return 0


def _start(args: argparse.Namespace) -> int:
    from smconsole import errors
    from smconsole.local import control

    if args.latency_ms < 0:
        raise errors.SmconsoleError("--latency-ms must be 0 or more")
    root = _dir(args)
    found = control.running(root)
    if found is not None:
        current = int(found.get("latency_ms") or 0)
        if current != args.latency_ms:
            print(f"the local stack is already running with --latency-ms {current}; "
                  "`smconsole local stop` first to change it", file=sys.stderr)
        print_json({"url": found["url"], "started": False, "latency_ms": current})
        return 0
    url = control.ensure_running(root, latency_ms=args.latency_ms)
    print_json({"url": url, "started": True, "latency_ms": args.latency_ms})
    return 0


def _stop(args: argparse.Namespace) -> int:
    from smconsole.local import control

    print_json({"stopped": control.stop(_dir(args))})
    return 0
