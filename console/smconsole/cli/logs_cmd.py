"""`smconsole logs NAME`: an endpoint's CloudWatch logs, optionally followed."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime

from smconsole.cli.common import session_from_args
from smconsole.models.logs import LogEvent, TailState


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("logs", parents=parents, help="print or follow an endpoint's logs")
    parser.add_argument("name", help="endpoint name")
    parser.add_argument("--follow", "-f", action="store_true", help="keep printing new events")
    parser.add_argument("--since", default="10m",
                        help="start from this long ago (5m, 1h, 2d) or an ISO time [10m]")
    parser.add_argument("--filter", dest="filter_pattern",
                        help="CloudWatch filter pattern (applied by the server)")
    parser.add_argument("--stream", help="one log stream instead of all of them")
    parser.add_argument("--json", action="store_true", help="one JSON object per event")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from smconsole.services.logs import LogsService, parse_since

    since = parse_since(args.since)
    service = LogsService(session_from_args(args))
    batches = service.tail(
        args.name, stream=args.stream, since_ms=since, filter_pattern=args.filter_pattern,
        follow=args.follow,
    )
    last_note = ""
    for batch in batches:
        for event in batch.events:
            print(_format(event, args.json), flush=False)
        sys.stdout.flush()
        status = batch.status
        # States worth telling a person about go to stderr, so stdout stays the log itself.
        if status.state not in (TailState.STREAMING, TailState.CAUGHT_UP) \
                and str(status) != last_note:
            last_note = str(status)
            print(f"smconsole: {last_note}", file=sys.stderr, flush=True)
        if batch.sampled:
            print("smconsole: live tail sampled this update", file=sys.stderr)
    return 0


def _format(event: LogEvent, as_json: bool) -> str:
    if as_json:
        return json.dumps({"timestamp": event.timestamp, "stream": event.stream,
                           "message": event.message, "event_id": event.event_id})
    when = datetime.fromtimestamp(event.timestamp / 1000).astimezone().isoformat(
        timespec="milliseconds")
    return f"{when} {event.stream} {event.message}"
