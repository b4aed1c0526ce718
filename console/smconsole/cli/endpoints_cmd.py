"""`smconsole endpoints`: every endpoint, as a table or JSON."""

from __future__ import annotations

import argparse

from smconsole.cli.common import print_json, session_from_args
from smconsole.models.endpoints import Endpoint


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("endpoints", parents=parents, help="list endpoints")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from smconsole.services.endpoints import EndpointsService

    endpoints = EndpointsService(session_from_args(args)).list_described()
    if args.json:
        print_json([_row(e) for e in endpoints])
    else:
        print_table(endpoints)
    return 0


def _row(endpoint: Endpoint) -> dict[str, object]:
    return {
        "name": endpoint.name, "status": endpoint.status, "kind": endpoint.kind or None,
        "instance_type": endpoint.instance_type,
        "current_instances": endpoint.current_instances,
        "desired_instances": endpoint.desired_instances,
        "created": endpoint.created, "last_modified": endpoint.last_modified,
        "failure_reason": endpoint.failure_reason, "arn": endpoint.arn,
    }


def print_table(endpoints: list[Endpoint]) -> None:
    headers = ("NAME", "STATUS", "KIND", "INSTANCE", "CUR/DES", "CREATED", "MODIFIED")
    rows = [
        (
            e.name, e.status, e.kind, e.instance_type or "",
            f"{_n(e.current_instances)}/{_n(e.desired_instances)}",
            _t(e.created), _t(e.last_modified),
        )
        for e in endpoints
    ]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    for line in [headers, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())


def _n(value: int | None) -> str:
    return "-" if value is None else str(value)


def _t(value: object) -> str:
    from datetime import datetime

    return value.astimezone().strftime("%Y-%m-%d %H:%M") if isinstance(value, datetime) else ""
