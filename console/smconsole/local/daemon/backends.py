"""Moto's in-process backend objects: the few places the data plane reaches into moto.

Moto's internals are version-bound (pinned in pyproject); everything that touches them lives
here or in `patches.py`, so an upgrade has two files to re-check.
"""

from __future__ import annotations

from typing import Any


def account_id() -> str:
    from moto.core import DEFAULT_ACCOUNT_ID

    return str(DEFAULT_ACCOUNT_ID)


def known_region(region: str) -> bool:
    from moto.sagemaker.models import sagemaker_backends

    return region in sagemaker_backends[account_id()].regions


def sagemaker(region: str) -> Any:
    from moto.sagemaker.models import sagemaker_backends

    return sagemaker_backends[account_id()][region]


def autoscaling(region: str) -> Any:
    from moto.applicationautoscaling.models import applicationautoscaling_backends

    return applicationautoscaling_backends[account_id()][region]


def cloudwatch(region: str) -> Any:
    from moto.cloudwatch.models import cloudwatch_backends

    return cloudwatch_backends[account_id()][region]


def endpoint(region: str, name: str) -> Any | None:
    """Moto's FakeEndpoint, or None."""
    return sagemaker(region).endpoints.get(name)


def endpoint_config(region: str, name: str) -> Any | None:
    return sagemaker(region).endpoint_configs.get(name)


def model(region: str, name: str) -> Any | None:
    return sagemaker(region)._models.get(name)


def all_endpoints() -> list[tuple[str, str]]:
    """(region, name) of every endpoint moto holds, in every region."""
    from moto.sagemaker.models import sagemaker_backends

    return [(region, name) for region, backend in list(sagemaker_backends[account_id()].items())
            for name in list(backend.endpoints)]


def forget_endpoint(region: str, name: str) -> None:
    sagemaker(region).endpoints.pop(name, None)


def set_endpoint_status(region: str, name: str, status: str, reason: str | None) -> None:
    """Status (and FailureReason when given) on moto's record, so Describe/List/waiters see it."""
    from moto.core.utils import utcnow

    record = endpoint(region, name)
    if record is None:
        return
    record.endpoint_status = status
    if reason is not None:
        record.failure_reason = reason
    record.last_modified_time = utcnow()


def point_endpoint_at_config(region: str, name: str, config_name: str) -> None:
    """The endpoint record now names config_name and carries its variants (UpdateEndpoint)."""
    record = endpoint(region, name)
    config = endpoint_config(region, config_name)
    if record is None or config is None:
        return
    record.endpoint_config_name = config_name
    record.production_variants = record._process_production_variants(config.production_variants)
    record.failure_reason = None


def s3_object(bucket: str, key: str) -> Any | None:
    """Moto's stored S3 object (value, metadata), or None when the key or bucket is gone."""
    from moto.s3.models import s3_backends

    try:
        return s3_backends[account_id()]["aws"].get_object(bucket, key)
    except Exception:  # noqa: BLE001 - a missing bucket means the key is gone too
        return None


def delete_target_policies(region: str, namespace: str, resource_id: str,
                           dimension: str) -> None:
    """AWS deletes a scalable target's policies (and their alarms) with it; moto does not."""
    backend = autoscaling(region)
    for key, policy in list(backend.policies.items()):
        if (policy.service_namespace == namespace and policy.resource_id == resource_id
                and policy.scalable_dimension == dimension):
            policy.delete_alarms(account_id(), region)
            del backend.policies[key]


def keep_creation_time(region: str, action: str, params: dict[str, Any], at: float) -> None:
    """A replayed Create* keeps the time it first ran (moto stamps the replay's own time)."""
    import datetime

    found = None
    if action == "CreateModel":
        found = model(region, str(params.get("ModelName", "")))
    elif action == "CreateEndpointConfig":
        found = endpoint_config(region, str(params.get("EndpointConfigName", "")))
    elif action == "CreateEndpoint":
        found = endpoint(region, str(params.get("EndpointName", "")))
    if found is None:
        return
    # moto keeps naive UTC datetimes
    found.creation_time = datetime.datetime.fromtimestamp(at, datetime.UTC).replace(tzinfo=None)
    if hasattr(found, "last_modified_time"):
        found.last_modified_time = found.creation_time


def logs(region: str) -> Any:
    from moto.logs.models import logs_backends

    return logs_backends[account_id()][region]
