"""text-classification and image-classification on tiny generated models; images from S3 too."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import boto3
import httpx
import pytest
from PIL import Image

from .servers import Server, module_server


@pytest.fixture(scope="module")
def text_classifier(
    tiny_models: ModuleType, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    model_dir = tiny_models.build_text_classifier(tmp_path_factory.mktemp("text-classifier"))
    yield from module_server(tmp_path_factory, model_dir, "text-classifier")


@pytest.fixture(scope="module")
def image_classifier(
    tiny_models: ModuleType, tmp_path_factory: pytest.TempPathFactory, moto_server_url: str
) -> Iterator[Server]:
    model_dir = tiny_models.build_image_classifier(tmp_path_factory.mktemp("image-classifier"))
    yield from module_server(
        tmp_path_factory,
        model_dir,
        "image-classifier",
        AWS_ENDPOINT_URL=moto_server_url,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
    )


def png(color: tuple[int, int, int], size: tuple[int, int] = (40, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def invoke(server: Server, body: object) -> httpx.Response:
    return httpx.post(f"{server.url}/invocations", json=body, timeout=30)


def test_text_classification_scores_every_label(text_classifier: Server) -> None:
    response = invoke(text_classifier, {"inputs": ["good day", "bad night"], "top_k": None})
    assert response.status_code == 200
    predictions = response.json()["predictions"]
    assert len(predictions) == 2
    for labels in predictions:
        assert {label["label"] for label in labels} == {"NEGATIVE", "POSITIVE"}
        assert sum(label["score"] for label in labels) == pytest.approx(1.0, abs=1e-5)
        assert labels[0]["score"] >= labels[1]["score"]


def test_text_classification_defaults_to_the_top_label(text_classifier: Server) -> None:
    predictions = invoke(text_classifier, {"inputs": "good"}).json()["predictions"]
    assert len(predictions) == 1 and len(predictions[0]) == 1


def test_text_classification_rejects_a_zero_top_k(text_classifier: Server) -> None:
    response = invoke(text_classifier, {"inputs": "good", "top_k": 0})
    assert response.status_code == 400
    assert response.json()["field"] == "top_k"


def test_an_image_as_base64_and_as_a_raw_body_classify_alike(image_classifier: Server) -> None:
    image = png((200, 40, 40))
    as_json = invoke(image_classifier, {"inputs": base64.b64encode(image).decode()})
    as_body = httpx.post(
        f"{image_classifier.url}/invocations",
        content=image,
        headers={"Content-Type": "image/png"},
    )
    assert as_json.status_code == as_body.status_code == 200
    labels = as_json.json()["predictions"][0]
    assert {label["label"] for label in labels} == {"cat", "dog"}
    assert as_json.json() == as_body.json()


def test_a_data_url_is_accepted(image_classifier: Server) -> None:
    data_url = "data:image/png;base64," + base64.b64encode(png((1, 2, 3))).decode()
    assert invoke(image_classifier, {"inputs": [data_url]}).status_code == 200


def test_an_image_from_an_s3_uri(image_classifier: Server, moto_url: str) -> None:
    s3 = boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1")
    s3.create_bucket(Bucket="images")
    image = png((10, 200, 10))
    s3.put_object(Bucket="images", Key="in/leaf.png", Body=image)
    from_s3 = invoke(image_classifier, {"inputs": ["s3://images/in/leaf.png"]})
    inline = invoke(image_classifier, {"inputs": [base64.b64encode(image).decode()]})
    assert from_s3.status_code == 200
    assert from_s3.json() == inline.json()
    missing = invoke(image_classifier, {"inputs": ["s3://images/in/none.png"]})
    assert missing.status_code == 400
    assert missing.json()["field"] == "inputs.0"
    assert "NoSuchKey" in missing.json()["message"]


@pytest.mark.parametrize(
    ("inputs", "field", "words"),
    [
        ("%%% not base64 %%%", "inputs", "base64"),
        (["aGVsbG8="], "inputs.0", "not a readable image"),
        ("s3://bucket-only", "inputs", "s3://bucket/key"),
    ],
)
def test_bad_images_answer_400_naming_the_input(
    image_classifier: Server, inputs: object, field: str, words: str
) -> None:
    response = invoke(image_classifier, {"inputs": inputs})
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert words in response.json()["message"]


def test_a_non_image_body_is_415_on_text_tasks(text_classifier: Server) -> None:
    response = httpx.post(
        f"{text_classifier.url}/invocations",
        content=png((0, 0, 0)),
        headers={"Content-Type": "image/png"},
    )
    assert response.status_code == 415


def vm_kib(server: Server, name: str) -> int:
    for line in Path(f"/proc/{server.proc.pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise AssertionError(name)


@pytest.mark.slow
def test_images_past_the_request_pixel_bound_are_refused_before_decoding(
    image_classifier: Server,
) -> None:
    # Three 9999x9999 PNGs: ~40 KB each on the wire, 300 MB each decoded to RGB.
    buffer = io.BytesIO()
    Image.new("1", (9999, 9999)).save(buffer, format="PNG")
    large = base64.b64encode(buffer.getvalue()).decode()
    invoke(image_classifier, {"inputs": base64.b64encode(png((1, 2, 3))).decode()})
    before = vm_kib(image_classifier, "VmRSS")
    Path(f"/proc/{image_classifier.proc.pid}/clear_refs").write_text("5")  # peak := now
    response = invoke(image_classifier, {"inputs": [large, large, large]})
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["error"] == "payload_too_large"
    assert body["field"] == "inputs.1"  # the first image past the bound
    assert "MAX_REQUEST_PIXELS" in body["message"]
    # Nothing was decoded: the sizes come from the PNG headers.
    assert vm_kib(image_classifier, "VmHWM") - before < 64 * 1024
    small = base64.b64encode(png((9, 9, 9))).decode()
    assert invoke(image_classifier, {"inputs": [small, small]}).status_code == 200
