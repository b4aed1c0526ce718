"""Shared by the console's Pilot tests: endpoints on moto, and waiting on conditions."""

from __future__ import annotations

import functools
import time
from typing import Any

from fixtures.screen_host import until as shared_until
from smconsole.session import AwsSession

ROLE = "arn:aws:iam::123456789012:role/sm"


def make_endpoint(
    session: AwsSession, name: str, *, is_async: bool = True,
    instance_type: str = "ml.m5.large", count: int = 1,
) -> None:
    """A model, config and endpoint on the (moto) control plane."""
    sm = session.client("sagemaker")
    sm.create_model(
        ModelName=f"{name}-model", ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/smc:1",
                          "ModelDataUrl": f"s3://models/{name}/model.tar.gz",
                          "Environment": {"HF_TASK": "feature-extraction"}},
    )
    config: dict[str, Any] = {
        "EndpointConfigName": f"{name}-config",
        "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": f"{name}-model",
                                "InstanceType": instance_type, "InitialInstanceCount": count}],
    }
    if is_async:
        config["AsyncInferenceConfig"] = {"OutputConfig": {
            "S3OutputPath": f"s3://out/{name}/", "S3FailurePath": f"s3://out/{name}-failed/",
            "NotificationConfig": {
                "SuccessTopic": "arn:aws:sns:us-east-1:123456789012:ok",
                "ErrorTopic": "arn:aws:sns:us-east-1:123456789012:err"}}}
    sm.create_endpoint_config(**config)
    sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config")


def fail_endpoint(name: str, reason: str) -> None:
    """Mark an endpoint Failed on moto's backend; the server runs in this interpreter."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sagemaker.models import sagemaker_backends

    endpoint = sagemaker_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].endpoints[name]
    endpoint.endpoint_status = "Failed"
    endpoint.failure_reason = reason


def put_logs(session: AwsSession, endpoint: str, stream: str, messages: list[str],
             *, start_ms: int | None = None) -> None:
    logs = session.client("logs")
    group = f"/aws/sagemaker/Endpoints/{endpoint}"
    try:
        logs.create_log_group(logGroupName=group)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    try:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    base = start_ms if start_ms is not None else int(time.time() * 1000)
    for start in range(0, len(messages), 10_000):
        chunk = messages[start:start + 10_000]
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[
            {"timestamp": base + start + i, "message": m} for i, m in enumerate(chunk)
        ])


until = functools.partial(shared_until, timeout=10.0)
