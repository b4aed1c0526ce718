"""What subcommands share: building the session from the connection options, JSON output."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from datetime import datetime
from typing import Any

from smconsole import locations
from smconsole.session import AwsSession


def session_from_args(args: argparse.Namespace) -> AwsSession:
    """The session the options describe; --local starts (or reuses) the embedded stack."""
    if getattr(args, "local", False):
        from smconsole.local import control

        if control.running() is None:
            # Starting takes seconds and brings back a stack someone may have stopped on
            # purpose: say so rather than seem to hang.
            print(f"smconsole: the local stack is not running; starting it "
                  f"({locations.local_stack_dir()}; `smconsole local stop` stops it)",
                  file=sys.stderr, flush=True)
        url = control.ensure_running()
        return AwsSession.local(url, read_only=args.read_only)
    session = AwsSession(
        profile=args.profile, region=args.region, endpoint_url=args.endpoint_url,
        read_only=args.read_only,
    )
    if args.endpoint_url is None:
        session.check_credentials()
    return session


def refuse_if_read_only(session: AwsSession, action: str) -> None:
    """Refuse a mutating command up front, before any call (or rollback) is planned."""
    if session.read_only:
        from smconsole import errors

        raise errors.ReadOnlyRefused(f"read-only: {action} refused; nothing was changed")


def _default(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, default=_default, indent=2)
    sys.stdout.write("\n")
