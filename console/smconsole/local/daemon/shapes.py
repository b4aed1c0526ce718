"""Answers held to botocore's output shapes: what moto leaves half-filled, AWS leaves out.

Moto answers `"VpcConfig": {}` or `"DataCaptureConfig": {}` where AWS omits the member; a
client that validates (the SageMaker SDK v3's pydantic resources) then refuses the whole
answer. `prune` drops every optional structure that lacks one of its required members, at any
depth (list items are kept: leaving one out would hide a resource).
"""

from __future__ import annotations

import functools
import json
from typing import Any

import botocore.session

# JSON-protocol services whose answers from moto pass through `prune`.
PRUNED_SERVICES = frozenset({"sagemaker", "application-autoscaling", "logs"})


@functools.lru_cache(maxsize=8)
def service_model(service: str) -> Any:
    return botocore.session.get_session().get_service_model(service)


def output_shape(service: str, action: str) -> Any | None:
    try:
        return service_model(service).operation_model(action).output_shape
    except Exception:  # noqa: BLE001 - an action botocore does not know: leave it alone
        return None


def prune_body(service: str, action: str, body: bytes) -> bytes:
    """The JSON answer with incomplete optional structures removed (unchanged if none)."""
    shape = output_shape(service, action)
    if shape is None or not body:
        return body
    try:
        payload = json.loads(body)
    except ValueError:
        return body
    if not isinstance(payload, dict) or not prune(payload, shape):
        return body
    return json.dumps(payload, default=str).encode()


def prune(value: Any, shape: Any) -> bool:
    """Drop incomplete optional structures under `value` in place; True if anything changed."""
    changed = False
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        for name in list(value):
            member = shape.members.get(name)
            if member is None:
                continue
            child = value[name]
            changed |= prune(child, member)
            if name in shape.required_members:
                continue
            if member.type_name == "structure" and isinstance(child, dict) and (
                    _incomplete(child, member) or (not child and member.members)):
                del value[name]
                changed = True
    elif kind == "list" and isinstance(value, list):
        # Items stay, complete or not: dropping one would hide a real resource.
        for item in value:
            changed |= prune(item, shape.member)
    elif kind == "map" and isinstance(value, dict):
        for item in value.values():
            changed |= prune(item, shape.value)
    return changed


def _incomplete(value: dict[str, Any], shape: Any) -> bool:
    return any(value.get(name) is None for name in shape.required_members)
