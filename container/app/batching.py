"""Dynamic batching: one bounded queue, one consumer thread per device, batches across requests.

Requests are queued whole and served in slices: each batch takes at most `max_batch_size`
items, round-robin over the queued requests, so a request of thousands of inputs shares the
model with the callers that arrive while it runs instead of holding it until it is done.
A batch is then cut into forward passes by length (see `plan_passes`): padding every input
to the batch's longest wastes most of a pass on mixed-length text.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("container.batching")


class QueueFull(RuntimeError):
    """The queue holds as many requests as it may; the caller should retry later."""


class ShuttingDown(RuntimeError):
    """The server is stopping and this request could not be finished within its budget."""


class PredictionError(RuntimeError):
    """The model failed on this request's inputs; `__cause__` holds the original exception."""


@dataclass(eq=False)
class _Job:
    items: list[Any]
    costs: list[int]
    future: asyncio.Future[list[Any]]
    loop: asyncio.AbstractEventLoop
    taken: int = 0  # items handed to batches so far
    left: int = 0  # items not yet answered
    outputs: list[Any] = field(default_factory=list)
    dead: bool = False  # failed or abandoned: its remaining items are skipped

    def __post_init__(self) -> None:
        self.left = len(self.items)
        self.outputs = [None] * len(self.items)

    def fail(self, exc: BaseException) -> None:
        self.dead = True
        self.loop.call_soon_threadsafe(_settle, self.future, None, exc)


@dataclass(frozen=True)
class _Slice:
    job: _Job
    start: int
    stop: int


def _resolve_all(done: list[_Job]) -> None:
    """Wake every finished request with one loop callback (one self-pipe write, not one each)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[list[Any]], Any]]] = {}
    for job in done:
        by_loop.setdefault(job.loop, []).append((job.future, job.outputs))
    for loop, settled in by_loop.items():
        loop.call_soon_threadsafe(_settle_many, settled)


def _settle_many(settled: list[tuple[asyncio.Future[list[Any]], Any]]) -> None:
    for future, outputs in settled:
        _settle(future, outputs, None)


def _settle(future: asyncio.Future[list[Any]], outputs: Any, exc: BaseException | None) -> None:
    if future.done():  # the client went away, or the request was abandoned at shutdown
        return
    if exc is None:
        future.set_result(outputs)
    else:
        future.set_exception(exc)


def plan_passes(
    costs: Sequence[int],
    max_items: int,
    max_tokens: int | None,
    overhead: float,
    rows: float = 0.0,
) -> list[list[int]]:
    """Split items into forward passes: indexes per pass, each pass of similar lengths.

    A pass pads its items to its longest, so it costs about `overhead + (n + rows) * longest`
    (token-equivalents): a fixed part, and a part that grows with the padded tokens, where
    `rows` is what a small pass wastes (on 2 CPU cores MiniLM's per-item cost at 16 tokens
    falls from 11 ms alone to 6.5 ms in a pass of 16 or more, a few rows' worth). Sorted by
    length, the cheapest split into contiguous runs is found exactly (O(n * max_items)). A
    pass holds at most `max_items` items and, when `max_tokens` is set, at most that many
    padded tokens (one item always fits).
    """
    order = sorted(range(len(costs)), key=costs.__getitem__)
    lengths = [max(1, costs[i]) for i in order]
    n = len(lengths)
    best = [0.0] + [float("inf")] * n
    cut = [0] * (n + 1)
    for end in range(1, n + 1):
        longest = lengths[end - 1]
        for start in range(end - 1, max(-1, end - 1 - max_items), -1):
            size = end - start
            if size > 1 and max_tokens is not None and size * longest > max_tokens:
                break
            total = best[start] + overhead + (size + rows) * longest
            if total < best[end]:
                best[end], cut[end] = total, start
    passes = []
    end = n
    while end > 0:
        passes.append(order[cut[end] : end])
        end = cut[end]
    passes.reverse()
    return passes


@dataclass
class BatchStats:
    """Counters read by /stats and the benchmark."""

    batches: int = 0  # forward passes
    gathers: int = 0  # batches taken from the queue (each cut into one or more passes)
    items: int = 0
    requests: int = 0
    max_batch_items: int = 0
    split_batches: int = 0  # passes that failed and were rerun request by request
    failed_requests: int = 0
    running: int = 0  # passes running right now
    peak_running: int = 0  # most passes ever running at once (one per consumer)
    padded_tokens: int = 0  # cost units the passes ran, padding included
    tokens: int = 0  # cost units of the items themselves

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


class Batcher:
    """Gathers queued requests into batches of at most `max_batch_size` items.

    One consumer thread per predictor (one predictor per device), all fed by one queue.

    The consumer takes whatever is already queued and only waits (up to `max_wait_s`) for
    requests it has reason to expect: ones admitted and still being decoded, and the callers
    it has just answered. A closed-loop caller (SageMaker's async agent keeps
    MaxConcurrentInvocationsPerInstance requests in flight) sends its next request as soon
    as it has an answer; without waiting for them, c callers settle into two alternating
    batches of c/2, and a model whose pass costs the same at any batch size (generation on
    a GPU, or a tiny model) runs at half its throughput. A lone caller is never made to
    wait: it is the only one answered, and its next request is the whole batch.

    `cost(item)` (tokens, say) lets a batch run as several passes of similar lengths, each
    within `max_tokens` padded; `pass_overhead` and `pass_rows` say what one more pass
    costs, in those units (see `plan_passes`).
    """

    def __init__(
        self,
        predictors: list[Callable[[list[Any]], list[Any]]],
        *,
        max_batch_size: int,
        max_wait_s: float,
        max_queue_size: int,
        name: str = "batcher",
        cost: Callable[[Any], int] | None = None,
        max_tokens: int | None = None,
        pass_overhead: float = 0.0,
        pass_rows: float = 0.0,
    ) -> None:
        if not predictors:
            raise ValueError("at least one predictor (one per device) is needed")
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_s
        self.max_queue_size = max_queue_size
        self.max_tokens = max_tokens
        self.pass_overhead = pass_overhead
        self.pass_rows = pass_rows
        self._cost = cost
        self._jobs: deque[_Job] = deque()  # queued requests with items not yet taken
        self._cond = threading.Condition()
        self._incoming = 0
        self._stopping = False
        self._closed = False  # abandoned: new requests are refused
        self._open: set[_Job] = set()  # submitted and not yet settled (event-loop side only)
        self._stats_lock = threading.Lock()
        self.stats = BatchStats()
        self._threads = [
            threading.Thread(target=self._run, args=(p,), name=f"{name}-{i}", daemon=True)
            for i, p in enumerate(predictors)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float | None = None) -> bool:
        """Finish what is queued, then end the consumer threads; True once they all ended."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            if thread.is_alive():
                thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not self.busy

    @property
    def busy(self) -> bool:
        """A consumer is still running (inside a forward pass, once stopped)."""
        return any(t.is_alive() for t in self._threads)

    def abandon(self, reason: str) -> int:
        """Answer every unfinished request with ShuttingDown, now; refuse new ones.

        Runs on the event loop. Passes already running finish in their threads and their
        outputs are dropped. Returns how many requests were abandoned.
        """
        with self._cond:
            self._closed = True
            for job in self._jobs:
                job.dead = True
            self._jobs.clear()
            self._cond.notify_all()
        open_jobs = list(self._open)
        for job in open_jobs:
            job.dead = True
            _settle(job.future, None, ShuttingDown(reason))
        self._open.clear()
        return len(open_jobs)

    @property
    def consumers(self) -> int:
        return len(self._threads)

    @property
    def depth(self) -> int:
        return len(self._jobs)

    def admit(self) -> None:
        """Note a request on its way in (body still being read/decoded)."""
        with self._cond:
            self._incoming += 1

    def release(self) -> None:
        with self._cond:
            self._incoming -= 1
            self._cond.notify_all()

    async def submit(self, items: list[Any]) -> list[Any]:
        """Queue one request's items and wait for their outputs, in order."""
        loop = asyncio.get_running_loop()
        costs = [self._cost(item) for item in items] if self._cost else [1] * len(items)
        job = _Job(items=items, costs=costs, future=loop.create_future(), loop=loop)
        if not items:
            return []
        with self._cond:
            if self._closed:
                raise ShuttingDown("the server is shutting down")
            if len(self._jobs) >= self.max_queue_size:
                raise QueueFull(f"{self.max_queue_size} requests already queued") from None
            self._jobs.append(job)
            self._cond.notify()
        self._open.add(job)
        try:
            return await job.future
        finally:
            self._open.discard(job)
            if not job.future.done() or job.future.cancelled():
                job.dead = True  # the caller went away: skip what is left of it

    # ---- consumer thread -------------------------------------------------------------------

    def _run(self, predict: Callable[[list[Any]], list[Any]]) -> None:
        expected = 0  # requests worth waiting for: those queued meanwhile + those just answered
        answered_at = 0.0
        while True:
            with self._cond:
                while not self._jobs and not self._stopping:
                    self._cond.wait()
                if not self._jobs:
                    return  # stopping, and nothing is left
            if time.monotonic() - answered_at > self.max_wait_s + 0.05:
                expected = 0  # the callers did not come straight back: no longer a busy loop
            slices = self._gather(expected)
            if slices:
                # Whatever queued during the pass is on its way anyway; the callers just
                # answered are likely to come straight back.
                expected = self._execute(slices, predict)
                answered_at = time.monotonic()

    def _gather(self, expected: int = 0) -> list[_Slice]:
        """Up to `max_batch_size` items, taken round-robin from the queued requests.

        Waits up to `max_wait_s` while fewer than `expected` requests are queued or while
        admitted requests are still being decoded; never waits otherwise.
        """
        deadline = time.monotonic() + self.max_wait_s
        with self._cond:
            while True:
                queued = sum(len(j.items) - j.taken for j in self._jobs)
                if queued >= self.max_batch_size or self._stopping:
                    break
                more_coming = self._incoming > 0 or len(self._jobs) < expected
                remaining = deadline - time.monotonic()
                if not more_coming or remaining <= 0:
                    break
                self._cond.wait(remaining)
            # Max-min fair shares among the oldest requests (at most one per item of room):
            # a request of one input shares the next batch with one of thousands.
            room = self.max_batch_size
            live = [job for job in self._jobs if not job.dead]
            considered = live[:room]
            take: dict[int, int] = {}
            by_size = sorted(considered, key=lambda j: len(j.items) - j.taken)
            for k, job in enumerate(by_size):
                share = max(1, room // (len(by_size) - k))
                take[id(job)] = n = min(share, len(job.items) - job.taken, room)
                room -= n
            slices: list[_Slice] = []
            unserved: list[_Job] = []  # got no room this time: they keep their place
            kept: list[_Job] = []
            for job in considered:
                n = take[id(job)]
                if not n:
                    unserved.append(job)
                    continue
                slices.append(_Slice(job, job.taken, job.taken + n))
                job.taken += n
                if job.taken < len(job.items):
                    kept.append(job)  # the rest waits behind the requests queued after it
            self._jobs.clear()
            self._jobs.extend(unserved)
            self._jobs.extend(live[len(considered) :])
            self._jobs.extend(kept)
        return slices

    def _execute(self, slices: list[_Slice], predict: Callable[[list[Any]], list[Any]]) -> int:
        """Run the batch as passes; returns how many requests to expect for the next one.

        Those are the callers just answered and the requests queued meanwhile.
        """
        refs = [(s.job, i) for s in slices for i in range(s.start, s.stop)]
        costs = [job.costs[i] for job, i in refs]
        if self._cost is None:
            plan = [
                list(range(k, min(k + self.max_batch_size, len(refs))))
                for k in range(0, len(refs), self.max_batch_size)
            ]
        else:
            plan = plan_passes(
                costs, self.max_batch_size, self.max_tokens, self.pass_overhead, self.pass_rows
            )
        with self._stats_lock:
            self.stats.gathers += 1
        answered = 0
        last = (0, 0)
        for indexes in plan:
            last = self._run_pass([refs[i] for i in indexes], predict)
            answered += last[0]
        # Callers answered by earlier passes may be queued again already: count them once.
        return max(last[1] + last[0], answered)

    def _run_pass(
        self, refs: list[tuple[_Job, int]], predict: Callable[[list[Any]], list[Any]]
    ) -> tuple[int, int]:
        """(requests answered, requests queued just before answering them)."""
        refs = [(job, i) for job, i in refs if not job.dead]
        if not refs:
            return 0, 0
        costs = [job.costs[i] for job, i in refs]
        with self._stats_lock:
            stats = self.stats
            stats.batches += 1
            stats.items += len(refs)
            stats.tokens += sum(costs)
            stats.padded_tokens += len(refs) * max(costs)
            stats.max_batch_items = max(stats.max_batch_items, len(refs))
            stats.running += 1
            stats.peak_running = max(stats.peak_running, stats.running)
        try:
            return self._answer(refs, predict)
        finally:
            with self._stats_lock:
                self.stats.running -= 1

    def _answer(
        self, refs: list[tuple[_Job, int]], predict: Callable[[list[Any]], list[Any]]
    ) -> tuple[int, int]:
        try:
            outputs = self._forward([job.items[i] for job, i in refs], predict)
        except Exception as exc:  # noqa: BLE001 - any model failure becomes the request's 500
            jobs = list(dict.fromkeys(job for job, _ in refs))
            if len(jobs) == 1:
                self._fail(jobs[0], exc)
                return 0, self.depth
            # One bad input must fail only its own request: rerun each request's part alone.
            log.warning("a pass over %d requests failed; retrying them one by one", len(jobs))
            with self._stats_lock:
                self.stats.split_batches += 1
            answered = 0
            for job in jobs:
                own = [(j, i) for j, i in refs if j is job]
                try:
                    outputs = self._forward([job.items[i] for _, i in own], predict)
                    answered += self._store(own, outputs)[0]
                except Exception as job_exc:  # noqa: BLE001
                    self._fail(job, job_exc)
            return answered, self.depth
        return self._store(refs, outputs)

    def _store(self, refs: list[tuple[_Job, int]], outputs: list[Any]) -> tuple[int, int]:
        # Counted before answering: an answered caller's next request must not count twice.
        backlog = self.depth
        done = []
        with self._stats_lock:
            for (job, i), output in zip(refs, outputs, strict=True):
                job.outputs[i] = output
                job.left -= 1
                if job.left == 0 and not job.dead:
                    done.append(job)
            self.stats.requests += len(done)
        if done:
            _resolve_all(done)
        return len(done), backlog

    def _forward(self, items: list[Any], predict: Callable[[list[Any]], list[Any]]) -> list[Any]:
        result = predict(items)
        if len(result) != len(items):
            raise RuntimeError(f"predict returned {len(result)} outputs for {len(items)} items")
        return result

    def _fail(self, job: _Job, exc: Exception) -> None:
        if job.dead:
            return
        with self._stats_lock:
            self.stats.failed_requests += 1
        log.error("inference failed for a request of %d inputs", len(job.items), exc_info=exc)
        error = PredictionError(f"{type(exc).__name__}: {exc}")
        error.__cause__ = exc
        job.fail(error)
