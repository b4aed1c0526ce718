"""Submit N small requests: the seed's sequential loop (upload, invoke) vs `RequestService`.

Runs on the embedded local stack (one daemon per latency setting), so both sides talk to the
same loopback URL; `--latency-ms 30` adds a simulated round trip to every call. The endpoint is
scaled to zero first so the container's inference does not compete for the CPU while we time
the submissions. Prints wall times and the ratio.

    python benchmarks/bench_submit.py [-n 1000] [--latency-ms 0 30] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from fixtures.local_stack import deploy_async_endpoint, start_stack
from smconsole.ledger import Ledger
from smconsole.services.requests import RequestService
from smconsole.session import AwsSession

BUCKET = "smconsole-bench"


def scale_to_zero(session: AwsSession, endpoint: str) -> None:
    sm = session.client("sagemaker")
    try:
        sm.update_endpoint_weights_and_capacities(
            EndpointName=endpoint,
            DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredWeight": 1.0,
                                          "DesiredInstanceCount": 0}],
        )
    except Exception as exc:  # noqa: BLE001 - a benchmark: say so and go on
        print(f"  (could not scale to zero: {exc}; inference will share the CPU)")
        return
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        variant = sm.describe_endpoint(EndpointName=endpoint)["ProductionVariants"][0]
        if variant.get("CurrentInstanceCount", 1) == 0 and \
                sm.describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "InService":
            return
        time.sleep(0.5)
    print("  (endpoint did not reach zero instances; inference shares the CPU)")


def seed_loop(session: AwsSession, endpoint: str, n: int, run: str) -> float:
    """The seed's step 8: upload the request JSON, then invoke with InputLocation, one by one."""
    s3 = session.client("s3")
    runtime = session.client("sagemaker-runtime")
    started = time.perf_counter()
    for i in range(n):
        key = f"seed/{run}/{i}.json"
        s3.put_object(Bucket=BUCKET, Key=key,
                      Body=json.dumps({"inputs": f"seed sentence {i}"}).encode())
        runtime.invoke_endpoint_async(EndpointName=endpoint, InputLocation=f"s3://{BUCKET}/{key}",
                                      ContentType="application/json")
    return time.perf_counter() - started


def ours(session: AwsSession, endpoint: str, n: int, run: str, concurrency: int,
         folder: Path) -> float:
    path = folder / f"bench-{run}.yaml"
    path.write_text(
        f"endpoint: {endpoint}\ninput_prefix: s3://{BUCKET}/ours/\nrequests:\n"
        f"  - body: {{inputs: \"{run} sentence {{{{i}}}}\"}}\n    repeat: {n}\n"
    )
    with Ledger(folder / f"ledger-{run}.sqlite3") as ledger:
        service = RequestService(session, ledger, concurrency=concurrency)
        started = time.perf_counter()  # from the YAML file: validation and ledger included
        result = service.submit(service.plan(path))
        elapsed = time.perf_counter() - started
    assert result.sent == n, result
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--latency-ms", type=int, nargs="+", default=[0, 30])
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="smconsole-bench-submit-"))
    print(f"{args.n} small requests; ours: concurrency {args.concurrency}, inline bodies; "
          f"cpus: {os.cpu_count()} (shared machine: other work may be running)")
    try:
        for latency in args.latency_ms:
            stack = start_stack(work / f"stack-{latency}", latency_ms=latency)
            try:
                session = stack.session()
                info = deploy_async_endpoint(session, f"bench-submit-{latency}", sns=False,
                                             bucket=BUCKET)
                scale_to_zero(session, info["endpoint"])
                seed = seed_loop(session, info["endpoint"], args.n, f"l{latency}")
                mine = ours(session, info["endpoint"], args.n, f"l{latency}", args.concurrency,
                            work)
            finally:
                stack.stop()
            print(f"latency {latency:>3} ms: seed loop {seed:7.2f} s ({args.n / seed:6.1f} req/s)"
                  f" | ours {mine:6.2f} s ({args.n / mine:6.1f} req/s) | "
                  f"ratio {seed / mine:5.1f}x", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
