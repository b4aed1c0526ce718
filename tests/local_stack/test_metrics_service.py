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
    processed = series["InvocationsProcessed"]
    # A count is 0 where nothing was counted: one point a minute over the hour.
    assert sorted(processed.values)[-1:] == [4.0] and sum(processed.values) == 4.0
    assert len(processed.values) == 60 and processed.values.count(0.0) == 59
    assert all(b - a == timedelta(minutes=1)
               for a, b in zip(processed.timestamps, processed.timestamps[1:], strict=False))
    assert MetricsService(moto_session).async_metrics("nothing-here") == {}


def test_one_series_per_dimension_set_however_often_listmetrics_repeats_it(moto_session) -> None:
    """Issue 13.3: ListMetrics (moto, and AWS across its lists) names a series once per
    datapoint put; the detail added each copy ("96" for a Sum of 36)."""
    cw = moto_session.client("cloudwatch")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    dims = [{"Name": "EndpointName", "Value": "ep"}, {"Name": "VariantName", "Value": "A"}]
    for minutes_ago, value in ((9, 5.0), (6, 7.0), (3, 24.0)):
        cw.put_metric_data(Namespace="AWS/SageMaker", MetricData=[{
            "MetricName": "InvocationsProcessed", "Value": value, "Dimensions": dims,
            "Timestamp": now - timedelta(minutes=minutes_ago)}])
    series = MetricsService(moto_session).async_metrics("ep")
    assert sum(series["InvocationsProcessed"].values) == 36.0


def test_the_endpoint_wide_series_wins_over_per_variant_copies(moto_session) -> None:
    cw = moto_session.client("cloudwatch")
    at = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=4)
    for dims in ([{"Name": "EndpointName", "Value": "ep"}],
                 [{"Name": "EndpointName", "Value": "ep"}, {"Name": "VariantName", "Value": "A"}]):
        cw.put_metric_data(Namespace="AWS/SageMaker", MetricData=[{
            "MetricName": "InvocationsProcessed", "Value": 6.0, "Dimensions": dims,
            "Timestamp": at}])
    series = MetricsService(moto_session).async_metrics("ep")
    assert sum(series["InvocationsProcessed"].values) == 6.0
