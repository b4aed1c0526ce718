"""Endpoints as the console shows them: a table row, and the detail behind it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

TRANSITIONAL = frozenset({
    "Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting", "UpdateRollbackFailed",
})


@dataclass(frozen=True)
class Endpoint:
    """One endpoint; fields from DescribeEndpoint/its config are None until described."""

    name: str
    status: str
    created: datetime | None
    last_modified: datetime | None
    arn: str = ""
    config_name: str | None = None
    instance_type: str | None = None
    current_instances: int | None = None
    desired_instances: int | None = None
    is_async: bool | None = None
    failure_reason: str | None = None

    @property
    def described(self) -> bool:
        return self.config_name is not None

    @property
    def kind(self) -> str:
        if self.is_async is None:
            return ""
        return "async" if self.is_async else "real-time"

    @property
    def is_transitional(self) -> bool:
        return self.status in TRANSITIONAL

    def merged(self, detail: Endpoint) -> Endpoint:
        """This listing row with the described fields of `detail` (same endpoint)."""
        return replace(
            self, arn=detail.arn or self.arn, config_name=detail.config_name,
            instance_type=detail.instance_type, current_instances=detail.current_instances,
            desired_instances=detail.desired_instances, is_async=detail.is_async,
            failure_reason=detail.failure_reason,
        )


@dataclass(frozen=True)
class Variant:
    name: str
    model_name: str
    instance_type: str | None
    initial_instances: int | None
    current_instances: int | None
    desired_instances: int | None
    weight: float | None
    serverless: bool = False


@dataclass(frozen=True)
class AsyncConfig:
    output_path: str | None
    failure_path: str | None
    success_topic: str | None
    error_topic: str | None
    max_concurrent_per_instance: int | None
    include_response_in: tuple[str, ...] = ()


@dataclass(frozen=True)
class EndpointConfig:
    """Endpoint configs never change once created, so this is safe to cache by name."""

    name: str
    variants: tuple[Variant, ...]
    async_config: AsyncConfig | None
    created: datetime | None = None


@dataclass(frozen=True)
class ModelInfo:
    name: str
    image: str | None
    model_data: str | None
    environment: tuple[tuple[str, str], ...] = ()
    execution_role: str | None = None


@dataclass(frozen=True)
class ScalingPolicySummary:
    name: str
    policy_type: str
    metric: str | None
    target: float | None


@dataclass(frozen=True)
class ScalingSummary:
    resource_id: str
    min_capacity: int
    max_capacity: int
    policies: tuple[ScalingPolicySummary, ...] = ()


@dataclass(frozen=True)
class EndpointDetail:
    """Everything the detail screen shows about one endpoint."""

    endpoint: Endpoint
    config: EndpointConfig | None
    models: tuple[ModelInfo, ...] = ()
    scaling: tuple[ScalingSummary, ...] = ()
    variants: tuple[Variant, ...] = field(default=())

    @property
    def failure_reason(self) -> str | None:
        return self.endpoint.failure_reason
