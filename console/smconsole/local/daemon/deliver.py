"""An async request's answer, written where SageMaker writes it and announced on its topic."""

from __future__ import annotations

import json
import time
from typing import Any

from smconsole.local.daemon import notify
from smconsole.local.daemon.internal import InternalAws
from smconsole.local.daemon.queue import InvocationResult, QueuedRequest
from smconsole.specs.common import split_s3_uri


def deliver(
    request: QueuedRequest, outcome: InvocationResult, *, aws: InternalAws, region: str,
    endpoint: str, output_config: dict[str, Any],
) -> None:
    """Write the answer to S3 and announce it on the configured topic; never raises.

    An answer that cannot be written (its bucket deleted, say) becomes the request's failure:
    written to the failure path if that one takes it, announced on the ErrorTopic, and said in
    the daemon's log. Either way the request is then done, not re-run at every start.
    """
    location = request.output_location if outcome.succeeded else request.failure_location
    try:
        _write(aws, region, location, outcome)
    except Exception as exc:  # noqa: BLE001 - becomes the request's recorded failure
        kind = "output" if outcome.succeeded else "failure"
        reason = f"ClientError: could not write the {kind} to {location}: {_code(exc)}"
        if outcome.failure_reason:
            reason = f"{outcome.failure_reason} ({reason})"
        print(f"smconsole-local: {endpoint}: request {request.inference_id}: {reason}",
              flush=True)
        failed = InvocationResult(False, json.dumps({"error": reason}).encode(),
                                  "application/json", reason)
        location = request.failure_location
        if outcome.succeeded:
            try:
                _write(aws, region, location, failed)
            except Exception as again:  # noqa: BLE001 - the topic and the log still say it
                print(f"smconsole-local: {endpoint}: request {request.inference_id}: the "
                      f"failure could not be written to {location} either: {_code(again)}",
                      flush=True)
        outcome = failed
    try:
        _announce(request, outcome, location, aws=aws, region=region, endpoint=endpoint,
                  output_config=output_config)
    except Exception as exc:  # noqa: BLE001 - the answer is written; the topic is extra
        print(f"smconsole-local: {endpoint}: request {request.inference_id}: notification "
              f"failed: {_code(exc)}", flush=True)


def _write(aws: InternalAws, region: str, location: str, outcome: InvocationResult) -> None:
    bucket, key = split_s3_uri(location)
    aws.client("s3", region).put_object(
        Bucket=bucket, Key=key, Body=outcome.body, ContentType=outcome.content_type,
    )


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    error = response.get("Error", {}) if isinstance(response, dict) else {}
    if error.get("Code"):
        return f"{error['Code']}: {error.get('Message', '')}".rstrip(": ")
    return f"{type(exc).__name__}: {exc}"


def _announce(
    request: QueuedRequest, outcome: InvocationResult, location: str, *, aws: InternalAws,
    region: str, endpoint: str, output_config: dict[str, Any],
) -> None:
    notification = output_config.get("NotificationConfig") or {}
    topic = notification.get("SuccessTopic" if outcome.succeeded else "ErrorTopic")
    if not topic:
        return
    include = notification.get("IncludeInferenceResponseIn") or []
    wanted = "SUCCESS_NOTIFICATION_TOPIC" if outcome.succeeded else "ERROR_NOTIFICATION_TOPIC"
    body = notify.message(
        region=region, endpoint=endpoint, inference_id=request.inference_id,
        received=request.received, finished=time.time(), succeeded=outcome.succeeded,
        input_location=request.input_location, request_content_type=request.content_type,
        response_content_type=outcome.content_type, location=location,
        failure_reason=outcome.failure_reason,
        response_body=outcome.body if wanted in include else None, accept=request.accept,
    )
    aws.client("sns", region).publish(TopicArn=topic, Message=notify.dumps(body))
