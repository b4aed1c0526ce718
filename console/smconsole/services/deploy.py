"""Deploy an async endpoint from a spec: plan (a diff) -> model -> config -> endpoint -> wait.

The plan reads only; `deploy` records every resource it creates, so a failed deploy can be
cleaned up with one `cleanup(result.created)` call.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from smconsole import errors
from smconsole.models.deploy import (
    CleanupResult,
    DeployPlan,
    DeployProgress,
    DeployResult,
    FieldChange,
    Resource,
)
from smconsole.models.scaling import ScalingResult
from smconsole.services.autoscaling import AutoscalingService
from smconsole.session import AwsSession
from smconsole.specs.common import split_s3_uri
from smconsole.specs.deploy import DeploySpec

TRANSITIONAL = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"})
GPU_FAMILIES = ("ml.g4dn.", "ml.g5.", "ml.g6.", "ml.g6e.", "ml.p3.", "ml.p4d.", "ml.p5.")
LOG_LINES = 20
LOG_ATTEMPTS = 4
LOG_RETRY_S = 2.0
AWS_POLL_S = 15.0  # SageMaker throttles DescribeEndpoint; creation takes ~5 minutes anyway
LOCAL_POLL_S = 0.5

Progress = Callable[[DeployProgress], None]


def log_group(endpoint: str) -> str:
    return f"/aws/sagemaker/Endpoints/{endpoint}"


class DeployService:
    """Creates and updates async endpoints through one session."""

    def __init__(
        self, session: AwsSession, *, autoscaling: AutoscalingService | None = None,
        clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
        poll_interval: float | None = None, now: Callable[[], datetime] | None = None,
    ) -> None:
        self._session = session
        self._autoscaling = autoscaling or AutoscalingService(session)
        self._clock = clock
        self._sleep = sleep
        self._now = now or (lambda: datetime.now(UTC))
        self.poll_interval = poll_interval if poll_interval is not None else (
            LOCAL_POLL_S if session.is_local else AWS_POLL_S)

    @property
    def _sm(self) -> Any:
        return self._session.client("sagemaker")

    # ---- plan ---------------------------------------------------------------------------

    def plan(self, spec: DeploySpec) -> DeployPlan:
        """What deploying `spec` would create or change, as a diff against what exists."""
        model_name, config_name = spec.resource_names(self._now())
        current = self._describe_endpoint(spec.name)
        if current is not None and not spec.update:
            raise errors.SmconsoleError(
                f"endpoint {spec.name} exists ({current['EndpointStatus']}): set `update: true` "
                "in the spec to move it to a new config"
            )
        if current is not None and current["EndpointStatus"] in TRANSITIONAL:
            raise errors.SmconsoleError(
                f"endpoint {spec.name} is {current['EndpointStatus']}: wait until it settles"
            )
        for kind, exists in (("model", self._model_exists(model_name)),
                             ("endpoint config", self._config_exists(config_name))):
            if exists:
                raise errors.SmconsoleError(f"{kind} {model_name} exists already: retry in a second")

        before = self._deployed_fields(current) if current is not None else {}
        after = desired_fields(spec)
        changes = tuple(
            FieldChange(key, before.get(key), after.get(key))
            for key in sorted(before.keys() | after.keys())
            if before.get(key) != after.get(key)
        )
        creates = [Resource("model", model_name), Resource("endpoint-config", config_name)]
        if current is None:
            creates.append(Resource("endpoint", spec.name))

        scaling = None
        if spec.autoscaling is not None:
            same_variant = current is not None and any(
                v.get("VariantName") == spec.variant.name
                for v in current.get("ProductionVariants", []))
            if same_variant:
                scaling = self._autoscaling.plan(spec.name, spec.autoscaling,
                                                 variant=spec.variant.name, replace_policies=True)
            else:
                scaling = self._autoscaling.plan_new(spec.name, spec.variant.name,
                                                     spec.variant.instance_type, spec.autoscaling)
        return DeployPlan(
            endpoint=spec.name, action="update" if current is not None else "create",
            model_name=model_name, config_name=config_name, variant=spec.variant.name,
            changes=changes, creates=tuple(creates),
            current_config=current.get("EndpointConfigName") if current else None,
            scaling=scaling, warnings=tuple(self._warnings(spec, scaling)), spec=spec,
        )

    def _warnings(self, spec: DeploySpec, scaling: Any) -> list[str]:
        found: list[str] = []
        if spec.variant.instance_type.startswith(GPU_FAMILIES) and not spec.variant.inference_ami_version:
            found.append(
                f"{spec.variant.instance_type} defaults to NVIDIA driver 470 (CUDA 11.4): set "
                "variant.inference_ami_version (e.g. al2-ami-sagemaker-inference-gpu-3-1) unless "
                "the image carries cuda-compat, or the container fails its ping check"
            )
        bucket, key = split_s3_uri(spec.model.data)
        try:
            self._session.client("s3").head_object(Bucket=bucket, Key=key)
        except errors.NotFound:
            found.append(f"model data {spec.model.data} not found: the deploy would fail")
        except errors.SmconsoleError as exc:
            found.append(f"model data {spec.model.data} could not be checked: {exc}")
        if scaling is not None:
            found.extend(scaling.warnings)
        return found

    def _describe_endpoint(self, name: str) -> dict[str, Any] | None:
        try:
            return dict(self._sm.describe_endpoint(EndpointName=name))
        except errors.NotFound:
            return None

    def _model_exists(self, name: str) -> bool:
        try:
            self._sm.describe_model(ModelName=name)
        except errors.NotFound:
            return False
        return True

    def _config_exists(self, name: str) -> bool:
        try:
            self._sm.describe_endpoint_config(EndpointConfigName=name)
        except errors.NotFound:
            return False
        return True

    def _deployed_fields(self, endpoint: dict[str, Any]) -> dict[str, str]:
        config = self._sm.describe_endpoint_config(
            EndpointConfigName=endpoint["EndpointConfigName"])
        variants = config.get("ProductionVariants") or [{}]
        model: dict[str, Any] = {}
        if variants[0].get("ModelName"):
            try:
                model = dict(self._sm.describe_model(ModelName=variants[0]["ModelName"]))
            except errors.NotFound:
                model = {}
        return deployed_fields(model, config)

    # ---- deploy -------------------------------------------------------------------------

    def deploy(
        self, target: DeploySpec | DeployPlan, progress: Progress | None = None, *,
        timeout: float = 3600.0,
    ) -> DeployResult:
        """Create (or update) and wait; never raises for a failed endpoint, only reports it."""
        plan = target if isinstance(target, DeployPlan) else self.plan(target)
        spec: DeploySpec = plan.spec
        report = progress or (lambda _p: None)
        start = self._clock()
        started_at = self._now()
        created: list[Resource] = []

        def tick(stage: str, status: str, message: str = "") -> None:
            report(DeployProgress(stage, status, self._clock() - start, message))

        def outcome(status: str, **kwargs: Any) -> DeployResult:
            return DeployResult(spec.name, status, self._clock() - start, tuple(created), **kwargs)

        scaling_removed = False
        try:
            tick("model", "creating", plan.model_name)
            self._sm.create_model(**model_request(spec, plan.model_name))
            created.append(Resource("model", plan.model_name))
            tick("endpoint-config", "creating", plan.config_name)
            self._sm.create_endpoint_config(**config_request(spec, plan.config_name,
                                                             plan.model_name))
            created.append(Resource("endpoint-config", plan.config_name))
            if plan.action == "create":
                tick("endpoint", "creating", spec.name)
                self._sm.create_endpoint(EndpointName=spec.name,
                                         EndpointConfigName=plan.config_name,
                                         Tags=_tags(spec.tags))
                created.append(Resource("endpoint", spec.name))
            else:
                # AWS refuses an update that changes the instance type of a scaled variant.
                if _instance_type_changes(plan) and self._has_target(spec):
                    tick("autoscaling", "deregistering", "the instance type changes")
                    self._autoscaling.remove(spec.name, spec.variant.name)
                    scaling_removed = True
                tick("endpoint", "updating", f"to {plan.config_name}")
                self._sm.update_endpoint(EndpointName=spec.name,
                                         EndpointConfigName=plan.config_name)
        except errors.SmconsoleError as exc:
            tick("failed", "error", str(exc))
            return outcome("NotCreated", error=str(exc))

        try:
            status, reason = self.wait(spec.name, tick, timeout=timeout,
                                       expect_config=plan.config_name)
        except errors.SmconsoleError as exc:
            # The resources exist: report them so they can still be cleaned up.
            tick("failed", "error", str(exc))
            return outcome("Unknown", error=f"waiting for {spec.name}: {exc}")
        if status != "InService" or reason:
            return outcome(status, failure_reason=reason or status,
                           log_lines=tuple(self._failure_logs(spec.name, started_at)))

        scaling: ScalingResult | None = None
        if spec.autoscaling is not None:
            tick("autoscaling", "applying")
            try:
                scaling_plan = self._autoscaling.plan(spec.name, spec.autoscaling,
                                                      variant=spec.variant.name,
                                                      replace_policies=True)
                scaling = self._autoscaling.apply(scaling_plan)
            except errors.SmconsoleError as exc:
                return outcome(status, error=f"autoscaling: {exc}")
            if not scaling.applied:
                return outcome(status, scaling=scaling, error=f"autoscaling: {scaling.message()}")
        elif scaling_removed:
            tick("autoscaling", "left deregistered", "the spec has no autoscaling block")
        tick("done", status)
        return outcome(status, scaling=scaling)

    def _has_target(self, spec: DeploySpec) -> bool:
        return self._autoscaling.describe(spec.name, spec.variant.name).target is not None

    def wait(
        self, endpoint: str, tick: Callable[..., None] | None = None, *, timeout: float = 3600.0,
        expect_config: str | None = None,
    ) -> tuple[str, str | None]:
        """Poll DescribeEndpoint until it settles: (status, failure reason or None).

        A failed update rolls back to InService on the old config, so `expect_config` tells a
        finished update from a rolled-back one.
        """
        report = tick or (lambda *_a: None)
        deadline = self._clock() + timeout
        while True:
            desc = self._sm.describe_endpoint(EndpointName=endpoint)
            status = desc["EndpointStatus"]
            reason = desc.get("FailureReason")
            report("waiting", status, reason or "")
            if status == "Failed":
                return status, reason or "no FailureReason given"
            if status == "InService":
                config = desc.get("EndpointConfigName")
                if expect_config is None or config == expect_config:
                    return status, None
                if reason:
                    return "UpdateFailed", f"{reason} (rolled back to {config})"
            if status not in TRANSITIONAL and status != "InService":
                return status, reason or f"endpoint is {status}"
            if self._clock() >= deadline:
                return "TimedOut", f"still {status} after {timeout:.0f}s"
            self._sleep(self.poll_interval)

    def _failure_logs(self, endpoint: str, since: datetime) -> list[str]:
        """Logs reach CloudWatch seconds after the container writes them: retry a little."""
        for attempt in range(LOG_ATTEMPTS):
            lines = self.last_log_lines(endpoint, since)
            if lines or attempt == LOG_ATTEMPTS - 1:
                return lines
            self._sleep(min(self.poll_interval * 2, LOG_RETRY_S))
        return []

    def last_log_lines(self, endpoint: str, since: datetime | None = None,
                       count: int = LOG_LINES) -> list[str]:
        """The container's last `count` log lines (all streams), oldest first."""
        kwargs: dict[str, Any] = {"logGroupName": log_group(endpoint), "interleaved": True}
        if since is not None:
            kwargs["startTime"] = int(since.timestamp() * 1000) - 60_000
        lines: list[tuple[int, str]] = []
        try:
            for _ in range(50):  # bounded: a chatty container must not stall the report
                page = self._session.client("logs").filter_log_events(**kwargs)
                lines.extend((e.get("timestamp", 0), e.get("message", "").rstrip("\n"))
                             for e in page.get("events", []))
                lines = lines[-count * 4:]
                token = page.get("nextToken")
                if not token or token == kwargs.get("nextToken"):
                    break
                kwargs["nextToken"] = token
        except errors.NotFound:
            return []
        except errors.SmconsoleError as exc:
            return [f"(container logs unavailable: {exc})"]
        lines.sort(key=lambda item: item[0])
        return [text for _, text in lines[-count:]]

    # ---- cleanup ------------------------------------------------------------------------

    def cleanup(self, created: tuple[Resource, ...] | list[Resource]) -> CleanupResult:
        """Delete what a deploy created, newest first; each failure is reported, none stops it."""
        deleted: list[Resource] = []
        failed: list[tuple[Resource, str]] = []
        for resource in reversed(list(created)):
            try:
                self._delete(resource)
            except errors.NotFound:
                deleted.append(resource)
            except errors.SmconsoleError as exc:
                failed.append((resource, str(exc)))
            else:
                deleted.append(resource)
        return CleanupResult(tuple(deleted), tuple(failed))

    def _delete(self, resource: Resource) -> None:
        if resource.kind == "endpoint":
            desc = self._describe_endpoint(resource.name) or {}
            for variant in desc.get("ProductionVariants", []):
                self._autoscaling.remove(resource.name, variant["VariantName"])
            self._sm.delete_endpoint(EndpointName=resource.name)
        elif resource.kind == "endpoint-config":
            self._sm.delete_endpoint_config(EndpointConfigName=resource.name)
        elif resource.kind == "model":
            self._sm.delete_model(ModelName=resource.name)


# ---- requests and the fields a diff compares --------------------------------------------

def model_request(spec: DeploySpec, name: str) -> dict[str, Any]:
    container: dict[str, Any] = {
        "Image": spec.model.image,
        "ModelDataSource": {"S3DataSource": {
            "S3Uri": spec.model.data, "S3DataType": "S3Object", "CompressionType": "Gzip",
        }},
    }
    if spec.model.environment:
        container["Environment"] = dict(spec.model.environment)
    return {
        "ModelName": name, "ExecutionRoleArn": spec.model.execution_role_arn,
        "PrimaryContainer": container, "Tags": _tags(spec.tags),
    }


def config_request(spec: DeploySpec, name: str, model_name: str) -> dict[str, Any]:
    v = spec.variant
    variant: dict[str, Any] = {
        "VariantName": v.name, "ModelName": model_name, "InstanceType": v.instance_type,
        "InitialInstanceCount": v.instance_count, "InitialVariantWeight": 1.0,
    }
    optional = {
        "InferenceAmiVersion": v.inference_ami_version,
        "ContainerStartupHealthCheckTimeoutInSeconds": v.container_startup_health_check_timeout,
        "ModelDataDownloadTimeoutInSeconds": v.model_data_download_timeout,
        "VolumeSizeInGB": v.volume_size_gb,
    }
    variant.update({k: val for k, val in optional.items() if val is not None})
    a = spec.async_inference
    output: dict[str, Any] = {"S3OutputPath": a.output_path}
    if a.failure_path:
        output["S3FailurePath"] = a.failure_path
    if a.kms_key:
        output["KmsKeyId"] = a.kms_key
    n = a.notifications
    if n is not None:
        note: dict[str, Any] = {}
        if n.success_topic:
            note["SuccessTopic"] = n.success_topic
        if n.error_topic:
            note["ErrorTopic"] = n.error_topic
        if n.include_inference_response_in:
            note["IncludeInferenceResponseIn"] = list(n.include_inference_response_in)
        output["NotificationConfig"] = note
    async_config: dict[str, Any] = {"OutputConfig": output}
    if a.max_concurrent_invocations_per_instance:
        async_config["ClientConfig"] = {
            "MaxConcurrentInvocationsPerInstance": a.max_concurrent_invocations_per_instance}
    return {
        "EndpointConfigName": name, "ProductionVariants": [variant],
        "AsyncInferenceConfig": async_config, "Tags": _tags(spec.tags),
    }


def desired_fields(spec: DeploySpec) -> dict[str, str]:
    """The spec flattened to the same keys `deployed_fields` reads back."""
    return deployed_fields(model_request(spec, "")["PrimaryContainer"] | {
        "ExecutionRoleArn": spec.model.execution_role_arn},
        config_request(spec, "", ""), container_given=True)


def deployed_fields(model: dict[str, Any], config: dict[str, Any], *,
                    container_given: bool = False) -> dict[str, str]:
    container = model if container_given else (
        model.get("PrimaryContainer") or (model.get("Containers") or [{}])[0])
    fields: dict[str, str] = {}

    def put(key: str, value: Any) -> None:
        if value is not None and value != "" and value != []:
            fields[key] = ", ".join(value) if isinstance(value, list) else str(value)

    put("model.image", container.get("Image"))
    source = (container.get("ModelDataSource") or {}).get("S3DataSource") or {}
    put("model.data", source.get("S3Uri") or container.get("ModelDataUrl"))
    for key, value in sorted((container.get("Environment") or {}).items()):
        put(f"model.environment.{key}", value)
    put("model.execution_role_arn", model.get("ExecutionRoleArn"))
    variants = config.get("ProductionVariants") or [{}]
    v = variants[0]
    put("variant.name", v.get("VariantName"))
    put("variant.instance_type", v.get("InstanceType"))
    put("variant.instance_count", v.get("InitialInstanceCount"))
    put("variant.inference_ami_version", v.get("InferenceAmiVersion"))
    put("variant.container_startup_health_check_timeout",
        v.get("ContainerStartupHealthCheckTimeoutInSeconds"))
    put("variant.model_data_download_timeout", v.get("ModelDataDownloadTimeoutInSeconds"))
    put("variant.volume_size_gb", v.get("VolumeSizeInGB"))
    async_config = config.get("AsyncInferenceConfig") or {}
    output = async_config.get("OutputConfig") or {}
    put("async.output_path", output.get("S3OutputPath"))
    put("async.failure_path", output.get("S3FailurePath"))
    put("async.kms_key", output.get("KmsKeyId"))
    put("async.max_concurrent_invocations_per_instance",
        (async_config.get("ClientConfig") or {}).get("MaxConcurrentInvocationsPerInstance"))
    note = output.get("NotificationConfig") or {}
    put("async.notifications.success_topic", note.get("SuccessTopic"))
    put("async.notifications.error_topic", note.get("ErrorTopic"))
    put("async.notifications.include_inference_response_in",
        note.get("IncludeInferenceResponseIn"))
    return fields


def _instance_type_changes(plan: DeployPlan) -> bool:
    return any(c.path == "variant.instance_type" and c.before is not None for c in plan.changes)


def _tags(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]
