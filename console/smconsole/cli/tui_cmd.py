"""`smconsole` with no subcommand: open the TUI."""

from __future__ import annotations

import argparse

from smconsole.cli.common import session_from_args


def run_tui(args: argparse.Namespace) -> int:
    from smconsole.ui.settings import load_settings

    settings = load_settings(read_only=args.read_only)  # a bad file fails before any AWS call
    session = session_from_args(args)
    if args.local:
        from smconsole.local.control import ensure_demo_endpoint

        ensure_demo_endpoint(session)
    from smconsole.services.registry import Services
    from smconsole.ui.app import run_app

    # The console leaves the local stack running (the next start is instant): say so on quit.
    farewell = still_running_note() if args.local else None
    return run_app(Services.build(session), settings, farewell=farewell)


def still_running_note() -> str:
    """What quitting a --local console leaves behind, and how to end it."""
    from smconsole.local import control

    found = control.running()
    if found is None:
        return "smconsole: the local stack is not running"
    return (f"smconsole: the local stack is still running at {found['url']}; "
            "`smconsole local stop` stops it")
