"""`smconsole` with no subcommand: open the TUI."""

from __future__ import annotations

import argparse

from smconsole.cli.common import session_from_args


def run_tui(args: argparse.Namespace) -> int:
    session = session_from_args(args)
    if args.local:
        from smconsole.local.control import ensure_demo_endpoint

        ensure_demo_endpoint(session)
    from smconsole.services.registry import Services
    from smconsole.ui.app import run_app
    from smconsole.ui.settings import ConsoleSettings

    services = Services.build(session)
    return run_app(services, ConsoleSettings(read_only=session.read_only))
