"""SageMaker's async-inference notification message, as SNS subscribers receive it."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

# SNS messages may carry responses up to 128 KB; SageMaker leaves larger ones out.
MAX_INLINE_RESPONSE = 128 * 1024


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{int((ts % 1) * 1000):03d}Z"


def message(
    *, region: str, endpoint: str, inference_id: str, received: float, finished: float,
    succeeded: bool, input_location: str | None, request_content_type: str | None,
    response_content_type: str, location: str, failure_reason: str | None = None,
    response_body: bytes | None = None, accept: str | None = None,
) -> dict[str, Any]:
    """The JSON SageMaker publishes to SuccessTopic / ErrorTopic."""
    request: dict[str, Any] = {"endpointName": endpoint}
    if request_content_type:
        request["contentType"] = request_content_type
    if accept:
        request["accept"] = accept
    if input_location:
        request["inputLocation"] = input_location
    response: dict[str, Any] = {"contentType": response_content_type}
    response["outputLocation" if succeeded else "failureLocation"] = location
    body: dict[str, Any] = {
        "awsRegion": region,
        "eventTime": iso(finished),
        "receivedTime": iso(received),
        "invocationStatus": "Completed" if succeeded else "Failed",
        "requestParameters": request,
        "responseParameters": response,
        "inferenceId": inference_id,
        "eventVersion": "1.0",
        "eventSource": "aws:sagemaker",
        "eventName": "InferenceResult",
    }
    if failure_reason:
        body["failureReason"] = failure_reason
    if response_body is not None:
        body["responseBody"] = inline_body(response_body)
    return body


def inline_body(data: bytes) -> dict[str, Any]:
    """SageMaker's `responseBody`: the bytes base64-encoded whatever their type, as captured
    from SageMaker; over 128 KB only a `message` saying why there is no content."""
    if len(data) > MAX_INLINE_RESPONSE:
        return {"message": f"The response is {len(data)} bytes, over the 128 KB that "
                           "notifications carry; read it from the output location."}
    return {"content": base64.b64encode(data).decode("ascii"), "encoding": "BASE64"}


def test_message(*, region: str, endpoint: str, now: float) -> dict[str, Any]:
    """What SageMaker publishes to each configured topic when an endpoint is created or
    updated with notifications, before any result: subscribers can check their wiring."""
    return {
        "awsRegion": region,
        "eventTime": iso(now),
        "eventSource": "aws:sagemaker",
        "eventVersion": "1.0",
        "eventName": "TestNotification",
        "requestParameters": {"endpointName": endpoint},
    }


def dumps(body: dict[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":"))
