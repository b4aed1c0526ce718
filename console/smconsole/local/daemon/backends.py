"""Moto's in-process backend objects: the few places the data plane reaches into moto.

Moto's internals are version-bound (pinned in pyproject); everything that touches them lives
here or in `patches.py`, so an upgrade has two files to re-check.
"""

from __future__ import annotations

from typing import Any


def account_id() -> str:
    from moto.core import DEFAULT_ACCOUNT_ID

    return str(DEFAULT_ACCOUNT_ID)


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


def endpoint_names(region: str) -> list[str]:
    return list(sagemaker(region).endpoints)
