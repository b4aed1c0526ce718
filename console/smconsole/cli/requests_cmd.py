"""`smconsole submit`, `watch` and `results`: async request batches from YAML, for scripts."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from smconsole import errors
from smconsole.cli.batches import ProgressBar, batch_summary, watch_batches
from smconsole.cli.common import print_json, refuse_if_read_only, session_from_args
from smconsole.models.requests import Status


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    submit = sub.add_parser(
        "submit", parents=parents, help="send a request batch (YAML) to an async endpoint",
        description="Validate a request batch, record it in the ledger and send it. "
                    "Refuses a batch already sent unless --again.",
    )
    submit.add_argument("file", nargs="?", help="the batch YAML (see configs/requests-*.yaml)")
    submit.add_argument("--json", action="store_true", help="print the result as JSON")
    submit.add_argument("--wait", action="store_true", help="watch until every result is in")
    submit.add_argument("--again", action="store_true",
                        help="send a batch even though the same one was sent before")
    submit.add_argument("--resume", action="store_true",
                        help="finish sending interrupted batches (this file's, or all)")
    submit.add_argument("--retry-failed", metavar="BATCH",
                        help="send the failed requests of BATCH again, as a new linked batch")
    submit.add_argument("--endpoint", metavar="NAME",
                        help="with --retry-failed: send them to this endpoint instead")
    submit.add_argument("--concurrency", type=int, default=16, help="invokes in flight (16)")
    submit.add_argument("--tick", type=float, default=2.0, help="seconds between checks")
    submit.set_defaults(handler=run_submit)

    watch = sub.add_parser(
        "watch", parents=parents, help="follow pending requests until their results are in",
        description="Reads the endpoint's SNS notifications through an SQS queue smconsole "
                    "owns when the endpoint has topics; otherwise lists each batch's S3 prefix.",
    )
    watch.add_argument("--batch", help="only this batch")
    watch.add_argument("--json", action="store_true", help="one JSON object per result")
    watch.add_argument("--tick", type=float, default=2.0, help="seconds between checks")
    watch.add_argument("--mode", choices=("auto", "sns", "s3"), default="auto",
                       help="how to find results (auto: SNS when the endpoint has topics)")
    watch.add_argument("--once", action="store_true", help="look once and exit")
    watch.add_argument("--remove-queue", action="store_true",
                       help="unsubscribe and delete smconsole's notification queue, then exit")
    watch.set_defaults(handler=run_watch)

    results = sub.add_parser(
        "results", parents=parents, help="export results as JSON lines (outputs fetched)",
    )
    results.add_argument("--batch", help="only this batch (default: every batch)")
    results.add_argument("--status", choices=[s.value for s in Status], action="append",
                         help="only requests with this status (repeatable)")
    results.add_argument("--no-body", action="store_true", help="do not fetch outputs")
    results.set_defaults(handler=run_results)


def _ledger() -> Any:
    from smconsole.ledger import Ledger

    return Ledger()


def run_submit(args: argparse.Namespace) -> int:
    from smconsole.services.requests import RequestService

    if args.retry_failed:
        from smconsole.cli.replay_cmd import run_retry

        return run_retry(args)
    if args.endpoint:
        raise errors.SmconsoleError("submit --endpoint goes with --retry-failed")
    if not args.file and not args.resume:
        raise errors.SmconsoleError("submit: give a batch file (or --resume)")
    planned = RequestService.plan(args.file) if args.file else None  # validates before AWS
    session = session_from_args(args)
    refuse_if_read_only(session, "resume" if args.resume else "submit")
    with _ledger() as ledger:
        service = RequestService(session, ledger, concurrency=args.concurrency)
        progress = None if args.json else ProgressBar()
        if args.resume:
            batch_id = None
            if planned is not None:
                unfinished = {b.batch_id for b in ledger.unfinished_batches()}
                matching = [b for b in service.earlier(planned) if b.batch_id in unfinished]
                if not matching:
                    raise errors.SmconsoleError(
                        f"{planned.file}: nothing to resume (no interrupted batch of this file)")
                batch_id = matching[0].batch_id
            results = service.resume(batch_id, progress=progress)
            if not results and not args.json:
                print("nothing to resume", file=sys.stderr)
        else:
            assert planned is not None
            results = [service.submit(planned, again=args.again, progress=progress)]
        batch_ids = [r.batch.batch_id for r in results]
        if args.wait and batch_ids:
            watch_batches(session, ledger, batch_ids, args.tick, "auto", quiet=args.json)
        summaries = [batch_summary(ledger, batch_id) for batch_id in batch_ids]
    if args.json:
        print_json(summaries[0] if len(summaries) == 1 and not args.resume else summaries)
    else:
        for summary in summaries:
            counts = ", ".join(f"{n} {s}" for s, n in summary["counts"].items() if n)
            print(f"{summary['batch_id']}: {summary['total']} requests to "
                  f"{summary['endpoint']} ({counts})")
    failed = any(s["counts"].get("failed") or s["counts"].get("queued") for s in summaries)
    return 1 if failed else 0


def run_watch(args: argparse.Namespace) -> int:
    from smconsole.services.watcher import OutputWatcher

    session = session_from_args(args)
    with _ledger() as ledger:
        if args.remove_queue:
            removed = OutputWatcher(session, ledger).remove_queue()
            print(f"removed {removed.url}" if removed else "no queue to remove",
                  file=sys.stderr)
            return 0
        batch_ids = [ledger.batch(args.batch).batch_id] if args.batch else None
        # Results recorded before this watch began were reported by whoever watched then.
        watch_batches(session, ledger, batch_ids, args.tick, args.mode, as_json=args.json,
                      once=args.once, since=time.time())
        summaries = [batch_summary(ledger, b) for b in batch_ids] if batch_ids else []
    return 1 if any(s["counts"].get("failed") for s in summaries) else 0


def run_results(args: argparse.Namespace) -> int:
    from smconsole.services.watcher import OutputWatcher

    with _ledger() as ledger:
        if args.batch:
            ledger.batch(args.batch)  # NotFound names the batch
        statuses = [Status(s) for s in args.status] if args.status else None
        requests = ledger.requests(batch_id=args.batch, statuses=statuses)
        session = None if args.no_body or not requests else session_from_args(args)
        watcher = OutputWatcher(session, ledger) if session else None  # type: ignore[arg-type]
        if watcher is None:
            from smconsole.services.results import result_record

            for request in requests:
                sys.stdout.write(json.dumps(result_record(request)) + "\n")
        else:
            watcher.export(requests, sys.stdout.write)
        sys.stdout.flush()
    return 0
