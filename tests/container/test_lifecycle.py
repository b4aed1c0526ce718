"""Start-up and shutdown: SIGTERM drains in-flight work and exits 0; bad setups fail fast."""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path

import httpx

from .background import InBackground
from .servers import wait_listening

LONG = {"inputs": ["the model is fast"] * 4, "max_length": 300, "min_length": 300}
ONE_LONG = {"text": "the model is fast", "max_length": 100, "min_length": 100}


def test_sigterm_finishes_the_in_flight_request_then_exits_0(
    server_factory, summarizer_dir: Path
) -> None:
    server = server_factory(summarizer_dir)
    before = server.stats()["batches"]
    call = InBackground(lambda: httpx.post(f"{server.url}/invocations", json=LONG, timeout=60))
    server.wait_until(lambda s: s["batches"] > before, "the request to reach the model")
    server.proc.send_signal(signal.SIGTERM)
    # New connections are refused at once while the in-flight request carries on.
    port = int(server.url.rsplit(":", 1)[1])
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except ConnectionRefusedError:
            break
        assert time.monotonic() < deadline, "still accepting 10 s after SIGTERM"
        time.sleep(0.01)
    assert call.running
    response = call.result()
    assert response.status_code == 200
    assert all(len(s.split()) >= 250 for s in response.json()["summaries"])
    assert server.proc.wait(30) == 0
    log = server.log()
    assert "Shutting down" in log
    assert log.index("Shutting down") < log.index("Finished server process")


def test_sigterm_during_start_up_exits_0_promptly(server_factory, summarizer_dir: Path) -> None:
    server = wait_listening(server_factory(summarizer_dir, wait=False))
    server.proc.send_signal(signal.SIGTERM)
    start = time.monotonic()
    assert server.proc.wait(30) == 0
    assert time.monotonic() - start < 5


def test_a_folder_without_a_model_exits_1_naming_it(server_factory, tmp_path: Path) -> None:
    empty = tmp_path / "opt-ml-model"
    empty.mkdir()
    server = server_factory(empty, wait=False)
    assert server.proc.wait(60) == 1
    assert f"no config.json in {empty}" in server.log()


def test_an_unsupported_task_exits_1_naming_the_choices(
    server_factory, summarizer_dir: Path
) -> None:
    server = server_factory(summarizer_dir, wait=False, HF_TASK="text-to-video")
    assert server.proc.wait(60) == 1
    assert "HF_TASK 'text-to-video' is not supported" in server.log()


def test_a_bad_setting_exits_2_naming_the_variable(server_factory, summarizer_dir: Path) -> None:
    server = server_factory(summarizer_dir, wait=False, BATCH_MAX_SIZE="many")
    assert server.proc.wait(30) == 2
    assert "BATCH_MAX_SIZE: expected an integer" in server.log()


def test_the_port_accepts_connections_at_once(server_factory, summarizer_dir: Path) -> None:
    # SageMaker wants connections accepted within 250 ms of start; allow for a shared CPU.
    with socket.socket() as probe:  # the one test that must know its port up front
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    start = time.monotonic()
    server = server_factory(summarizer_dir, wait=False, SAGEMAKER_BIND_TO_PORT=str(port))
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert server.proc.poll() is None, server.log()
            assert time.monotonic() - start < 0.5, "port not accepting after 500 ms"
            time.sleep(0.005)


def test_one_consumer_per_device_drains_the_same_queue(
    server_factory, summarizer_dir: Path
) -> None:
    # Two CPU "devices" stand in for two GPUs: each gets its own model copy and consumer.
    server = server_factory(summarizer_dir, DEVICE="cpu,cpu", BATCH_MAX_SIZE="1")
    assert server.stats()["consumers"] == 2
    calls = [
        InBackground(lambda: httpx.post(f"{server.url}/invocations", json=ONE_LONG, timeout=60))
        for _ in range(2)
    ]
    assert [call.result().status_code for call in calls] == [200, 200]
    stats = server.stats()
    assert stats["batches"] == 2
    # Both requests were in a forward pass at the same time: only two consumers allow that.
    assert stats["peak_running"] == 2


def test_sigterm_during_a_long_batch_keeps_one_budget_and_answers_503_json(
    server_factory, summarizer_dir: Path
) -> None:
    # One batch far longer than the budget: 64 inputs, 1,000 generation steps each.
    budget = 4.0
    server = server_factory(summarizer_dir, DRAIN_TIMEOUT_SECONDS=str(budget))
    endless = {"inputs": ["the model is fast"] * 64, "max_length": 1000, "min_length": 1000}
    before = server.stats()["batches"]
    call = InBackground(lambda: httpx.post(f"{server.url}/invocations", json=endless, timeout=120))
    server.wait_until(lambda s: s["batches"] > before, "the batch to start")
    start = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    response = call.result(60)
    answered = time.monotonic() - start
    assert server.proc.wait(60) == 0, server.log()[-2000:]
    exited = time.monotonic() - start
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"] == "shutting_down"
    assert answered < budget, answered
    assert exited <= budget + 0.5, exited  # one budget, not uvicorn's and then the drain's
    assert "terminate called" not in server.log()
