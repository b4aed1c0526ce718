"""Dynamic batching: one bounded queue, one consumer thread per device, batches across requests."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("container.batching")


class QueueFull(RuntimeError):
    """The queue holds as many requests as it may; the caller should retry later."""


class PredictionError(RuntimeError):
    """The model failed on this request's inputs; `__cause__` holds the original exception."""


@dataclass(eq=False)
class _Job:
    items: list[Any]
    future: asyncio.Future[list[Any]]
    loop: asyncio.AbstractEventLoop
    enqueued: float = field(default_factory=time.monotonic)

    def resolve(self, outputs: list[Any]) -> None:
        self.loop.call_soon_threadsafe(_settle, self.future, outputs, None)

    def fail(self, exc: BaseException) -> None:
        self.loop.call_soon_threadsafe(_settle, self.future, None, exc)


def _resolve_all(results: list[tuple[_Job, list[Any]]]) -> None:
    """Wake every request of a batch with one loop callback (one self-pipe write, not one each)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[list[Any]], Any]]] = {}
    for job, outputs in results:
        by_loop.setdefault(job.loop, []).append((job.future, outputs))
    for loop, settled in by_loop.items():
        loop.call_soon_threadsafe(_settle_many, settled)


def _settle_many(settled: list[tuple[asyncio.Future[list[Any]], Any]]) -> None:
    for future, outputs in settled:
        _settle(future, outputs, None)


def _settle(future: asyncio.Future[list[Any]], outputs: Any, exc: BaseException | None) -> None:
    if future.done():  # the client went away
        return
    if exc is None:
        future.set_result(outputs)
    else:
        future.set_exception(exc)


_STOP = object()


@dataclass
class BatchStats:
    """Counters read by /stats and the benchmark."""

    batches: int = 0
    items: int = 0
    requests: int = 0
    max_batch_items: int = 0
    split_batches: int = 0  # batches that failed and were rerun request by request
    failed_requests: int = 0
    running: int = 0  # batches in a forward pass right now
    peak_running: int = 0  # most batches ever in forward passes at once (one per consumer)

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


class Batcher:
    """Gathers queued requests into forward passes of at most `max_batch_size` items.

    One consumer thread per predictor (one predictor per device), all fed by one queue.

    The consumer takes whatever is already queued and only waits (up to `max_wait_s`) for
    requests it has reason to expect: ones admitted and still being decoded, and the callers
    it has just answered. A closed-loop caller (SageMaker's async agent keeps
    MaxConcurrentInvocationsPerInstance requests in flight) sends its next request as soon
    as it has an answer; without waiting for them, c callers settle into two alternating
    batches of c/2, and a model whose pass costs the same at any batch size (generation on
    a GPU, or a tiny model) runs at half its throughput. A lone caller is never made to
    wait: it is the only one answered, and its next request is the whole batch.
    """

    def __init__(
        self,
        predictors: list[Callable[[list[Any]], list[Any]]],
        *,
        max_batch_size: int,
        max_wait_s: float,
        max_queue_size: int,
        name: str = "batcher",
    ) -> None:
        if not predictors:
            raise ValueError("at least one predictor (one per device) is needed")
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_s
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max_queue_size)
        self._incoming = 0
        self._lock = threading.Lock()
        self._stats_lock = threading.Lock()
        self.stats = BatchStats()
        self._threads = [
            threading.Thread(target=self._run, args=(p,), name=f"{name}-{i}", daemon=True)
            for i, p in enumerate(predictors)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Finish what is queued, then end the consumer threads."""
        alive = [t for t in self._threads if t.is_alive()]
        for _ in alive:
            self._queue.put(_STOP)
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in alive:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

    @property
    def consumers(self) -> int:
        return len(self._threads)

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    def admit(self) -> None:
        """Note a request on its way in (body still being read/decoded)."""
        with self._lock:
            self._incoming += 1

    def release(self) -> None:
        with self._lock:
            self._incoming -= 1

    async def submit(self, items: list[Any]) -> list[Any]:
        """Queue one request's items and wait for their outputs, in order."""
        loop = asyncio.get_running_loop()
        job = _Job(items=items, future=loop.create_future(), loop=loop)
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            raise QueueFull(f"{self._queue.maxsize} requests already queued") from None
        return await job.future

    # ---- consumer thread -------------------------------------------------------------------

    def _run(self, predict: Callable[[list[Any]], list[Any]]) -> None:
        held: Any = None
        expected = 0  # requests worth waiting for: those queued meanwhile + those just answered
        answered_at = 0.0
        while True:
            first = held if held is not None else self._queue.get()
            if first is _STOP:
                return
            if time.monotonic() - answered_at > self.max_wait_s + 0.05:
                expected = 0  # the callers did not come straight back: no longer a busy loop
            batch, held = self._gather(first, expected)
            if batch:
                # Whatever queued during the pass is on its way anyway; the callers just
                # answered are likely to come straight back.
                backlog = self._execute(batch, predict)
                answered_at = time.monotonic()
                expected = backlog + (held is not None) + len(batch)

    def _gather(self, first: _Job, expected: int = 0) -> tuple[list[_Job], Any]:
        """The batch starting at `first`, and the job (or stop mark) left for the next one.

        Waits up to `max_wait_s` while fewer than `expected` requests have arrived or while
        admitted requests are still being decoded; never waits otherwise.
        """
        batch = [first] if not first.future.done() else []
        size = len(first.items) if batch else 0
        deadline = time.monotonic() + self.max_wait_s
        while size < self.max_batch_size:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                with self._lock:
                    more_coming = self._incoming > 0
                more_coming = more_coming or len(batch) < expected
                remaining = deadline - time.monotonic()
                if not more_coming or remaining <= 0:
                    break
                try:
                    job = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
            if job is _STOP:
                return batch, job
            if job.future.done():
                continue
            if size + len(job.items) > self.max_batch_size and batch:
                return batch, job  # the next batch starts with it
            batch.append(job)
            size += len(job.items)
        return batch, None

    def _execute(self, batch: list[_Job], predict: Callable[[list[Any]], list[Any]]) -> int:
        """Run the batch and answer its requests; returns how many were queued before answering."""
        items = [item for job in batch for item in job.items]
        with self._stats_lock:
            self.stats.batches += 1
            self.stats.requests += len(batch)
            self.stats.items += len(items)
            self.stats.max_batch_items = max(self.stats.max_batch_items, len(items))
            self.stats.running += 1
            self.stats.peak_running = max(self.stats.peak_running, self.stats.running)
        try:
            return self._run_batch(batch, items, predict)
        finally:
            with self._stats_lock:
                self.stats.running -= 1

    def _run_batch(
        self, batch: list[_Job], items: list[Any], predict: Callable[[list[Any]], list[Any]]
    ) -> int:
        failure: Exception | None = None
        try:
            outputs = self._forward(items, predict)
        except Exception as exc:  # noqa: BLE001 - any model failure becomes the request's 500
            failure = exc
        # Counted before answering: an answered caller's next request must not count twice.
        backlog = self._queue.qsize()
        if failure is None:
            results = []
            start = 0
            for job in batch:
                results.append((job, outputs[start : start + len(job.items)]))
                start += len(job.items)
            _resolve_all(results)
        elif len(batch) == 1:
            self._fail(batch[0], failure)
        else:
            # One bad input must fail only its own request: rerun each request alone.
            log.warning("batch of %d requests failed; retrying them one by one", len(batch))
            with self._stats_lock:
                self.stats.split_batches += 1
            for job in batch:
                try:
                    job.resolve(self._forward(job.items, predict))
                except Exception as job_exc:  # noqa: BLE001
                    self._fail(job, job_exc)
        return backlog

    def _forward(self, items: list[Any], predict: Callable[[list[Any]], list[Any]]) -> list[Any]:
        outputs: list[Any] = []
        for start in range(0, len(items), self.max_batch_size):
            chunk = items[start : start + self.max_batch_size]
            result = predict(chunk)
            if len(result) != len(chunk):
                raise RuntimeError(f"predict returned {len(result)} outputs for {len(chunk)} items")
            outputs.extend(result)
        return outputs

    def _fail(self, job: _Job, exc: Exception) -> None:
        with self._stats_lock:
            self.stats.failed_requests += 1
        log.error("inference failed for a request of %d inputs", len(job.items), exc_info=exc)
        error = PredictionError(f"{type(exc).__name__}: {exc}")
        error.__cause__ = exc
        job.fail(error)
