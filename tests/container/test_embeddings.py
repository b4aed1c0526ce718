"""The shipped all-MiniLM-L6-v2 behind the real server: outputs, request errors, headers."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .background import InBackground
from .servers import Pinger, Server, module_server, ping_while_running

ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"


@pytest.fixture(scope="module")
def minilm(minilm_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # SageMaker's layout from the seed: model.tar.gz holds `model/`, unpacked under MODEL_DIR.
    root = tmp_path_factory.mktemp("opt-ml-model")
    (root / "model").symlink_to(minilm_dir, target_is_directory=True)
    yield from module_server(tmp_path_factory, root, "minilm")


def invoke(server: Server, body: object = None, **kwargs) -> httpx.Response:
    return httpx.post(f"{server.url}/invocations", json=body, timeout=30, **kwargs)


def norm(vector: list[float]) -> float:
    return math.sqrt(sum(x * x for x in vector))


def test_ping_answers_503_until_the_model_is_warm(minilm: Server) -> None:
    assert minilm.ping_statuses[0] == 503
    assert minilm.ping_statuses[-1] == 200
    assert "model loaded and warmed" in minilm.log()


def test_embeddings_have_384_dimensions_and_unit_norm(minilm: Server) -> None:
    response = invoke(
        minilm, {"inputs": ["A cat sits on the mat.", "Stocks fell."], "normalize": True}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["dimension"] == 384
    assert len(body["embeddings"]) == 2
    for vector in body["embeddings"]:
        assert len(vector) == 384
        assert norm(vector) == pytest.approx(1.0, abs=1e-4)
    assert body["embeddings"][0] != body["embeddings"][1]


def test_similar_sentences_are_closer_than_unrelated_ones(minilm: Server) -> None:
    texts = ["A man is playing a guitar.", "Someone plays the guitar.", "The stock market fell."]
    vectors = invoke(minilm, {"inputs": texts, "normalize": True}).json()["embeddings"]

    def cosine(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cosine(vectors[0], vectors[1]) > 0.6 > cosine(vectors[0], vectors[2])


def test_normalize_false_returns_raw_mean_pooled_vectors(minilm: Server) -> None:
    body = invoke(minilm, {"inputs": "A single sentence.", "normalize": False}).json()
    assert len(body["embeddings"]) == 1
    assert norm(body["embeddings"][0]) > 1.5  # MiniLM's raw mean-pooled norms are well above 1


def test_plain_text_body_is_one_input(minilm: Server) -> None:
    response = httpx.post(
        f"{minilm.url}/invocations",
        content="plain text body",
        headers={"Content-Type": "text/plain; charset=utf-8"},
    )
    assert response.status_code == 200
    assert response.json()["dimension"] == 384


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "inputs"),
        ({"inputs": 5}, "inputs"),
        ({"inputs": []}, "inputs"),
        ({"inputs": ["ok", ""]}, "inputs"),
        ({"inputs": "ok", "normalize": "maybe"}, "normalize"),
    ],
)
def test_wrong_fields_answer_400_naming_the_field(minilm: Server, body: dict, field: str) -> None:
    response = invoke(minilm, body)
    assert response.status_code == 400
    error = response.json()
    assert error["field"] == field
    assert error["message"].startswith(f"{field}:")


def test_a_misspelt_field_is_named_beside_the_missing_one(minilm: Server) -> None:
    response = invoke(minilm, {"input": "typo"})
    assert response.status_code == 400
    message = response.json()["message"]
    assert "inputs: Field required" in message
    assert "input: Extra inputs are not permitted" in message


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"\xff\xfe"])
def test_malformed_json_answers_400(minilm: Server, raw: bytes) -> None:
    response = httpx.post(
        f"{minilm.url}/invocations", content=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["field"] == "body"


def test_json_sent_as_octet_stream_is_read_as_json(minilm: Server) -> None:
    headers = {"Content-Type": "application/octet-stream"}
    ok = httpx.post(f"{minilm.url}/invocations", content=b'{"inputs": "x"}', headers=headers)
    assert ok.status_code == 200
    raw = httpx.post(f"{minilm.url}/invocations", content=b"\x00\x01", headers=headers)
    assert raw.status_code == 415


def test_unsupported_content_type_answers_415(minilm: Server) -> None:
    response = httpx.post(
        f"{minilm.url}/invocations", content=b"<x/>", headers={"Content-Type": "application/xml"}
    )
    assert response.status_code == 415
    assert "application/xml" in response.json()["message"]


def test_custom_attributes_come_back_verbatim(minilm: Server) -> None:
    value = "trace_id=abc-123,tenant=blue"
    ok = invoke(minilm, {"inputs": "hi"}, headers={ATTRIBUTES: value})
    assert ok.headers[ATTRIBUTES] == value
    failed = invoke(minilm, {"inputs": 1}, headers={ATTRIBUTES: value})
    assert failed.status_code == 400
    assert failed.headers[ATTRIBUTES] == value
    assert ATTRIBUTES not in invoke(minilm, {"inputs": "hi"}).headers


def test_a_body_sent_in_pieces_is_read_whole(minilm: Server) -> None:
    body = b'{"inputs": ["one sentence", "and another"], "normalize": true}'

    def pieces():
        for start in range(0, len(body), 7):
            yield body[start : start + 7]

    # A generator goes out chunked: the server sees many ASGI messages and no Content-Length.
    response = httpx.post(
        f"{minilm.url}/invocations", content=pieces(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert len(response.json()["embeddings"]) == 2


def test_the_wrong_method_answers_405_with_allow(minilm: Server) -> None:
    response = httpx.get(f"{minilm.url}/invocations", headers={ATTRIBUTES: "k=v"})
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert response.headers[ATTRIBUTES] == "k=v"
    assert response.json()["error"] == "method_not_allowed"
    assert httpx.post(f"{minilm.url}/ping").headers["Allow"] == "GET, HEAD"
    head = httpx.head(f"{minilm.url}/ping")
    assert head.status_code == 200
    assert head.content == b""


def test_unknown_routes_do_not_leak_docs(minilm: Server) -> None:
    for path in ("/docs", "/openapi.json"):
        assert httpx.get(f"{minilm.url}{path}").status_code == 404


def test_ping_stays_fast_while_a_big_batch_runs(minilm: Server) -> None:
    texts = [f"sentence number {i} " * 16 for i in range(48)]
    before = minilm.stats()["batches"]
    call = InBackground(lambda: invoke(minilm, {"inputs": texts}))
    minilm.wait_until(lambda s: s["batches"] > before, "the batch to start")
    latencies = ping_while_running(minilm.url, call)
    response = call.result()
    assert response.status_code == 200
    assert len(response.json()["embeddings"]) == 48
    assert len(latencies) >= 3
    assert max(latencies) < 0.1, latencies


def test_responses_are_not_held_back_by_nagle(minilm: Server) -> None:
    # uvicorn writes headers and body separately; without TCP_NODELAY the body waits for the
    # client's delayed ACK, ~40 ms on every response.
    pinger = Pinger(minilm.url)
    try:
        latencies = sorted(pinger.ping()[1] for _ in range(21))
    finally:
        pinger.close()
    assert latencies[10] < 0.02, latencies
