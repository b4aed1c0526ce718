"""Endpoints over moto: every page, describes cached until the listing changes, detail, delete."""

from __future__ import annotations

from collections import Counter

import pytest
from fixtures.moto import fail_endpoint, make_endpoint
from smconsole import errors
from smconsole.services.endpoints import EndpointsService
from smconsole.session import AwsSession


def _count_calls(session: AwsSession) -> Counter[str]:
    calls: Counter[str] = Counter()
    session.client("sagemaker").meta.events.register(
        "before-call", lambda model, **_: calls.update([model.name]))
    return calls


def test_lists_every_page(moto_session) -> None:
    sm = moto_session.client("sagemaker")
    make_endpoint(moto_session, "seed")
    for i in range(104):
        sm.create_endpoint(EndpointName=f"ep-{i:03d}", EndpointConfigName="seed-config")
    calls = _count_calls(moto_session)
    listed = EndpointsService(moto_session).list_endpoints()
    assert len(listed) == 105
    assert calls["ListEndpoints"] == 2 and calls["DescribeEndpoint"] == 0


def test_describes_are_cached_until_the_listing_changes(moto_session) -> None:
    make_endpoint(moto_session, "one", instance_type="ml.c5.xlarge", count=3)
    make_endpoint(moto_session, "two", is_async=False)
    service = EndpointsService(moto_session)
    calls = _count_calls(moto_session)
    first = {e.name: e for e in service.list_described()}
    assert first["one"].instance_type == "ml.c5.xlarge" and first["one"].kind == "async"
    assert (first["one"].current_instances, first["one"].desired_instances) == (3, 3)
    assert first["two"].kind == "real-time"
    assert calls["DescribeEndpoint"] == 2 and calls["DescribeEndpointConfig"] == 2
    again = service.list_described()
    assert again == list(first.values())
    assert calls["DescribeEndpoint"] == 2  # nothing changed: no per-endpoint calls
    fail_endpoint("two", "boom")
    changed = {e.name: e for e in service.list_described()}
    assert changed["two"].status == "Failed" and changed["two"].failure_reason == "boom"
    assert calls["DescribeEndpoint"] == 3 and calls["DescribeEndpointConfig"] == 2


def test_detail_has_config_models_and_scaling(moto_session) -> None:
    make_endpoint(moto_session, "full")
    aas = moto_session.client("application-autoscaling")
    resource = "endpoint/full/variant/AllTraffic"
    aas.register_scalable_target(
        ServiceNamespace="sagemaker", ResourceId=resource,
        ScalableDimension="sagemaker:variant:DesiredInstanceCount", MinCapacity=0, MaxCapacity=4)
    aas.put_scaling_policy(
        PolicyName="backlog", ServiceNamespace="sagemaker", ResourceId=resource,
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 5.0, "CustomizedMetricSpecification": {
                "MetricName": "ApproximateBacklogSizePerInstance", "Namespace": "AWS/SageMaker",
                "Dimensions": [{"Name": "EndpointName", "Value": "full"}],
                "Statistic": "Average"}})
    detail = EndpointsService(moto_session).describe("full")
    assert detail.config is not None and detail.config.async_config is not None
    assert detail.config.async_config.failure_path == "s3://out/full-failed/"
    assert detail.config.async_config.error_topic.endswith(":err")
    assert detail.models[0].image.endswith("smc:1")
    assert dict(detail.models[0].environment) == {"HF_TASK": "feature-extraction"}
    assert detail.variants[0].current_instances == 1
    (scaling,) = detail.scaling
    assert (scaling.min_capacity, scaling.max_capacity) == (0, 4)
    assert scaling.policies[0].metric == "ApproximateBacklogSizePerInstance"
    assert scaling.policies[0].target == 5.0


def test_delete_and_missing(moto_session) -> None:
    make_endpoint(moto_session, "gone")
    service = EndpointsService(moto_session)
    service.delete("gone")
    assert service.list_endpoints() == []
    with pytest.raises(errors.NotFound):
        service.describe("gone")
