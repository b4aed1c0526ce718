"""`smconsole submit --retry-failed BATCH [--endpoint NAME]`: the failed requests, once more.

Found by a ledger query (every failed request of the batch, not a screen's rows), sent as a new
batch linked to the original; requests already re-sent are left out unless --again.
"""

from __future__ import annotations

import argparse
import sys

from smconsole import errors
from smconsole.cli.batches import ProgressBar, batch_summary, watch_batches
from smconsole.cli.common import print_json, session_from_args


def run_retry(args: argparse.Namespace) -> int:
    from smconsole.ledger import Ledger
    from smconsole.services.requests import RequestService

    if args.file or args.resume:
        raise errors.SmconsoleError("submit --retry-failed takes a batch id, not a file or --resume")
    session = session_from_args(args)
    with Ledger() as ledger:
        service = RequestService(session, ledger, concurrency=args.concurrency)
        result = service.resubmit_failed(
            args.retry_failed, None if args.json else ProgressBar(label="retry"),
            endpoint=args.endpoint, again=args.again)
        if result is None:
            if args.json:
                print_json({"original": args.retry_failed, "batch_id": None, "sent": 0})
            else:
                print(f"{args.retry_failed}: no failed requests to send again", file=sys.stderr)
            return 0
        batch_id = result.batch.batch_id
        if args.wait:
            watch_batches(session, ledger, [batch_id], args.tick, "auto", quiet=args.json)
        summary = batch_summary(ledger, batch_id)
    summary.update(original=args.retry_failed, sent=result.sent, rejected=result.rejected,
                   unsent=result.unsent)
    if args.json:
        print_json(summary)
    else:
        counts = ", ".join(f"{n} {s}" for s, n in summary["counts"].items() if n)
        print(f"{batch_id}: {summary['total']} failed request(s) of {args.retry_failed} sent "
              f"again to {summary['endpoint']} ({counts})")
    return 1 if summary["counts"].get("failed") or summary["counts"].get("queued") else 0
