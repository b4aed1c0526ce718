"""SageMaker endpoints: list (any count), describe with config and models, delete."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from smconsole import errors
from smconsole.models.endpoints import (
    AsyncConfig,
    Endpoint,
    EndpointConfig,
    EndpointDetail,
    ModelInfo,
    ScalingPolicySummary,
    ScalingSummary,
    Variant,
)
from smconsole.session import AwsSession

PAGE_SIZE = 100  # ListEndpoints' maximum
DESCRIBE_CONCURRENCY = 2


class EndpointsService:
    """Endpoints through one session; describes are cached until the listing says they changed."""

    def __init__(self, session: AwsSession) -> None:
        self._session = session
        self._lock = threading.Lock()
        # Configs never change once created (AWS makes a new one for every update).
        self._configs: dict[str, EndpointConfig] = {}
        self._described: dict[str, Endpoint] = {}

    @property
    def _sm(self) -> Any:
        return self._session.client("sagemaker")

    def iter_pages(self) -> Iterator[list[Endpoint]]:
        """ListEndpoints page by page, rows merged with what earlier describes found."""
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"MaxResults": PAGE_SIZE, "SortBy": "Name",
                                      "SortOrder": "Ascending"}
            if token:
                kwargs["NextToken"] = token
            page = self._sm.list_endpoints(**kwargs)
            yield [self._from_cache(_summary(item)) for item in page.get("Endpoints", [])]
            token = page.get("NextToken")
            if not token:
                return

    def list_endpoints(self) -> list[Endpoint]:
        """Every endpoint from the listing alone (no per-endpoint calls)."""
        return [e for page in self.iter_pages() for e in page]

    def stale(self, endpoints: Iterable[Endpoint]) -> list[str]:
        """Names whose cached describe is missing or older than the listing."""
        return [e.name for e in endpoints if not e.described or e.is_transitional]

    def describe_many(self, names: list[str]) -> list[Endpoint]:
        """DescribeEndpoint (and config, cached) for several names, a few at a time."""
        if not names:
            return []

        def one(name: str) -> Endpoint | None:
            try:
                return self.describe_endpoint(name)
            except errors.NotFound:
                return None

        with ThreadPoolExecutor(max_workers=min(DESCRIBE_CONCURRENCY, len(names))) as pool:
            return [e for e in pool.map(one, names) if e is not None]

    def list_described(self) -> list[Endpoint]:
        """Every endpoint with instance type, counts and kind: what `smconsole endpoints` prints."""
        listed = self.list_endpoints()
        fresh = {e.name: e for e in self.describe_many(self.stale(listed))}
        return [e.merged(fresh[e.name]) if e.name in fresh else e for e in listed]

    def describe_endpoint(self, name: str) -> Endpoint:
        raw = self._sm.describe_endpoint(EndpointName=name)
        config = self.endpoint_config(raw["EndpointConfigName"])
        endpoint = _described(raw, config)
        with self._lock:
            self._described[name] = endpoint
        return endpoint

    def endpoint_config(self, name: str) -> EndpointConfig:
        with self._lock:
            found = self._configs.get(name)
        if found is not None:
            return found
        raw = self._sm.describe_endpoint_config(EndpointConfigName=name)
        config = _config(raw)
        with self._lock:
            self._configs[name] = config
        return config

    def describe(self, name: str) -> EndpointDetail:
        """The endpoint, its config's variants and async settings, its models and autoscaling."""
        raw = self._sm.describe_endpoint(EndpointName=name)
        config = self.endpoint_config(raw["EndpointConfigName"])
        endpoint = _described(raw, config)
        with self._lock:
            self._described[name] = endpoint
        live = {v["VariantName"]: v for v in raw.get("ProductionVariants", [])}
        variants = tuple(_merge_variant(v, live.get(v.name)) for v in config.variants)
        models = tuple(self._model(n) for n in dict.fromkeys(v.model_name for v in variants))
        return EndpointDetail(
            endpoint=endpoint, config=config, variants=variants,
            models=tuple(m for m in models if m is not None),
            scaling=self._scaling(name, [v.name for v in variants]),
        )

    def delete(self, name: str) -> None:
        self._sm.delete_endpoint(EndpointName=name)
        with self._lock:
            self._described.pop(name, None)

    def _model(self, name: str) -> ModelInfo | None:
        try:
            raw = self._sm.describe_model(ModelName=name)
        except errors.NotFound:
            return None
        containers = raw.get("Containers") or [raw.get("PrimaryContainer") or {}]
        first = containers[0] if containers else {}
        data = first.get("ModelDataUrl")
        source = (first.get("ModelDataSource") or {}).get("S3DataSource") or {}
        return ModelInfo(
            name=name, image=first.get("Image"), model_data=data or source.get("S3Uri"),
            environment=tuple(sorted((first.get("Environment") or {}).items())),
            execution_role=raw.get("ExecutionRoleArn"),
        )

    def _scaling(self, endpoint: str, variants: list[str]) -> tuple[ScalingSummary, ...]:
        ids = [f"endpoint/{endpoint}/variant/{v}" for v in variants]
        client = self._session.client("application-autoscaling")
        try:
            targets = client.describe_scalable_targets(
                ServiceNamespace="sagemaker", ResourceIds=ids,
            ).get("ScalableTargets", [])
            found: list[ScalingSummary] = []
            for target in targets:
                policies = client.describe_scaling_policies(
                    ServiceNamespace="sagemaker", ResourceId=target["ResourceId"],
                ).get("ScalingPolicies", [])
                found.append(ScalingSummary(
                    resource_id=target["ResourceId"],
                    min_capacity=int(target["MinCapacity"]),
                    max_capacity=int(target["MaxCapacity"]),
                    policies=tuple(_policy(p) for p in policies),
                ))
        except errors.SmconsoleError:
            # Autoscaling is a detail; its absence or refusal must not hide the endpoint.
            return ()
        return tuple(found)

    def _from_cache(self, listed: Endpoint) -> Endpoint:
        with self._lock:
            cached = self._described.get(listed.name)
        if cached is None or cached.last_modified != listed.last_modified:
            return listed
        if cached.status != listed.status:
            return listed
        return listed.merged(cached)


def _summary(item: dict[str, Any]) -> Endpoint:
    return Endpoint(
        name=item["EndpointName"], status=item.get("EndpointStatus", ""),
        created=_dt(item.get("CreationTime")), last_modified=_dt(item.get("LastModifiedTime")),
        arn=item.get("EndpointArn", ""),
    )


def _described(raw: dict[str, Any], config: EndpointConfig) -> Endpoint:
    live = raw.get("ProductionVariants") or []
    current = sum(int(v.get("CurrentInstanceCount") or 0) for v in live) if live else None
    desired = sum(int(v.get("DesiredInstanceCount") or 0) for v in live) if live else None
    types = sorted({v.instance_type for v in config.variants if v.instance_type})
    if not types and any(v.serverless for v in config.variants):
        types = ["serverless"]
    return Endpoint(
        name=raw["EndpointName"], status=raw.get("EndpointStatus", ""),
        created=_dt(raw.get("CreationTime")), last_modified=_dt(raw.get("LastModifiedTime")),
        arn=raw.get("EndpointArn", ""), config_name=raw["EndpointConfigName"],
        instance_type=",".join(types) or None, current_instances=current,
        desired_instances=desired, is_async=config.async_config is not None,
        failure_reason=raw.get("FailureReason") or None,
    )


def _config(raw: dict[str, Any]) -> EndpointConfig:
    variants = tuple(
        Variant(
            name=v["VariantName"], model_name=v.get("ModelName", ""),
            instance_type=v.get("InstanceType"),
            initial_instances=v.get("InitialInstanceCount"),
            current_instances=None, desired_instances=None,
            weight=v.get("InitialVariantWeight"),
            serverless="ServerlessConfig" in v,
        )
        for v in raw.get("ProductionVariants", [])
    )
    async_raw = raw.get("AsyncInferenceConfig")
    async_config = None
    if async_raw:
        output = async_raw.get("OutputConfig") or {}
        notify = output.get("NotificationConfig") or {}
        client = async_raw.get("ClientConfig") or {}
        async_config = AsyncConfig(
            output_path=output.get("S3OutputPath"), failure_path=output.get("S3FailurePath"),
            success_topic=notify.get("SuccessTopic"), error_topic=notify.get("ErrorTopic"),
            max_concurrent_per_instance=client.get("MaxConcurrentInvocationsPerInstance"),
            include_response_in=tuple(notify.get("IncludeInferenceResponseIn") or ()),
        )
    return EndpointConfig(
        name=raw["EndpointConfigName"], variants=variants, async_config=async_config,
        created=_dt(raw.get("CreationTime")),
    )


def _merge_variant(config: Variant, live: dict[str, Any] | None) -> Variant:
    if live is None:
        return config
    return Variant(
        name=config.name, model_name=config.model_name, instance_type=config.instance_type,
        initial_instances=config.initial_instances,
        current_instances=live.get("CurrentInstanceCount"),
        desired_instances=live.get("DesiredInstanceCount"),
        weight=live.get("CurrentWeight", config.weight), serverless=config.serverless,
    )


def _policy(raw: dict[str, Any]) -> ScalingPolicySummary:
    tracking = raw.get("TargetTrackingScalingPolicyConfiguration") or {}
    metric = None
    if "CustomizedMetricSpecification" in tracking:
        metric = tracking["CustomizedMetricSpecification"].get("MetricName")
    elif "PredefinedMetricSpecification" in tracking:
        metric = tracking["PredefinedMetricSpecification"].get("PredefinedMetricType")
    return ScalingPolicySummary(
        name=raw["PolicyName"], policy_type=raw.get("PolicyType", ""), metric=metric,
        target=tracking.get("TargetValue"),
    )


def _dt(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) else None
