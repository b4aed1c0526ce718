"""image-classification: images as base64 (or a data: URL), an s3:// URI, or a raw image body."""

from __future__ import annotations

import base64
import binascii
import io
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict

from app.errors import InputError, TooLarge
from app.model import Runtime
from app.schemas import ImageRequest
from app.tasks.classification import top_labels
from app.tasks.common import load_pretrained

# Decoded images past this many pixels are refused rather than risk the worker's memory.
MAX_PIXELS = 100_000_000


class RawImageRequest(BaseModel):
    """A body that is the image itself (Content-Type image/* or application/octet-stream)."""

    model_config = ConfigDict(frozen=True)
    data: bytes
    top_k: int | None = 5


@dataclass(frozen=True)
class ImageItem:
    """An image still encoded: it is decoded only when its batch runs."""

    data: bytes
    pixels: int
    field: str
    top_k: int | None


class S3Reader:
    """Reads s3:// objects with boto3 when the image carries it (AWS_ENDPOINT_URL honoured)."""

    def __init__(self) -> None:
        self._client: Any = None
        self._lock = threading.Lock()

    def read(self, uri: str, field: str) -> bytes:
        bucket, _, key = uri[len("s3://") :].partition("/")
        if not bucket or not key:
            raise InputError(field, f"{uri!r} is not s3://bucket/key")
        client = self._get_client(field)
        try:
            return client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as exc:  # noqa: BLE001 - any S3 failure is this input's fault
            code = getattr(exc, "response", {}).get("Error", {}).get("Code") or type(exc).__name__
            raise InputError(field, f"cannot read {uri}: {code}") from None

    def _get_client(self, field: str) -> Any:
        with self._lock:
            if self._client is None:
                try:
                    import boto3
                except ImportError:
                    raise InputError(field, "s3:// inputs need boto3 in the image") from None
                self._client = boto3.client("s3")
            return self._client


def image_size(data: bytes, field: str) -> int:
    """The image's pixel count, from its header alone (nothing is decoded)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise InputError(field, "not a readable image") from None
    if width * height > MAX_PIXELS:
        raise TooLarge(field, f"image of {width}x{height} exceeds {MAX_PIXELS} pixels")
    return width * height


def open_image(data: bytes, field: str) -> Any:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError):
        raise InputError(field, "not a readable image") from None


def decode_base64(text: str, field: str) -> bytes:
    if text.startswith("data:"):
        text = text.partition(",")[2]
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InputError(field, "neither an s3:// URI nor valid base64") from None


class ImageClassificationHandler:
    task = "image-classification"
    request_model: type[BaseModel] = ImageRequest
    content_types = frozenset({"image/*", "application/octet-stream"})
    # Decoding images (and reading S3) blocks: the server runs decode off the event loop.
    blocking_decode = True

    max_request_pixels = 100_000_000  # the server sets MAX_REQUEST_PIXELS

    def setup(self, model_dir: Path, runtime: Runtime) -> None:
        from transformers import AutoImageProcessor, AutoModelForImageClassification

        self.runtime = runtime
        self.processor = AutoImageProcessor.from_pretrained(model_dir, trust_remote_code=False)
        self.model = load_pretrained(AutoModelForImageClassification, model_dir, runtime)
        self.id2label = {int(k): v for k, v in self.model.config.id2label.items()}
        self.s3 = S3Reader()

    def parse(self, body: bytes, content_type: str) -> BaseModel:
        if not len(body):
            raise InputError("body", "empty image")
        return RawImageRequest(data=bytes(body))

    def decode(self, request: BaseModel) -> list[ImageItem]:
        if isinstance(request, RawImageRequest):
            return self._bounded(
                [ImageItem(request.data, image_size(request.data, "body"), "body", request.top_k)]
            )
        assert isinstance(request, ImageRequest)
        sources = [request.inputs] if isinstance(request.inputs, str) else request.inputs
        items = []
        total = 0
        for index, source in enumerate(sources):
            field = "inputs" if isinstance(request.inputs, str) else f"inputs.{index}"
            if source.startswith("s3://"):
                data = self.s3.read(source, field)
            else:
                data = decode_base64(source, field)
            pixels = image_size(data, field)
            total += pixels
            if total > self.max_request_pixels:
                # Refused before any image is decoded: the sizes come from the headers.
                raise TooLarge(
                    field,
                    f"images up to this one hold {total} pixels; a request may hold "
                    f"{self.max_request_pixels} (MAX_REQUEST_PIXELS)",
                )
            items.append(ImageItem(data, pixels, field, request.top_k))
        return items

    def _bounded(self, items: list[ImageItem]) -> list[ImageItem]:
        if items[0].pixels > self.max_request_pixels:
            raise TooLarge(
                "body",
                f"image of {items[0].pixels} pixels exceeds "
                f"{self.max_request_pixels} (MAX_REQUEST_PIXELS)",
            )
        return items

    @staticmethod
    def cost(item: ImageItem) -> int:
        return item.pixels

    # Every image is resized to the model's input: a pass costs its decoding, not padding.
    pass_overhead = float(MAX_PIXELS)

    def predict(self, items: list[ImageItem]) -> list[list[dict]]:
        # Decoded here, one pass at a time: a request's images are never all in memory.
        images = [open_image(item.data, item.field) for item in items]
        pixels = self.processor(images=images, return_tensors="pt")
        del images
        pixels = pixels["pixel_values"].to(self.runtime.device, self.runtime.dtype)
        with torch.inference_mode():
            scores = self.model(pixel_values=pixels).logits.float().softmax(-1).cpu()
        return [top_labels(row, self.id2label, item.top_k) for row, item in zip(scores, items)]

    def encode(self, request: BaseModel, outputs: list[list[dict]]) -> dict[str, Any]:
        return {"predictions": outputs}

    def warmup_request(self) -> BaseModel:
        from PIL import Image

        buffer = io.BytesIO()
        Image.new("RGB", (64, 48), (120, 30, 200)).save(buffer, format="PNG")
        return RawImageRequest(data=buffer.getvalue())
