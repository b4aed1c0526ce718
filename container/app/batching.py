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
    """Counters read by /stats and the benchmark (written only by the consumer thread)."""

    batches: int = 0
    items: int = 0
    requests: int = 0
    max_batch_items: int = 0
    split_batches: int = 0  # batches that failed and were rerun request by request
    failed_requests: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


class Batcher:
    """Gathers queued requests into forward passes of at most `max_batch_size` items.

    The consumer takes whatever is already queued and only waits (up to `max_wait_s`) when
    more requests have been admitted and are still being decoded: batching pays only when
    work is waiting, so a lone request never waits for company.
    """

    def __init__(
        self,
        predict: Callable[[list[Any]], list[Any]],
        *,
        max_batch_size: int,
        max_wait_s: float,
        max_queue_size: int,
        name: str = "batcher",
    ) -> None:
        self._predict = predict
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_s
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max_queue_size)
        self._incoming = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._held: _Job | None = None
        self.stats = BatchStats()

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Finish what is queued, then end the consumer thread."""
        if not self._thread.is_alive():
            return
        self._queue.put(_STOP)
        self._thread.join(timeout)

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

    def _run(self) -> None:
        while True:
            first = self._held or self._queue.get()
            self._held = None
            if first is _STOP:
                return
            batch = self._gather(first)
            if batch:
                self._execute(batch)

    def _gather(self, first: _Job) -> list[_Job]:
        batch = [first] if not first.future.done() else []
        size = len(first.items) if batch else 0
        deadline = time.monotonic() + self.max_wait_s
        while size < self.max_batch_size:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                with self._lock:
                    more_coming = self._incoming > 0
                remaining = deadline - time.monotonic()
                if not more_coming or remaining <= 0:
                    break
                try:
                    job = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
            if job is _STOP:
                self._held = job
                break
            if job.future.done():
                continue
            if size + len(job.items) > self.max_batch_size and batch:
                self._held = job  # next batch starts with it
                break
            batch.append(job)
            size += len(job.items)
        return batch

    def _execute(self, batch: list[_Job]) -> None:
        items = [item for job in batch for item in job.items]
        self.stats.batches += 1
        self.stats.requests += len(batch)
        self.stats.items += len(items)
        self.stats.max_batch_items = max(self.stats.max_batch_items, len(items))
        try:
            outputs = self._forward(items)
        except Exception as exc:  # noqa: BLE001 - any model failure becomes the request's 500
            if len(batch) == 1:
                self._fail(batch[0], exc)
                return
            # One bad input must fail only its own request: rerun each request alone.
            log.warning("batch of %d requests failed; retrying them one by one", len(batch))
            self.stats.split_batches += 1
            for job in batch:
                try:
                    job.resolve(self._forward(job.items))
                except Exception as job_exc:  # noqa: BLE001
                    self._fail(job, job_exc)
            return
        start = 0
        for job in batch:
            job.resolve(outputs[start : start + len(job.items)])
            start += len(job.items)

    def _forward(self, items: list[Any]) -> list[Any]:
        outputs: list[Any] = []
        for start in range(0, len(items), self.max_batch_size):
            chunk = items[start : start + self.max_batch_size]
            result = self._predict(chunk)
            if len(result) != len(chunk):
                raise RuntimeError(f"predict returned {len(result)} outputs for {len(chunk)} items")
            outputs.extend(result)
        return outputs

    def _fail(self, job: _Job, exc: Exception) -> None:
        self.stats.failed_requests += 1
        log.error("inference failed for a request of %d inputs", len(job.items), exc_info=exc)
        error = PredictionError(f"{type(exc).__name__}: {exc}")
        error.__cause__ = exc
        job.fail(error)
