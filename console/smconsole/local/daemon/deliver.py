"""An async request's answer, written where SageMaker writes it and announced on its topic."""

from __future__ import annotations

import time
from typing import Any

from smconsole.local.daemon import notify
from smconsole.local.daemon.internal import InternalAws, split_s3_uri
from smconsole.local.daemon.queue import AsyncRequest, Outcome


def deliver(
    request: AsyncRequest, outcome: Outcome, *, aws: InternalAws, region: str, endpoint: str,
    output_config: dict[str, Any],
) -> None:
    """Write the answer to S3 and announce it on the configured topic."""
    location = request.output_location if outcome.succeeded else request.failure_location
    bucket, key = split_s3_uri(location)
    aws.client("s3", region).put_object(
        Bucket=bucket, Key=key, Body=outcome.body, ContentType=outcome.content_type,
    )
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
        response_body=outcome.body if wanted in include else None,
    )
    aws.client("sns", region).publish(TopicArn=topic, Message=notify.dumps(body))
