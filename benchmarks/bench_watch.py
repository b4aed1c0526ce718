"""Collect N results: the seed's per-request 2-second GET loop vs `OutputWatcher`.

One local-stack endpoint with SNS topics. For each strategy a fresh batch of N small requests
is submitted (by our submitter, not timed), then collected:
- seed:    GET every pending request's OutputLocation, sleep 2 s, repeat (NoSuchKey = not yet)
- ours-s3: the watcher forced to S3 (listing per batch prefix / HEAD with back-off)
- ours-sns: the watcher reading the endpoint's SNS topics through its own SQS queue
S3+SNS+SQS calls are counted with a botocore `before-call` hook on the collector's clients
only. An observer queue (not counted) subscribed to the topics gives each output's creation
time (the notification's eventTime, in ms) for the detection delay.

    python benchmarks/bench_watch.py [-n 1000] [--latency-ms 0] [--tick 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from fixtures.local_stack import deploy_async_endpoint, start_stack
from smconsole.ledger import Ledger
from smconsole.models.requests import Status
from smconsole.services.requests import RequestService
from smconsole.services.watcher import OutputWatcher
from smconsole.session import AwsSession
from smconsole.specs.batch import split_s3_uri

BUCKET = "smconsole-bench"
COUNTED = ("s3", "sns", "sqs")


def counting_session(url: str) -> tuple[AwsSession, Counter[str]]:
    session = AwsSession.local(url)
    calls: Counter[str] = Counter()
    for service in COUNTED:
        session.client(service).meta.events.register(
            "before-call", lambda model, **_: calls.update([model.name]))
    return session, calls


class Observer:
    """Creation time of every output, from notifications on a queue of its own."""

    def __init__(self, session: AwsSession, topics: list[str]) -> None:
        self.sqs = session.client("sqs")
        self.url = self.sqs.create_queue(QueueName="bench-observer")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        for topic in topics:
            session.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn,
                                            Attributes={"RawMessageDelivery": "true"})
        self.created: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            reply = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10,
                                             WaitTimeSeconds=1)
            for message in reply.get("Messages", []):
                body = json.loads(message["Body"])
                when = datetime.fromisoformat(body["eventTime"]).timestamp()
                self.created[body["inferenceId"]] = when
            if reply.get("Messages"):
                self.sqs.delete_message_batch(QueueUrl=self.url, Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(reply["Messages"])])

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def submit(session: AwsSession, ledger: Ledger, endpoint: str, n: int, tag: str,
           folder: Path) -> str:
    path = folder / f"{tag}.yaml"
    path.write_text(f"endpoint: {endpoint}\nrequests:\n"
                    f"  - body: {{inputs: \"{tag} sentence {{{{i}}}}\"}}\n    repeat: {n}\n")
    service = RequestService(session, ledger)
    return service.submit(service.plan(path)).batch.batch_id


def seed_collect(session: AwsSession, ledger: Ledger, batch_id: str,
                 tick: float) -> dict[str, float]:
    """The seed's loop, for every pending request at once."""
    s3 = session.client("s3")
    pending = {r.inference_id: r.output_location for r in ledger.requests(batch_id=batch_id)}
    detected: dict[str, float] = {}
    while pending:
        for inference_id, location in list(pending.items()):
            bucket, key = split_s3_uri(location or "")
            try:
                s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            except s3.exceptions.NoSuchKey:
                continue
            detected[inference_id] = time.time()
            del pending[inference_id]
        if pending:
            time.sleep(tick)
    return detected


def ours_collect(session: AwsSession, ledger: Ledger, batch_id: str, tick: float,
                 mode: str) -> dict[str, float]:
    watcher = OutputWatcher(session, ledger, tick=tick, mode=mode)  # type: ignore[arg-type]
    watcher.run(batch_ids=[batch_id], until_done=True)
    return {r.inference_id: r.detected_at or 0.0 for r in ledger.requests(batch_id=batch_id)
            if r.status.finished}


def report(name: str, n: int, wall: float, calls: Counter[str], detected: dict[str, float],
           created: dict[str, float], since: float) -> dict[str, Any]:
    # Outputs written before the collector started say nothing about how fast it notices.
    delays = sorted(detected[i] - created[i] for i in detected
                    if i in created and created[i] >= since)
    total = sum(calls.values())
    row = {
        "strategy": name, "results": len(detected), "wall_s": wall, "calls": total,
        "calls_per_result": total / max(1, len(detected)),
        "delay_median_s": statistics.median(delays) if delays else None,
        "delay_p95_s": delays[int(0.95 * (len(delays) - 1))] if delays else None,
        "delay_max_s": delays[-1] if delays else None,
        "by_operation": dict(calls),
    }
    print(f"{name:9} {len(detected):5}/{n} results in {wall:6.1f} s | {total:6} calls = "
          f"{row['calls_per_result']:6.2f}/result | detection delay median "
          f"{row['delay_median_s']:.2f} s, p95 {row['delay_p95_s']:.2f} s, max "
          f"{row['delay_max_s']:.2f} s (over {len(delays)} written after it started) | "
          f"{dict(calls)}", flush=True)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--tick", type=float, default=2.0)
    parser.add_argument("--strategies", nargs="+", default=["seed", "ours-s3", "ours-sns"])
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="smconsole-bench-watch-"))
    print(f"{args.n} requests per strategy, tick {args.tick} s, latency {args.latency_ms} ms; "
          f"cpus: {os.cpu_count()} (shared machine: other work may be running)")
    stack = start_stack(work / "stack", latency_ms=args.latency_ms)
    rows = []
    try:
        admin = stack.session()
        info = deploy_async_endpoint(admin, "bench-watch", sns=True, bucket=BUCKET)
        observer = Observer(admin, [info["success_topic"], info["error_topic"]])
        with Ledger(work / "ledger.sqlite3") as ledger:
            for strategy in args.strategies:
                batch_id = submit(admin, ledger, info["endpoint"], args.n, strategy, work)
                session, calls = counting_session(stack.url)
                since = time.time()
                started = time.perf_counter()
                if strategy == "seed":
                    detected = seed_collect(session, ledger, batch_id, args.tick)
                else:
                    mode = "sns" if strategy == "ours-sns" else "s3"
                    detected = ours_collect(session, ledger, batch_id, args.tick, mode)
                wall = time.perf_counter() - started
                time.sleep(1.5)  # let the observer read the last notifications
                rows.append(report(strategy, args.n, wall, calls, detected, observer.created,
                                   since))
                failed = ledger.batch(batch_id).count(Status.FAILED)
                if failed:
                    print(f"  ({failed} requests failed)")
        observer.stop()
    finally:
        stack.stop()
        shutil.rmtree(work, ignore_errors=True)
    seed = next((r for r in rows if r["strategy"] == "seed"), None)
    if seed:
        for row in rows:
            if row is not seed:
                print(f"{row['strategy']}: {seed['calls'] / max(1, row['calls']):.0f}x fewer "
                      f"calls than the seed loop; wall {seed['wall_s'] / row['wall_s']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
