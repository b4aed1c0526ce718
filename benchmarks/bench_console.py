"""Console benchmark: 1,000 endpoints on a moto server, then 100,000 log lines tailed.

Prints first render and refresh cost of the endpoints table, and for the log tail the ingest
time, the event loop's worst stall and peak RSS, each against the naive approach measured in
the same run (describe-every-endpoint then add_row one by one; one message and one
`Log.write_line` per line). moto runs in its own process so its memory and CPU are not ours.

    python benchmarks/bench_console.py [--endpoints 1000] [--lines 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from smconsole.services.registry import Services
from smconsole.session import AwsSession

ROLE = "arn:aws:iam::123456789012:role/bench"
SIZE = (120, 40)
PAGE = os.sysconf("SC_PAGE_SIZE")


def start_moto() -> tuple[subprocess.Popen[str], str]:
    code = ("from moto.server import ThreadedMotoServer; import sys; "
            "s = ThreadedMotoServer(ip_address='127.0.0.1', port=0, verbose=False); s.start(); "
            "print('%s:%s' % s.get_host_and_port(), flush=True); sys.stdin.read()")
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    return proc, f"http://{proc.stdout.readline().strip()}"


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class StallMeter:
    """Worst lateness of a 10 ms asyncio sleep: how long the event loop was blocked."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None
        self._since = 0.0

    async def _run(self) -> None:
        while True:
            self._since = time.perf_counter()
            await asyncio.sleep(0.01)
            self.worst = max(self.worst, time.perf_counter() - self._since - 0.01)

    def start(self) -> None:
        self.worst = 0.0
        self._since = time.perf_counter()
        self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> float:
        # A sleep still pending counts too: a loop blocked until now never woke the meter.
        self.worst = max(self.worst, time.perf_counter() - self._since - 0.01)
        if self._task is not None:
            self._task.cancel()
        return self.worst


async def wait_for(pilot: Any, condition: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError("benchmark condition not reached")
        # Plain sleeps, not pilot.pause(): waiting for idle would add Pilot's own latency.
        await asyncio.sleep(0.005)


# ---- endpoints ------------------------------------------------------------------------------

def seed_endpoints(session: AwsSession, count: int) -> None:
    sm = session.client("sagemaker")
    sm.create_model(ModelName="bench-model", ExecutionRoleArn=ROLE,
                    PrimaryContainer={"Image": "bench:1", "ModelDataUrl": "s3://b/m.tar.gz"})
    sm.create_endpoint_config(
        EndpointConfigName="bench-config",
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": "bench-model",
                             "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}],
        AsyncInferenceConfig={"OutputConfig": {"S3OutputPath": "s3://b/out/"}})
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: sm.create_endpoint(EndpointName=f"bench-{i:05d}",
                                                   EndpointConfigName="bench-config"),
                      range(count)))


async def endpoints_ours(url: str, count: int) -> dict[str, float]:
    from smconsole.ui.app import SMConsole
    from textual.widgets import DataTable

    started = time.perf_counter()
    app = SMConsole(Services.build(AwsSession.local(url)))
    async with app.run_test(size=SIZE) as pilot:
        screen = app.endpoints_screen
        table = screen.query_one(DataTable)
        meter = StallMeter()
        meter.start()
        await wait_for(pilot, lambda: table.row_count == count)
        first = time.perf_counter() - started
        await wait_for(pilot, lambda: all(e.described for e in screen.endpoints.values()))
        described = time.perf_counter() - started
        stall = meter.stop()
        sync_times: list[float] = []
        original = screen._sync

        def timed_sync(*args: Any) -> None:
            t = time.perf_counter()
            original(*args)
            sync_times.append(time.perf_counter() - t)

        screen._sync = timed_sync  # type: ignore[method-assign]
        refreshes = []
        for _ in range(3):
            t = time.perf_counter()
            before = len(sync_times)
            screen.load_endpoints()
            await wait_for(pilot, lambda b=before: len(sync_times) > b and not screen._loading)
            refreshes.append(time.perf_counter() - t)
    return {"first_render_s": first, "described_s": described, "stall_s": stall,
            "refresh_s": min(refreshes), "refresh_ui_s": max(sync_times)}


async def endpoints_naive(url: str, count: int) -> dict[str, float]:
    """The obvious version: describe each endpoint and its config, then add rows one by one."""
    from textual import work
    from textual.app import App, ComposeResult
    from textual.widgets import DataTable

    session = AwsSession.local(url)
    sm = session.client("sagemaker")

    class Naive(App[None]):
        def compose(self) -> ComposeResult:
            yield DataTable()

        def on_mount(self) -> None:
            self.query_one(DataTable).add_columns("Name", "Status", "Instance", "Count", "Kind")
            self.load()

        @work(thread=True)
        def load(self) -> None:
            rows = []
            for page in sm.get_paginator("list_endpoints").paginate():
                for item in page["Endpoints"]:
                    ep = sm.describe_endpoint(EndpointName=item["EndpointName"])
                    cfg = sm.describe_endpoint_config(EndpointConfigName=ep["EndpointConfigName"])
                    variant = cfg["ProductionVariants"][0]
                    rows.append((ep["EndpointName"], ep["EndpointStatus"],
                                 variant["InstanceType"],
                                 str(ep["ProductionVariants"][0]["CurrentInstanceCount"]),
                                 "async" if "AsyncInferenceConfig" in cfg else "real-time"))
            table = self.query_one(DataTable)
            for row in rows:
                self.call_from_thread(table.add_row, *row)

    started = time.perf_counter()
    app = Naive()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(DataTable)
        meter = StallMeter()
        meter.start()
        await wait_for(pilot, lambda: table.row_count == count, timeout=600)
        full = time.perf_counter() - started
        stall = meter.stop()
    return {"first_render_s": full, "stall_s": stall}


# ---- logs -----------------------------------------------------------------------------------

def seed_logs(session: AwsSession, endpoint: str, lines: int) -> None:
    logs = session.client("logs")
    group = f"/aws/sagemaker/Endpoints/{endpoint}"
    logs.create_log_group(logGroupName=group)
    streams = ["AllTraffic/i-0a1b2c3d", "AllTraffic/i-9f8e7d6c"]
    for stream in streams:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    start = int(time.time() * 1000) - lines  # one event per ms, ending now
    per_stream = lines // len(streams)
    for s, stream in enumerate(streams):
        for offset in range(0, per_stream, 10_000):
            logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[
                {"timestamp": start + 2 * i + s,
                 "message": f"2026-11-25 INFO [{stream}] request {i} done in {i % 997} ms "
                            f"path=/invocations status=200"}
                for i in range(offset, min(offset + 10_000, per_stream))
            ])


def lines_seen(screen: Any) -> int:
    """Lines a logs screen has taken in: shown, or dropped past the ring in the view or, in a
    burst, before it."""
    return screen.view.event_count + screen.view.dropped + screen.pending_dropped


async def logs_ours(url: str, endpoint: str, lines: int, ring: int) -> dict[str, Any]:
    from smconsole.ui.app import SMConsole
    from smconsole.ui.screens.logs import LogsScreen
    from smconsole.ui.settings import ConsoleSettings

    app = SMConsole(Services.build(AwsSession.local(url)),
                    ConsoleSettings(log_max_lines=ring, log_since="1h", refresh_seconds=3600))
    samples: list[tuple[int, float]] = []

    class Sampled(LogsScreen):
        def ingest(self, batch: Any) -> None:
            super().ingest(batch)
            samples.append((lines_seen(self), rss_mb()))

    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.endpoints_screen.loaded)
        meter = StallMeter()
        started = time.perf_counter()
        screen = Sampled(app.services, app.settings, endpoint)
        app.push_screen(screen)
        # The stall is measured from the moment the view is up: mounting a screen is not ingest.
        await wait_for(pilot, lambda: screen.is_mounted)
        meter.start()
        await wait_for(pilot, lambda: lines_seen(screen) >= lines)
        ingest = time.perf_counter() - started
        stall = meter.stop()
        shown = screen.view.event_count
    return {"ingest_s": ingest, "stall_s": stall, "shown": shown, "samples": samples,
            "peak_rss_mb": peak_rss_mb()}


async def logs_naive(url: str, endpoint: str, lines: int) -> dict[str, float]:
    """The obvious version: a thread pages FilterLogEvents and posts one message per line."""
    from textual.app import App, ComposeResult
    from textual.message import Message
    from textual.widgets import Log

    logs = AwsSession.local(url).client("logs")

    class Line(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class Naive(App[None]):
        count = 0

        def compose(self) -> ComposeResult:
            yield Log(max_lines=lines)

        def on_mount(self) -> None:
            threading.Thread(target=self.tail, daemon=True).start()

        def tail(self) -> None:
            kwargs: dict[str, Any] = {"logGroupName": f"/aws/sagemaker/Endpoints/{endpoint}"}
            while True:
                page = logs.filter_log_events(**kwargs)
                for event in page["events"]:
                    self.post_message(Line(f"{event['logStreamName']} {event['message']}"))
                if not page.get("nextToken"):
                    return
                kwargs["nextToken"] = page["nextToken"]

        def on_line(self, message: Line) -> None:
            self.query_one(Log).write_line(message.text)
            self.count += 1

    app = Naive()
    async with app.run_test(size=SIZE) as pilot:
        meter = StallMeter()
        meter.start()
        started = time.perf_counter()
        await wait_for(pilot, lambda: app.count >= lines, timeout=600)
        ingest = time.perf_counter() - started
        stall = meter.stop()
    return {"ingest_s": ingest, "stall_s": stall}


def _runs(count: int, make: Callable[[], Any]) -> list[dict[str, Any]]:
    return [asyncio.run(make()) for _ in range(count)]


def _spread(runs: list[dict[str, Any]], key: str, scale: float = 1.0, unit: str = "s",
            digits: int = 3) -> str:
    """best / median of the runs: the best is the code, the spread is the shared machine."""
    values = sorted(r[key] * scale for r in runs)
    best, median = values[0], values[len(values) // 2]
    if len(values) == 1:
        return f"{best:.{digits}f}{unit}"
    return f"{best:.{digits}f}{unit} best, {median:.{digits}f}{unit} median of {len(values)}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of ours (naive runs once)")
    parser.add_argument("--skip-naive", action="store_true")
    args = parser.parse_args()
    proc, url = start_moto()
    try:
        session = AwsSession.local(url)
        t = time.perf_counter()
        seed_endpoints(session, args.endpoints)
        print(f"seeded {args.endpoints} endpoints in {time.perf_counter() - t:.1f}s "
              f"(moto in its own process at {url}); load average {os.getloadavg()[0]:.1f} "
              f"on {os.cpu_count()} cores")
        eps = _runs(args.repeat, lambda: endpoints_ours(url, args.endpoints))
        print(f"endpoints  first render (full table, {args.endpoints} rows): "
              f"{_spread(eps, 'first_render_s')}   [target ≤ 1.0s]")
        print(f"           all rows described (instance type, counts, kind): "
              f"{_spread(eps, 'described_s')}; worst event-loop stall "
              f"{_spread(eps, 'stall_s', 1000, ' ms', 0)}")
        print(f"           refresh (list pages, describes cached): "
              f"{_spread(eps, 'refresh_s')} wall, UI work {_spread(eps, 'refresh_ui_s', 1000, ' ms', 1)}")
        best_first = min(r["first_render_s"] for r in eps)
        best_described = min(r["described_s"] for r in eps)
        if not args.skip_naive:
            naive = asyncio.run(endpoints_naive(url, args.endpoints))
            print(f"           naive (describe each, then add_row per row): "
                  f"{naive['first_render_s']:.3f}s to a full table, stall "
                  f"{naive['stall_s'] * 1000:.0f} ms -> ours (best) is "
                  f"{naive['first_render_s'] / best_first:.1f}x faster to first render, "
                  f"{naive['first_render_s'] / best_described:.1f}x to fully described")

        endpoint = "bench-00000"
        t = time.perf_counter()
        seed_logs(session, endpoint, args.lines)
        print(f"seeded {args.lines:,} log lines in {time.perf_counter() - t:.1f}s; load average "
              f"{os.getloadavg()[0]:.1f}")
        start_rss = rss_mb()
        logs = _runs(args.repeat, lambda: logs_ours(url, endpoint, args.lines, ring=args.lines))
        print(f"logs       ingest {args.lines:,} lines: {_spread(logs, 'ingest_s')} "
              f"[target ≤ 3s]; worst stall {_spread(logs, 'stall_s', 1000, ' ms', 0)} "
              f"[target ≤ 100 ms]; peak RSS {peak_rss_mb():.0f} MiB "
              f"(RSS before {start_rss:.0f} MiB)")
        ring = max(1, args.lines // 4)
        small = asyncio.run(logs_ours(url, endpoint, args.lines, ring=ring))
        marks = []
        for fraction in (1, 2, 3, 4):
            wanted = ring * fraction
            sample = next((s for s in small["samples"] if s[0] >= wanted), small["samples"][-1])
            marks.append(f"{sample[0]:,}: {sample[1]:.0f} MiB")
        print(f"           ring of {ring:,}: RSS after " + ", ".join(marks)
              + f"; shown {small['shown']:,}, dropped {args.lines - small['shown']:,}")
        best_ingest = min(r["ingest_s"] for r in logs)
        best_stall = min(r["stall_s"] for r in logs)
        if not args.skip_naive:
            naive_logs = asyncio.run(logs_naive(url, endpoint, args.lines))
            print(f"           naive (one message + Log.write_line per line): "
                  f"{naive_logs['ingest_s']:.3f}s, worst stall "
                  f"{naive_logs['stall_s'] * 1000:.0f} ms -> ours (best) "
                  f"{naive_logs['ingest_s'] / best_ingest:.1f}x faster, stall "
                  f"{naive_logs['stall_s'] / max(best_stall, 1e-3):.1f}x lower")
        print(f"load average at the end {os.getloadavg()[0]:.1f}")
    finally:
        if proc.stdin:
            proc.stdin.close()
        proc.terminate()
        proc.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
