"""Hostile input against the real MiniLM server: headers, protocol errors, sizes, memory.

Each test here failed on the server before it was bounded (see docs/container.md).
"""

from __future__ import annotations

import json
import socket
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .background import InBackground
from .servers import Server, module_server

ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"
MB = 1024 * 1024

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def minilm(minilm_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from module_server(tmp_path_factory, minilm_dir, "hostile-minilm")


def invoke(server: Server, body: object = None, **kwargs) -> httpx.Response:
    return httpx.post(f"{server.url}/invocations", json=body, timeout=120, **kwargs)


def assert_error_shape(response: httpx.Response, status: int, error: str | None = None) -> dict:
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) <= {"error", "message", "field"} and body["message"], body
    if error:
        assert body["error"] == error, body
    return body


def raw_exchange(server: Server, data: bytes, timeout: float = 10.0) -> bytes:
    """Send raw bytes on a fresh connection; everything the server answers until it closes."""
    host, _, port = server.url.removeprefix("http://").partition(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server refused mid-send; its answer is still readable
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            pass
    return b"".join(chunks)


def parse_raw(answer: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


def rss(server: Server) -> tuple[int, int]:
    """(resident, peak resident) of the server process, bytes."""
    fields = {}
    for line in Path(f"/proc/{server.proc.pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) * 1024
    return fields["VmRSS"], fields["VmHWM"]


def reset_peak(server: Server) -> None:
    Path(f"/proc/{server.proc.pid}/clear_refs").write_text("5")  # VmHWM := VmRSS


# ---- 5: header sizes ---------------------------------------------------------------------


def test_custom_attributes_up_to_1024_ascii_come_back(minilm: Server) -> None:
    value = "k=" + "v" * 1022
    response = invoke(minilm, {"inputs": "hi"}, headers={ATTRIBUTES: value})
    assert response.status_code == 200
    assert response.headers[ATTRIBUTES] == value


@pytest.mark.parametrize(
    "value", [b"k=" + b"v" * 1023, "caf\u00e9=1".encode()], ids=["1025-chars", "not-ascii"]
)
def test_custom_attributes_over_the_limit_answer_400_json(minilm: Server, value: bytes) -> None:
    response = invoke(minilm, {"inputs": "hi"}, headers={ATTRIBUTES: value})
    body = assert_error_shape(response, 400, "invalid_request")
    assert body["field"] == ATTRIBUTES
    assert "1024 printable ASCII" in body["message"]
    assert ATTRIBUTES not in response.headers


def test_a_request_head_over_the_bound_is_refused_with_431(minilm: Server) -> None:
    reset_peak(minilm)
    before = rss(minilm)[0]
    filler = b"X-Filler: " + b"a" * (64 * MB) + b"\r\n"
    start = time.monotonic()
    answer = raw_exchange(
        minilm,
        b"POST /invocations HTTP/1.1\r\nHost: x\r\n" + filler + b"Content-Length: 2\r\n\r\n{}",
    )
    status, headers, body = parse_raw(answer)
    assert status == 431, answer[:300]
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["field"] == "headers"
    assert time.monotonic() - start < 10
    # The server never held the 64 MB header.
    assert rss(minilm)[1] - before < 16 * MB
    assert invoke(minilm, {"inputs": "still serving"}).status_code == 200


# ---- 7: every non-2xx is the JSON error shape, and types are strict -----------------------


def test_unknown_paths_and_methods_answer_the_json_shape(minilm: Server) -> None:
    missing = httpx.get(f"{minilm.url}/no/such/path")
    assert_error_shape(missing, 404, "not_found")
    wrong = httpx.post(f"{minilm.url}/stats")
    assert_error_shape(wrong, 405, "method_not_allowed")
    assert "GET" in wrong.headers["allow"]


@pytest.mark.parametrize(
    "raw",
    [
        b"POST /invocations HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n",
        (
            b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
        ),
        b"POST /invocations HTTP/1.1\r\nHost: x\rX-A: b\r\nContent-Length: 2\r\n\r\n{}",
        b"GET /ping HTTP/1.1\r\nHost: x\r\nX-A: b\nc\r\n\r\n",
        b"NOT-HTTP\r\n\r\n",
    ],
    ids=["bad-chunk-size", "cl-and-te", "bare-cr", "bare-lf", "garbage"],
)
def test_malformed_http_answers_the_json_shape(minilm: Server, raw: bytes) -> None:
    status, headers, body = parse_raw(raw_exchange(minilm, raw))
    assert status == 400
    assert headers["content-type"] == "application/json"
    error = json.loads(body)
    assert error["error"] == "invalid_http" and error["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"inputs": "ok", "normalize": "yes"}, "normalize"),
        ({"inputs": "ok", "normalize": 1}, "normalize"),
        ({"inputs": "ok", "normalize": "true"}, "normalize"),
    ],
)
def test_loose_types_are_refused(minilm: Server, body: dict, field: str) -> None:
    error = assert_error_shape(invoke(minilm, body), 400, "invalid_request")
    assert error["field"] == field


# ---- 3: inputs per request, and fair service while a huge request runs -------------------


def test_inputs_over_the_cap_answer_413_naming_it(minilm: Server) -> None:
    response = invoke(minilm, {"inputs": ["x"] * 2049})
    error = assert_error_shape(response, 413, "too_many_inputs")
    assert error["field"] == "inputs"
    assert "MAX_INPUTS_PER_REQUEST" in error["message"] and "2048" in error["message"]
    assert invoke(minilm, {"inputs": ["x"] * 8}).status_code == 200


def test_a_small_request_is_served_while_a_huge_one_runs(minilm: Server) -> None:
    huge = {"inputs": [f"item {i} of the huge request" for i in range(2048)]}
    before = minilm.stats()
    begin = time.perf_counter()
    call = InBackground(lambda: invoke(minilm, huge))
    minilm.wait_until(lambda s: s["batches"] > before["batches"], "the huge request to start")
    latencies = []
    while call.running:
        start = time.perf_counter()
        response = invoke(minilm, {"inputs": "a small request"})
        assert response.status_code == 200
        latencies.append(time.perf_counter() - start)
    assert call.result(300).status_code == 200
    huge_s = time.perf_counter() - begin
    gathers = minilm.stats()["gathers"] - before["gathers"]
    batch_s = huge_s / gathers  # the huge request ran as this many batches, the small ones too
    p99 = sorted(latencies)[int(0.99 * (len(latencies) - 1))]
    print(
        f"\nhuge request {huge_s:.1f} s in {gathers} batches of ~{batch_s * 1000:.0f} ms; "
        f"{len(latencies)} small requests meanwhile: p50 "
        f"{statistics.median(latencies) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms"
    )
    assert len(latencies) >= 5, latencies
    # Each small request shares the next batch with the huge one: about one batch time.
    assert p99 < 4 * batch_s, (p99, batch_s, latencies)


# ---- 2: long text is cut by characters before it is tokenized ----------------------------


def test_a_10mb_text_is_cut_before_tokenizing_and_says_so(minilm: Server) -> None:
    words = " ".join(f"word{i % 97}" for i in range(250))  # ~1,700 characters, ~600 tokens
    reference = invoke(minilm, {"inputs": [words, "short"]}).json()
    assert reference["truncated"] == [0]  # past MiniLM's 256 tokens
    huge = words + " filler" * (10 * MB // 7)
    reset_peak(minilm)
    before = rss(minilm)[0]
    start = time.monotonic()
    response = invoke(minilm, {"inputs": [huge, "short"]})
    elapsed = time.monotonic() - start
    assert response.status_code == 200
    body = response.json()
    assert body["truncated"] == [0]
    # The model sees the same first 256 tokens as it did of the whole text.
    assert body["embeddings"][0] == pytest.approx(reference["embeddings"][0], abs=1e-5)
    print(f"\n10 MB text: {elapsed:.2f} s, peak +{(rss(minilm)[1] - before) / MB:.0f} MB")
    assert elapsed < 5, elapsed
    # The body and its parse (~20 MB each); tokenizing all of it cost +1.5 GB.
    assert rss(minilm)[1] - before < 150 * MB
    assert "truncated" not in invoke(minilm, {"inputs": "short"}).json()


# ---- 4: a large body's memory is bounded and given back ------------------------------------


def test_an_invalid_200mb_body_costs_little_memory_after(minilm: Server) -> None:
    size = 200 * MB
    payload = b'{"inputs": "' + b"a " * (size // 2) + b'", "normalize": 5}'
    invoke(minilm, {"inputs": "warm"})
    before = rss(minilm)[0]
    reset_peak(minilm)
    response = httpx.post(
        f"{minilm.url}/invocations",
        content=payload,
        headers={"Content-Type": "application/json"},
        timeout=120,
    )
    assert_error_shape(response, 400, "invalid_request")
    peak = rss(minilm)[1] - before
    deadline = time.monotonic() + 5
    while (after := rss(minilm)[0] - before) > 48 * MB and time.monotonic() < deadline:
        time.sleep(0.1)
    print(f"\n200 MB invalid body: peak +{peak / MB:.0f} MB, after +{after / MB:.0f} MB")
    # The spooled file's pages, the parser's copy and the parsed string; all of it goes back.
    assert peak < 3.5 * size
    assert after < 48 * MB, after / MB


def test_a_large_text_body_is_spooled_not_held(minilm: Server) -> None:
    # A text/plain body is one input: only its first characters are ever read back.
    body = ("spooled words " * (20 * MB // 14)).encode()
    invoke(minilm, {"inputs": "warm"})
    before = rss(minilm)[0]
    reset_peak(minilm)
    start = time.monotonic()
    response = httpx.post(
        f"{minilm.url}/invocations",
        content=body,
        headers={"Content-Type": "text/plain"},
        timeout=120,
    )
    elapsed = time.monotonic() - start
    assert response.status_code == 200
    assert response.json()["truncated"] == [0]
    peak = rss(minilm)[1] - before
    print(f"\n20 MB text/plain body: {elapsed:.2f} s, peak +{peak / MB:.0f} MB")
    assert peak < 32 * MB  # held in memory, then decoded and tokenized, it cost gigabytes
    assert elapsed < 10


def test_a_valid_large_body_is_served_from_the_spool(minilm: Server) -> None:
    # JSON whitespace makes a large body that costs the model nothing.
    body = b'{"inputs": ["spooled", "body"]' + b" " * (8 * MB) + b"}"
    response = httpx.post(
        f"{minilm.url}/invocations",
        content=body,
        headers={"Content-Type": "application/json"},
        timeout=120,
    )
    assert response.status_code == 200
    assert len(response.json()["embeddings"]) == 2
