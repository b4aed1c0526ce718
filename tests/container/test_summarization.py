"""A tiny generated summarizer behind the real server: the seed's request, limits, overload."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from .background import InBackground
from .servers import Server, module_server, ping_while_running

PAYLOAD_LIMIT = 64 * 1024
QUEUE_LIMIT = 2
# Forces this many generation steps for 4 inputs: a reliably long inference on the tiny model.
LONG = {"inputs": ["the model is fast"] * 4, "max_length": 300, "min_length": 300}
# Long enough to outlast sending six requests and collecting four refusals on a busy machine.
LONGER = {**LONG, "max_length": 900, "min_length": 900}


@pytest.fixture(scope="module")
def summarizer(summarizer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from module_server(
        tmp_path_factory,
        summarizer_dir,
        "summarizer",
        MAX_PAYLOAD_BYTES=str(PAYLOAD_LIMIT),
        QUEUE_MAX_SIZE=str(QUEUE_LIMIT),
        BATCH_MAX_SIZE="4",
    )


def invoke(server: Server, body: object, **kwargs) -> httpx.Response:
    return httpx.post(f"{server.url}/invocations", json=body, timeout=60, **kwargs)


def test_the_seeds_request_works_as_written(summarizer: Server) -> None:
    body = {"text": "the server is fast and the queue is short", "max_length": 20, "min_length": 5}
    response = invoke(summarizer, body)
    assert response.status_code == 200
    summary = response.json()["summary"]
    assert isinstance(summary, str)
    assert 5 <= len(summary.split()) <= 20


def test_seed_defaults_give_25_to_50_token_summaries(summarizer: Server) -> None:
    summary = invoke(summarizer, {"text": "a long river runs to the sea"}).json()["summary"]
    assert 20 <= len(summary.split()) <= 50


def test_a_list_of_inputs_gives_one_summary_each(summarizer: Server) -> None:
    body = {"inputs": ["the cat", "the dog and the tree"], "max_length": 12, "min_length": 3}
    response = invoke(summarizer, body)
    assert response.status_code == 200
    summaries = response.json()["summaries"]
    assert len(summaries) == 2
    assert all(isinstance(s, str) and s for s in summaries)


def test_summaries_do_not_depend_on_batch_neighbours(summarizer: Server) -> None:
    alone = invoke(summarizer, {"text": "the sun and the rain", "max_length": 10, "min_length": 2})
    bodies = [
        {"text": "the sun and the rain", "max_length": 10, "min_length": 2},
        {"text": "a ship at night on the sea with wind", "max_length": 10, "min_length": 2},
        {"text": "city", "max_length": 10, "min_length": 2},
    ]
    with ThreadPoolExecutor(3) as pool:
        together = list(pool.map(lambda b: invoke(summarizer, b), bodies))
    assert together[0].json()["summary"] == alone.json()["summary"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": "x", "max_length": 5, "min_length": 9}, "min_length"),
        ({"text": "x", "max_length": "long"}, "max_length"),
        ({"text": "x", "max_length": "30"}, "max_length"),  # strict: no string-to-int
        ({"text": "x", "max_length": 30.0}, "max_length"),
        ({"max_length": 5}, "inputs"),
        ({"text": 3}, "text"),
    ],
)
def test_bad_fields_answer_400_naming_them(summarizer: Server, body: dict, field: str) -> None:
    response = invoke(summarizer, body)
    assert response.status_code == 400
    assert response.json()["field"] == field


def test_a_body_over_the_limit_answers_413(summarizer: Server) -> None:
    response = invoke(summarizer, {"text": "word " * PAYLOAD_LIMIT})
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


def test_a_streamed_body_over_the_limit_answers_413(summarizer: Server) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: the server must count as it reads
        yield b'{"text": "'
        for _ in range(PAYLOAD_LIMIT // 1024 + 1):
            yield b"w" * 1024
        yield b'"}'

    response = httpx.post(
        f"{summarizer.url}/invocations",
        content=chunks(),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 413


def test_ping_answers_within_100ms_during_a_long_inference(summarizer: Server) -> None:
    before = summarizer.stats()["batches"]
    call = InBackground(lambda: invoke(summarizer, LONG))
    summarizer.wait_until(lambda s: s["batches"] > before, "the long inference to start")
    latencies = ping_while_running(summarizer.url, call)
    assert call.result().status_code == 200
    assert len(latencies) >= 3
    assert max(latencies) < 0.1, sorted(latencies)[-5:]


def test_overload_answers_503_with_retry_after_but_ping_stays_200(summarizer: Server) -> None:
    before = summarizer.stats()["batches"]
    long_call = InBackground(lambda: invoke(summarizer, LONGER))
    # Once the worker holds the long request, the queue fills with QUEUE_LIMIT more.
    summarizer.wait_until(lambda s: s["batches"] > before, "the long inference to start")
    short = {"text": "the cat", "max_length": 6, "min_length": 1}
    with ThreadPoolExecutor(6) as pool:
        calls = [pool.submit(invoke, summarizer, short) for _ in range(6)]
        deadline = time.monotonic() + 30
        while sum(c.done() for c in calls) < 6 - QUEUE_LIMIT and time.monotonic() < deadline:
            time.sleep(0.01)
        queued = summarizer.stats()["queued"]
        ping = httpx.get(f"{summarizer.url}/ping", timeout=2)
        # The overflow was refused while the long request still held the worker.
        assert long_call.running
        assert queued == QUEUE_LIMIT
        assert [c.result().status_code for c in calls if c.done()] == [503] * (6 - QUEUE_LIMIT)
        responses = [c.result() for c in calls]
    assert ping.status_code == 200
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * QUEUE_LIMIT + [503] * (6 - QUEUE_LIMIT)
    for response in responses:
        if response.status_code == 503:
            assert response.headers["Retry-After"] == "1"
            assert response.json()["error"] == "overloaded"
    assert long_call.result().status_code == 200
