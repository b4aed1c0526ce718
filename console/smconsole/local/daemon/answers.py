"""SageMaker answers moto leaves short: DescribeEndpoint's async config, images and pending
deployment, and ListModels' / ListEndpointConfigs' / ListEndpoints' filters, sorting and
paging."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from smconsole.local.daemon import backends

if TYPE_CHECKING:
    from smconsole.local.daemon.lifecycle import EndpointRuntime

LIST_MODELS_DEFAULT = 10  # AWS's MaxResults default for ListModels, ListEndpoints, ...
LIST_MODELS_MAX = 100


def epoch(value: Any) -> float:
    """Moto keeps naive UTC datetimes; the JSON protocol carries epoch seconds, to the
    millisecond as AWS gives them, cut (not rounded) as moto's Describe* answers cut them,
    so that a listing and a describe of the same resource agree."""
    if isinstance(value, datetime):
        value = value if value.tzinfo else value.replace(tzinfo=UTC)
        return value.replace(microsecond=0).timestamp() + value.microsecond // 1000 / 1000
    return float(value)


def _images(region: str, model_name: str | None, when: float) -> list[dict[str, Any]]:
    model = backends.model(region, model_name or "")
    if model is None:
        return []
    containers = model.containers or [model.primary_container or {}]
    return [{"SpecifiedImage": c["Image"], "ResolutionTime": when}
            for c in containers if c.get("Image")]


def describe_endpoint(payload: dict[str, Any], region: str,
                      runtime: EndpointRuntime | None) -> dict[str, Any]:
    name = payload.get("EndpointName", "")
    record = backends.endpoint(region, name)
    if record is None:
        return payload
    config = backends.endpoint_config(region, record.endpoint_config_name)
    created = epoch(record.creation_time)
    if config is not None:
        if config.async_inference_config:
            payload["AsyncInferenceConfig"] = config.async_inference_config
        models = {v["VariantName"]: v.get("ModelName") for v in config.production_variants}
        for variant in payload.get("ProductionVariants") or []:
            images = _images(region, models.get(variant.get("VariantName")), created)
            if images:
                variant["DeployedImages"] = images
    pending = _pending(region, runtime)
    if pending:
        payload["PendingDeploymentSummary"] = pending
    return payload


def _pending(region: str, runtime: EndpointRuntime | None) -> dict[str, Any] | None:
    """While UpdateEndpoint rolls out: the new config's variants and how far they are."""
    if runtime is None or not runtime.pending_update:
        return None
    config = backends.endpoint_config(region, runtime.pending_update)
    if config is None:
        return None
    started = runtime.update_started or epoch(datetime.now(UTC))
    coming = runtime.pending_variants or {}
    variants = []
    for spec in config.production_variants:
        summary: dict[str, Any] = {
            "VariantName": spec["VariantName"],
            "DesiredInstanceCount": int(spec.get("InitialInstanceCount") or 0),
            "DesiredWeight": float(spec.get("InitialVariantWeight", 1.0)),
            "CurrentWeight": float(spec.get("InitialVariantWeight", 1.0)),
            "VariantStatus": [{"Status": "Creating", "StartTime": started}],
        }
        if spec.get("InstanceType"):
            summary["InstanceType"] = spec["InstanceType"]
        images = _images(region, spec.get("ModelName"), started)
        if images:
            summary["DeployedImages"] = images
        variant = coming.get(spec["VariantName"])
        summary["CurrentInstanceCount"] = len(variant.healthy()) if variant else 0
        variants.append(summary)
    return {"EndpointConfigName": runtime.pending_update, "ProductionVariants": variants,
            "StartTime": started}


@dataclass(frozen=True)
class _Listing:
    key: str  # the answer's list member
    name: str  # each summary's name member
    sort_keys: dict[str, str]  # SortBy value -> summary member


_LISTINGS = {
    "ListModels": _Listing("Models", "ModelName",
                           {"Name": "ModelName", "CreationTime": "CreationTime"}),
    "ListEndpointConfigs": _Listing("EndpointConfigs", "EndpointConfigName",
                                    {"Name": "EndpointConfigName",
                                     "CreationTime": "CreationTime"}),
    "ListEndpoints": _Listing("Endpoints", "EndpointName",
                              {"Name": "EndpointName", "CreationTime": "CreationTime",
                               "Status": "EndpointStatus"}),
}
LISTED = frozenset(_LISTINGS)


def _summaries(action: str, region: str) -> list[dict[str, Any]]:
    backend = backends.sagemaker(region)
    if action == "ListModels":
        return [{"ModelName": m.model_name, "ModelArn": m.arn,
                 "CreationTime": epoch(m.creation_time)} for m in list(backend._models.values())]
    if action == "ListEndpointConfigs":
        return [{"EndpointConfigName": c.endpoint_config_name,
                 "EndpointConfigArn": c.endpoint_config_arn,
                 "CreationTime": epoch(c.creation_time)}
                for c in list(backend.endpoint_configs.values())]
    return [{"EndpointName": e.endpoint_name, "EndpointArn": e.arn,
             "CreationTime": epoch(e.creation_time),
             "LastModifiedTime": epoch(e.last_modified_time), "EndpointStatus": e.endpoint_status}
            for e in list(backend.endpoints.values())]


def list_summaries(action: str, region: str, params: dict[str, Any]) -> dict[str, Any] | str:
    """ListModels / ListEndpointConfigs / ListEndpoints as AWS pages them (CreationTime,
    Descending and 10 a page by default; moto sorts ascending, 100 a page, and takes any
    SortBy); a string is a validation message."""
    listing = _LISTINGS[action]
    try:
        size = int(params.get("MaxResults") or LIST_MODELS_DEFAULT)
        start = int(params.get("NextToken") or 0)
    except (TypeError, ValueError):
        return f"NextToken and MaxResults must be integers given by an earlier {action}."
    if not 1 <= size <= LIST_MODELS_MAX:
        return (f"Value '{size}' at 'maxResults' failed to satisfy constraint: Member must "
                f"have value between 1 and {LIST_MODELS_MAX}")
    sort_by = params.get("SortBy") or "CreationTime"
    order = params.get("SortOrder") or "Descending"
    if sort_by not in listing.sort_keys:
        return (f"Value '{sort_by}' at 'sortBy' failed to satisfy constraint: Member must "
                f"satisfy enum value set: [{', '.join(listing.sort_keys)}]")
    if order not in ("Ascending", "Descending"):
        return (f"Value '{order}' at 'sortOrder' failed to satisfy constraint: Member must "
                "satisfy enum value set: [Ascending, Descending]")
    contains = str(params.get("NameContains") or "").lower()
    before, after = params.get("CreationTimeBefore"), params.get("CreationTimeAfter")
    modified_before = params.get("LastModifiedTimeBefore")
    modified_after = params.get("LastModifiedTimeAfter")
    status = params.get("StatusEquals")
    rows = []
    for row in _summaries(action, region):
        created = row["CreationTime"]
        if contains and contains not in row[listing.name].lower():
            continue
        if before is not None and created >= float(before):
            continue
        if after is not None and created < float(after):  # "greater than or equal to"
            continue
        if modified_before is not None and row["LastModifiedTime"] >= float(modified_before):
            continue
        if modified_after is not None and row["LastModifiedTime"] <= float(modified_after):
            continue
        if status and row["EndpointStatus"] != status:
            continue
        rows.append(row)
    key = listing.sort_keys[sort_by]
    rows.sort(key=lambda r: (r[key], r[listing.name]), reverse=order == "Descending")
    out: dict[str, Any] = {listing.key: rows[start:start + size]}
    if start + size < len(rows):
        out["NextToken"] = str(start + size)
    return out


# What Application Auto Scaling uses for a SageMaker target registered without RoleARN.
SERVICE_LINKED_ROLE = ("arn:aws:iam::{account}:role/aws-service-role/"
                       "sagemaker.application-autoscaling.amazonaws.com/"
                       "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint")


def scalable_targets(payload: dict[str, Any]) -> dict[str, Any]:
    """RoleARN is required in the answer; moto leaves it out when the caller gave none."""
    for target in payload.get("ScalableTargets") or []:
        if not target.get("RoleARN") and target.get("ServiceNamespace") == "sagemaker":
            target["RoleARN"] = SERVICE_LINKED_ROLE.format(account=backends.account_id())
    return payload


_VARIANT_TARGET = re.compile(r"\Aendpoint/[^/]+/variant/[^/]+\Z")


def scaling_refusal(action: str, region: str,
                    params: dict[str, Any]) -> tuple[str, str] | None:
    """(code, message) for what Application Auto Scaling refuses on a SageMaker target and moto
    takes: Min above Max (the autoscaler then scaled past MaxCapacity), a policy on a target
    never registered, a resource ID not `endpoint/<name>/variant/<variant>` (moto: HTTP 500)."""
    if params.get("ServiceNamespace") != "sagemaker" or action not in (
            "RegisterScalableTarget", "PutScalingPolicy"):
        return None
    resource, dimension = str(params.get("ResourceId") or ""), params.get("ScalableDimension")
    if not _VARIANT_TARGET.match(resource):
        return ("ValidationException",
                "Unsupported service namespace, resource type or scalable dimension")
    target = backends.autoscaling(region).targets.get(dimension, {}).get(resource)
    if action == "PutScalingPolicy":
        if target is None:
            return ("ObjectNotFoundException", (
                "No scalable target registered for service namespace: sagemaker, resource ID: "
                f"{resource}, scalable dimension: {dimension}"))
        return None
    low = params.get("MinCapacity", target.min_capacity if target else None)
    high = params.get("MaxCapacity", target.max_capacity if target else None)
    if low is not None and high is not None and int(low) > int(high):
        return ("ValidationException",
                "Minimum capacity cannot be greater than maximum capacity")
    return None
