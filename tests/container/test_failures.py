"""A model that fails inside its forward pass: 500 with a JSON body, only for its own request."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from .servers import Server, module_server

GOOD = {"text": "the cat and the dog", "max_length": 12, "min_length": 2}


@pytest.fixture(scope="module")
def failing(failing_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # A generous wait so concurrent requests really share a batch with the bad one.
    yield from module_server(
        tmp_path_factory, failing_dir, "failing", BATCH_MAX_WAIT_MS="300", BATCH_MAX_SIZE="8"
    )


def test_a_failure_inside_the_model_answers_500_without_a_stack_trace(
    failing: Server, tiny_models: ModuleType
) -> None:
    response = httpx.post(
        f"{failing.url}/invocations",
        json={"text": tiny_models.FAILING_TEXT},
        headers={"X-Amzn-SageMaker-Custom-Attributes": "job=7"},
        timeout=60,
    )
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.headers["X-Amzn-SageMaker-Custom-Attributes"] == "job=7"
    body = response.json()
    assert body["error"] == "model_error"
    assert body["message"].startswith("IndexError")
    assert "Traceback" not in response.text
    assert 'File "' not in response.text
    # The operator gets the trace in the logs, on one line for line-based log shippers.
    trace_lines = [line for line in failing.log().splitlines() if "Traceback" in line]
    assert trace_lines and "IndexError" in trace_lines[-1]


async def test_one_bad_input_fails_only_its_own_request(
    failing: Server, tiny_models: ModuleType
) -> None:
    before = failing.stats()
    bad = {"text": tiny_models.FAILING_TEXT}
    async with httpx.AsyncClient(base_url=failing.url, timeout=60) as client:
        responses = await asyncio.gather(
            client.post("/invocations", json=GOOD),
            client.post("/invocations", json=bad),
            client.post("/invocations", json=GOOD),
            client.post("/invocations", json={**GOOD, "text": "a ship on the sea"}),
        )
    assert [r.status_code for r in responses] == [200, 500, 200, 200]
    assert all(r.json()["summary"] for i, r in enumerate(responses) if i != 1)
    after = failing.stats()
    # The bad input did share a batch, which was split and rerun request by request.
    assert after["split_batches"] > before["split_batches"]
    assert after["failed_requests"] == before["failed_requests"] + 1


def test_short_inputs_on_the_failing_model_still_work(failing: Server) -> None:
    response = httpx.post(f"{failing.url}/invocations", json=GOOD, timeout=60)
    assert response.status_code == 200
    assert response.json()["summary"]


def test_each_invocation_is_logged_once_with_its_inference_id(
    failing: Server, tiny_models: ModuleType
) -> None:
    # The request timeline finds a request's container lines by the id SageMaker forwards.
    for inference_id, text in (("ok-id-1", GOOD["text"]), ("bad-id-2", tiny_models.FAILING_TEXT)):
        httpx.post(
            f"{failing.url}/invocations",
            json={**GOOD, "text": text},
            headers={"X-Amzn-SageMaker-Inference-Id": inference_id},
            timeout=60,
        )

    def lines_for(inference_id: str) -> list[str]:
        return [
            line for line in failing.log().splitlines() if f"inference-id={inference_id}" in line
        ]

    # The line is written just after the answer is sent: poll the other process's log briefly.
    deadline = time.monotonic() + 10
    while not (lines_for("ok-id-1") and lines_for("bad-id-2")) and time.monotonic() < deadline:
        time.sleep(0.02)
    ok, bad = lines_for("ok-id-1"), lines_for("bad-id-2")
    assert len(ok) == 1 and len(bad) == 1, failing.log()[-2000:]
    assert '"POST /invocations HTTP/1.1" 200 ' in ok[0]
    assert '"POST /invocations HTTP/1.1" 500 ' in bad[0]
    assert "ms inference-id=" in ok[0]
    # uvicorn's own line (no id) is no longer written for this path: one line per request.
    assert not [
        line
        for line in failing.log().splitlines()
        if '"POST /invocations HTTP/1.1"' in line and "inference-id=" not in line
    ]
