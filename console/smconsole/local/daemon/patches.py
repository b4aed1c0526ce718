"""Start-up patches for moto's gaps that live inside its backend objects (moto 5.2.5)."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from typing import Any

# SageMaker hosting instance families, current and past; moto's list stops years ago.
_INSTANCE_TYPE = re.compile(
    r"^ml\.[a-z][a-z0-9-]*\.(medium|large|[0-9]*xlarge|metal|[0-9]+xlarge)$"
)


def apply() -> None:
    from moto.sagemaker import models

    def validate_instance_type(self: object, instance_type: str) -> None:
        if not _INSTANCE_TYPE.match(instance_type or ""):
            raise models.ValidationError(
                message=f"Value '{instance_type}' at 'instanceType' failed to satisfy "
                "constraint: Member must be a SageMaker ML instance type such as "
                "ml.g5.xlarge")

    models.FakeEndpointConfig.validate_instance_type = validate_instance_type  # type: ignore[method-assign]
    _metric_math()
    _metric_statistics()
    _missing_log_stream()
    _interleaved_log_events()
    _target_tracking_alarms()


def _metric_math() -> None:
    """GetMetricData: datapoints on period boundaries and metric math (see metricmath.py)."""
    from moto.cloudwatch.exceptions import ValidationError
    from moto.cloudwatch.models import CloudWatchBackend

    from smconsole.local.daemon import metricmath

    original = CloudWatchBackend.get_metric_data

    def get_metric_data(self: CloudWatchBackend, queries: list[dict[str, Any]],
                        start_time: datetime, end_time: datetime,
                        scan_by: str = "TimestampAscending") -> list[dict[str, Any]]:
        if start_time >= end_time:
            return original(self, queries, start_time, end_time, scan_by)  # moto's errors
        try:
            return metricmath.get_metric_data(
                lambda *args: original(self, *args), queries, start_time, end_time, scan_by)
        except metricmath.MathError as exc:
            raise ValidationError(f"Error in expression: {exc}") from None

    CloudWatchBackend.get_metric_data = get_metric_data  # type: ignore[method-assign]


def _metric_statistics() -> None:
    """GetMetricStatistics: periods counted from the start time rounded down to the minute,
    as AWS does for data under 15 days old. Moto counts them from the first datapoint's own
    time, so a 60 s period read 13:47:26 and folded the next minute's values into it."""
    from moto.cloudwatch.models import CloudWatchBackend, Statistics

    original = CloudWatchBackend.get_metric_statistics

    def get_metric_statistics(self: CloudWatchBackend, namespace: str, metric_name: str,
                              start_time: datetime, end_time: datetime, period: int,
                              stats: list[str], dimensions: list[dict[str, str]],
                              unit: str | None = None) -> list[Any]:
        if start_time >= end_time or not period or period <= 0:
            return original(self, namespace, metric_name, start_time, end_time, period,
                            stats, dimensions, unit)  # moto's errors
        origin = start_time.replace(second=0, microsecond=0)
        step = timedelta(seconds=period)
        buckets: dict[datetime, Any] = {}
        for group in original(self, namespace, metric_name, origin, end_time, period, stats,
                              dimensions, unit):
            for datum in group.metric_data:
                moment = origin + step * ((datum.timestamp - origin) // step)
                bucket = buckets.setdefault(moment, Statistics(stats, moment))
                bucket.metric_data.append(datum)
                bucket.unit = group.unit
        return [buckets[moment] for moment in sorted(buckets)]

    CloudWatchBackend.get_metric_statistics = get_metric_statistics  # type: ignore[method-assign]


def _missing_log_stream() -> None:
    """GetLogEvents on a stream that is not there says so (moto: 'The specified log group
    does not exist.' for a group that does), as PutLogEvents already does in moto."""
    from moto.logs.exceptions import ResourceNotFoundException
    from moto.logs.models import LogGroup

    original = LogGroup.get_log_events

    def get_log_events(self: LogGroup, log_stream_name: str, *args: Any, **kwargs: Any) -> Any:
        if log_stream_name not in self.streams:
            raise ResourceNotFoundException("The specified log stream does not exist.")
        return original(self, log_stream_name, *args, **kwargs)

    LogGroup.get_log_events = get_log_events  # type: ignore[method-assign]


def _interleaved_log_events() -> None:
    """FilterLogEvents always interleaves the streams by timestamp: AWS has ignored
    `interleaved` since 2019. Moto sorts only when it is sent, so `aws logs tail` and boto3
    read each stream's events in turn, one stream's late lines before another's early ones."""
    from moto.logs.models import LogGroup

    original = LogGroup.filter_log_events

    def filter_log_events(self: LogGroup, *args: Any) -> Any:
        return original(self, *args[:-1], True)

    LogGroup.filter_log_events = filter_log_events  # type: ignore[method-assign]


# What SageMaker's predefined target-tracking metric measures.
_PREDEFINED = {"SageMakerVariantInvocationsPerInstance": ("AWS/SageMaker",
                                                          "InvocationsPerInstance")}
LOW_ALARM_SHARE = 0.9  # AWS's AlarmLow sits 10 % below the target


def _target_tracking_alarms() -> None:
    """Target tracking on a SageMaker variant creates AWS's AlarmHigh/AlarmLow pair (moto does
    it for DynamoDB and ECS only); replacing or deleting the policy deletes them. Every
    policy's ARN is also made stable here (moto draws a new one per put), the one hook that
    runs before any alarm is made for it."""
    from moto.applicationautoscaling.models import (
        ApplicationAutoscalingBackend,
        FakeApplicationAutoscalingPolicy,
    )
    from moto.cloudwatch.models import cloudwatch_backends

    original_create = FakeApplicationAutoscalingPolicy.create_alarms

    def create_alarms(self: FakeApplicationAutoscalingPolicy) -> None:
        # Called from the policy's __init__, before any alarm names the ARN: make it stable.
        # AWS keeps a policy's ARN when it is updated, and a journal replay must give the
        # same one, or the alarms made before a restart name a policy that is gone.
        stable = uuid.uuid5(uuid.NAMESPACE_URL, (
            f"{self.account_id}/{self.region_name}/{self.service_namespace}/"
            f"{self.resource_id}/{self.scalable_dimension}/{self.policy_name}"))
        self.policy_arn = self.policy_arn.replace(str(self._guid), str(stable), 1)
        self._guid = stable
        original_create(self)
        if self.policy_type != "TargetTrackingScaling" or self.service_namespace != "sagemaker":
            return
        config = self.target_tracking_scaling_policy_configuration or {}
        custom = config.get("CustomizedMetricSpecification") or {}
        predefined = (config.get("PredefinedMetricSpecification") or {}).get(
            "PredefinedMetricType", "")
        parts = self.resource_id.split("/")  # endpoint/<name>/variant/<variant>
        if custom:
            namespace, metric = custom.get("Namespace", ""), custom.get("MetricName", "")
            dimensions = custom.get("Dimensions") or []
            statistic = custom.get("Statistic") or "Average"
        elif predefined in _PREDEFINED and len(parts) == 4:
            namespace, metric = _PREDEFINED[predefined]
            dimensions = [{"Name": "EndpointName", "Value": parts[1]},
                          {"Name": "VariantName", "Value": parts[3]}]
            statistic = "Sum"
        else:
            return
        target = float(config.get("TargetValue") or 0)
        cloudwatch = cloudwatch_backends[self.account_id][self.region_name]
        action = self.policy_arn
        pairs = [("AlarmHigh", "GreaterThanThreshold", 3, target)]
        if not config.get("DisableScaleIn"):
            pairs.append(("AlarmLow", "LessThanThreshold", 15, target * LOW_ALARM_SHARE))
        for suffix, comparison, periods, threshold in pairs:
            self.alarms.append(cloudwatch.put_metric_alarm(
                name=f"TargetTracking-{self.resource_id}-{suffix}-{uuid.uuid4()}",
                namespace=namespace, metric_name=metric, metric_data_queries=[],
                comparison_operator=comparison, evaluation_periods=periods, period=60,
                threshold=threshold, statistic=statistic,
                description=f"DO NOT EDIT OR DELETE. For TargetTrackingScaling policy {action}.",
                dimensions=dimensions, alarm_actions=[action],
            ))

    FakeApplicationAutoscalingPolicy.create_alarms = create_alarms  # type: ignore[method-assign]

    original_put = ApplicationAutoscalingBackend.put_scaling_policy

    def put_scaling_policy(self: ApplicationAutoscalingBackend, policy_name: str,
                           service_namespace: str, resource_id: str, scalable_dimension: str,
                           *args: Any, **kwargs: Any) -> Any:
        key = FakeApplicationAutoscalingPolicy.formulate_key(
            service_namespace, resource_id, scalable_dimension, policy_name)
        old = self.policies.get(key)
        policy = original_put(self, policy_name, service_namespace, resource_id,
                              scalable_dimension, *args, **kwargs)
        if old is not None and old is not policy:
            old.delete_alarms(self.account_id, self.region_name)
        return policy

    ApplicationAutoscalingBackend.put_scaling_policy = put_scaling_policy  # type: ignore[method-assign]
