"""An async request in the local queue (`QueuedRequest`), and running it against one
instance (`run`, giving an `InvocationResult`).

What happens to the answer is `deliver.py`'s job."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from smconsole.local.daemon.internal import InternalAws
from smconsole.specs.common import split_s3_uri

if TYPE_CHECKING:
    from smconsole.local.daemon.instance import Instance

DEFAULT_TTL_S = 6 * 3600
DEFAULT_INVOCATION_TIMEOUT_S = 900
MAX_INLINE_BODY = 128_000


@dataclass
class QueuedRequest:
    """What InvokeEndpointAsync accepted: where the input is, where the answer goes."""

    inference_id: str
    received: float
    input_location: str | None
    body: bytes | None
    content_type: str | None
    accept: str | None
    custom_attributes: str | None
    ttl_s: int
    invocation_timeout_s: int
    output_location: str
    failure_location: str
    started: float | None = field(default=None)
    unsent: int = 0  # times an instance could not be connected to (the request never left)

    @property
    def expired(self) -> bool:
        return time.time() > self.received + self.ttl_s


def output_locations(
    output_config: dict[str, Any], inference_id: str, extension: str | None,
    filename: str | None,
) -> tuple[str, str]:
    """(OutputLocation, FailureLocation) as SageMaker names them."""
    out = output_config["S3OutputPath"].rstrip("/")
    fail = (output_config.get("S3FailurePath") or out).rstrip("/")
    if extension:
        out, fail = f"{out}/{extension.strip('/')}", f"{fail}/{extension.strip('/')}"
    if filename:
        return f"{out}/{filename}", f"{fail}/{filename}"
    return f"{out}/{inference_id}.out", f"{fail}/{inference_id}-error.out"


def new_inference_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class InvocationResult:
    """What one POST to an instance's /invocations came back with (or why none came)."""

    succeeded: bool
    body: bytes
    content_type: str
    failure_reason: str | None = None
    sent: bool = True  # False: no instance ever saw it, so it may go back to the queue


def run(request: QueuedRequest, instance: Instance | None, aws: InternalAws,
        region: str) -> InvocationResult:
    """POST the request to the instance's /invocations; never raises."""
    if request.expired or instance is None:
        return _error(f"Request expired: it waited longer than RequestTTLSeconds "
                      f"({request.ttl_s} s) in the queue.")
    try:
        payload = request.body if request.body is not None else _read(aws, region,
                                                                       request.input_location)
    except Exception as exc:  # noqa: BLE001 - reported to the caller's failure path
        return _error(f"ClientError: could not read the input {request.input_location}: {exc}")
    headers = {"Content-Type": request.content_type or "application/octet-stream"}
    if request.accept:
        headers["Accept"] = request.accept
    if request.custom_attributes:
        headers["X-Amzn-SageMaker-Custom-Attributes"] = request.custom_attributes
    headers["X-Amzn-SageMaker-Inference-Id"] = request.inference_id
    try:
        response = httpx.post(
            f"{instance.url}/invocations", content=payload, headers=headers,
            timeout=httpx.Timeout(request.invocation_timeout_s, connect=5.0),
        )
    except httpx.ConnectError as exc:
        # Refused before a byte went out: the instance is gone (or going). Not a failure yet.
        return InvocationResult(False, b"", "", f"the instance could not be reached: {exc}",
                                sent=False)
    except httpx.TimeoutException:
        return _error(f"ClientError: the model did not answer within InvocationTimeoutSeconds "
                      f"({request.invocation_timeout_s} s).")
    except httpx.HTTPError as exc:
        code = instance.wait_exited(1.0)
        if code is not None:
            return _error(f"ServiceUnavailable: The instance {instance.id} serving the request "
                          f"stopped (exit code {code}) before it answered; the request was "
                          "not retried.")
        return _error(f"ClientError: the model's container could not be reached: {exc}")
    content_type = response.headers.get("content-type", "application/octet-stream")
    if 200 <= response.status_code < 300:
        return InvocationResult(True, response.content, content_type)
    return InvocationResult(
        False, response.content, content_type,
        f"ClientError: Received server error ({response.status_code}) from model. See the "
        "SageMaker Endpoint logs in your account for more information.",
    )


def _read(aws: InternalAws, region: str, location: str | None) -> bytes:
    if not location:
        raise ValueError("no input")
    bucket, key = split_s3_uri(location)
    return aws.client("s3", region).get_object(Bucket=bucket, Key=key)["Body"].read()


def _error(reason: str) -> InvocationResult:
    return InvocationResult(False, json.dumps({"error": reason}).encode(), "application/json",
                            reason)
