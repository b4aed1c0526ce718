"""The batcher's waiting policy, with a timed stand-in for the forward pass (no model needed).

The policy decides when a batch starts; the real server tests cover what runs inside it.
"""

from __future__ import annotations

import asyncio
import importlib.util
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

CONTAINER = Path(__file__).resolve().parents[2] / "container"


def load_batching() -> ModuleType:
    """container/app/batching.py by path: it needs only the standard library."""
    name = "container_app_batching"
    spec = importlib.util.spec_from_file_location(name, CONTAINER / "app" / "batching.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while building the class
    spec.loader.exec_module(module)
    return module


batching = load_batching()


class TimedPass:
    """A forward pass that takes `seconds` whatever its size, and records each batch's size."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.sizes: list[int] = []
        self.lock = threading.Lock()
        self.gate = threading.Event()  # the first pass holds until this is set
        self.gate.set()

    def __call__(self, items: list[Any]) -> list[Any]:
        self.gate.wait()
        time.sleep(self.seconds)
        with self.lock:
            self.sizes.append(len(items))
        return [item * 2 for item in items]


@pytest.fixture
def make_batcher() -> Iterator[Callable[..., Any]]:
    started = []

    def make(predict: TimedPass, *, max_wait_s: float, max_batch_size: int = 64) -> Any:
        batcher = batching.Batcher(
            [predict], max_batch_size=max_batch_size, max_wait_s=max_wait_s, max_queue_size=1024
        )
        batcher.start()
        started.append(batcher)
        return batcher

    yield make
    for batcher in started:
        batcher.stop(timeout=5)


async def closed_loop(
    batcher: Any, callers: int, rounds: int, spread_s: float = 0.0
) -> list[float]:
    """`callers` callers each sending its next request as soon as it has an answer.

    `spread_s` staggers their returns over that long, as HTTP round trips do.
    """
    latencies: list[float] = []

    async def caller(k: int) -> None:
        for i in range(rounds):
            if i and spread_s:
                await asyncio.sleep(spread_s * k / callers)
            start = time.perf_counter()
            assert await batcher.submit([k * 1000 + i]) == [2 * (k * 1000 + i)]
            latencies.append(time.perf_counter() - start)

    await asyncio.gather(*(caller(k) for k in range(callers)))
    return latencies


def test_callers_that_come_straight_back_share_one_batch(make_batcher) -> None:
    # Without waiting for the answered callers, 16 callers settle into two batches of 8.
    forward = TimedPass(0.03)
    batcher = make_batcher(forward, max_wait_s=0.05)
    asyncio.run(closed_loop(batcher, callers=16, rounds=12, spread_s=0.01))
    steady = forward.sizes[3:]
    assert statistics.median(steady) == 16, forward.sizes


def test_a_lone_caller_never_waits_for_company(make_batcher) -> None:
    forward = TimedPass(0.002)
    batcher = make_batcher(forward, max_wait_s=0.5)
    latencies = asyncio.run(closed_loop(batcher, callers=1, rounds=20))
    assert set(forward.sizes) == {1}
    assert max(latencies) < 0.25, latencies  # far below the 0.5 s it would wait


def test_a_caller_that_does_not_come_back_costs_at_most_the_wait(make_batcher) -> None:
    forward = TimedPass(0.002)
    batcher = make_batcher(forward, max_wait_s=0.2)

    async def scenario() -> tuple[float, float]:
        # Two callers queue while a pass runs and are answered together; one sends again.
        forward.gate.clear()
        first = asyncio.ensure_future(batcher.submit([0]))
        await asyncio.sleep(0.05)
        pair = asyncio.gather(batcher.submit([1]), batcher.submit([2]))
        await asyncio.sleep(0.05)
        forward.gate.set()
        await first
        await pair
        start = time.perf_counter()
        await batcher.submit([3])
        waited = time.perf_counter() - start
        await asyncio.sleep(0.4)  # long idle: the expectation lapses
        start = time.perf_counter()
        await batcher.submit([4])
        return waited, time.perf_counter() - start

    waited, after_idle = asyncio.run(scenario())
    assert 0.15 < waited < 0.6, waited
    assert after_idle < 0.1, after_idle


def test_a_batch_never_exceeds_its_item_cap(make_batcher) -> None:
    forward = TimedPass(0.01)
    batcher = make_batcher(forward, max_wait_s=0.05, max_batch_size=8)
    asyncio.run(closed_loop(batcher, callers=20, rounds=5))
    assert max(forward.sizes) <= 8
    assert sum(forward.sizes) == 100
