"""Async metrics from CloudWatch over moto: names discovered, per-variant series summed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from smconsole.services.metrics import MetricsService


def test_async_metrics_last_hour(moto_session) -> None:
    cw = moto_session.client("cloudwatch")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    for minutes_ago, value in ((30, 4.0), (20, 9.0), (5, 1.0)):
        cw.put_metric_data(Namespace="AWS/SageMaker", MetricData=[{
            "MetricName": "ApproximateBacklogSize", "Value": value,
            "Dimensions": [{"Name": "EndpointName", "Value": "ep"}],
            "Timestamp": now - timedelta(minutes=minutes_ago)}])
    for variant in ("A", "B"):
        cw.put_metric_data(Namespace="AWS/SageMaker", MetricData=[{
            "MetricName": "InvocationsProcessed", "Value": 2.0,
            "Dimensions": [{"Name": "EndpointName", "Value": "ep"},
                           {"Name": "VariantName", "Value": variant}],
            "Timestamp": now - timedelta(minutes=10)}])
    cw.put_metric_data(Namespace="AWS/SageMaker", MetricData=[{
        "MetricName": "ApproximateBacklogSize", "Value": 99.0,
        "Dimensions": [{"Name": "EndpointName", "Value": "other"}],
        "Timestamp": now - timedelta(minutes=10)}])
    series = MetricsService(moto_session).async_metrics("ep")
    assert set(series) == {"ApproximateBacklogSize", "InvocationsProcessed"}
    assert series["ApproximateBacklogSize"].values == (4.0, 9.0, 1.0)
    assert series["InvocationsProcessed"].values == (4.0,)
    assert MetricsService(moto_session).async_metrics("nothing-here") == {}
