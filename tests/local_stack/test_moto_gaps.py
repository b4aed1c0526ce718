"""Moto gaps the daemon fills: ListModels / ListEndpointConfigs / ListEndpoints order and
paging, GetMetricData math and alignment, GetMetricStatistics periods, target-tracking
alarms, scaling refusals, GetLogEvents' missing stream. Against the real daemon over HTTP;
no endpoint needed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError
from fixtures.local_stack import ROLE_ARN, unique
from fixtures.shapes import problems

pytestmark = pytest.mark.local_stack


def test_list_models_filters_sorts_and_pages(local_stack) -> None:
    sm = local_stack.client("sagemaker")
    tag = unique("lm")
    names = [f"{tag}-{letter}" for letter in "cab"]
    for name in names:
        sm.create_model(ModelName=name, ExecutionRoleArn=ROLE_ARN,
                        PrimaryContainer={"Image": "local"})
    first = sm.list_models(NameContains=tag, SortBy="Name", SortOrder="Ascending",
                           MaxResults=2)
    assert problems(sm, "ListModels", first) == []
    assert [m["ModelName"] for m in first["Models"]] == sorted(names)[:2]
    rest = sm.list_models(NameContains=tag, SortBy="Name", SortOrder="Ascending",
                          MaxResults=2, NextToken=first["NextToken"])
    assert [m["ModelName"] for m in rest["Models"]] == sorted(names)[2:]
    assert "NextToken" not in rest
    newest = sm.list_models(NameContains=tag.upper(), MaxResults=1)["Models"]
    assert newest[0]["ModelName"] == names[-1]  # CreationTime, Descending by default
    assert set(newest[0]) == {"ModelName", "ModelArn", "CreationTime"}
    with pytest.raises(ClientError, match="sortBy"):
        sm.list_models(SortBy="Size")


def test_list_endpoint_configs_and_endpoints_order_and_validate_like_aws(local_stack) -> None:
    sm = local_stack.client("sagemaker")
    tag = unique("lec")
    sm.create_model(ModelName=tag, ExecutionRoleArn=ROLE_ARN, PrimaryContainer={"Image": "local"})
    names = [f"{tag}-{letter}" for letter in "cab"]
    made = []
    for name in names:
        sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": tag, "InstanceType": "ml.m5.large",
            "InitialInstanceCount": 1}])
        made.append(sm.describe_endpoint_config(EndpointConfigName=name)["CreationTime"])
    listed = sm.list_endpoint_configs(NameContains=tag.upper())
    assert problems(sm, "ListEndpointConfigs", listed) == []
    # CreationTime, Descending by default (moto: ascending); NameContains ignores case.
    assert [c["EndpointConfigName"] for c in listed["EndpointConfigs"]] == names[::-1]
    since = sm.list_endpoint_configs(NameContains=tag, CreationTimeAfter=made[1])
    assert [c["EndpointConfigName"] for c in since["EndpointConfigs"]] == names[:0:-1]  # >=
    first = sm.list_endpoint_configs(NameContains=tag, SortBy="Name", SortOrder="Ascending",
                                     MaxResults=2)
    rest = sm.list_endpoint_configs(NameContains=tag, SortBy="Name", SortOrder="Ascending",
                                    MaxResults=2, NextToken=first["NextToken"])
    assert [c["EndpointConfigName"] for c in first["EndpointConfigs"] + rest[
        "EndpointConfigs"]] == sorted(names)
    for call in (sm.list_endpoint_configs, sm.list_endpoints):  # moto took any SortBy
        with pytest.raises(ClientError, match="ValidationException.*sortBy"):
            call(SortBy="Size")
    endpoints = sm.list_endpoints(SortBy="Status", StatusEquals="InService")
    assert problems(sm, "ListEndpoints", endpoints) == []
    assert {e["EndpointStatus"] for e in endpoints["Endpoints"]} <= {"InService"}


def _query(qid: str, metric: str, namespace: str, stat: str = "Sum",
           visible: bool = False) -> dict:
    return {"Id": qid, "ReturnData": visible, "MetricStat": {
        "Metric": {"Namespace": namespace, "MetricName": metric}, "Period": 60, "Stat": stat}}


def test_get_metric_data_math_and_period_alignment(local_stack) -> None:
    cw = local_stack.client("cloudwatch")
    namespace = unique("Test/Math")
    base = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)
    # a: 1, 2, (gap), 4 per minute; b: 10 each minute; points land 17 s into each minute.
    for minute, value in ((0, 1.0), (1, 2.0), (3, 4.0)):
        cw.put_metric_data(Namespace=namespace, MetricData=[{
            "MetricName": "a", "Value": value,
            "Timestamp": base + timedelta(minutes=minute, seconds=17)}])
    for minute in range(4):
        cw.put_metric_data(Namespace=namespace, MetricData=[{
            "MetricName": "b", "Value": 10.0,
            "Timestamp": base + timedelta(minutes=minute, seconds=17)}])
    answer = cw.get_metric_data(
        StartTime=base + timedelta(seconds=37), EndTime=base + timedelta(minutes=4),
        ScanBy="TimestampAscending",
        MetricDataQueries=[
            _query("a", "a", namespace, visible=True), _query("b", "b", namespace),
            {"Id": "ratio", "Expression": "a / b * 100"},
            {"Id": "total", "Expression": "SUM([a, b])"},
            {"Id": "peak", "Expression": "MAX(a) + 0 * b"},
            {"Id": "filled", "Expression": "FILL(a, 0)"},
            {"Id": "repeat", "Expression": "FILL(a, REPEAT)"},
            {"Id": "avg", "Expression": "AVG(METRICS())"},
        ])
    assert problems(cw, "GetMetricData", answer) == []
    found = {r["Id"]: r for r in answer["MetricDataResults"]}
    assert set(found) == {"a", "ratio", "total", "peak", "filled", "repeat", "avg"}
    # On the period boundary (the minute), not 37 s past it as the start time was.
    assert [t.astimezone(UTC) for t in found["a"]["Timestamps"]] == [
        base + timedelta(minutes=m) for m in (0, 1, 3)]
    assert found["a"]["Values"] == [1.0, 2.0, 4.0]
    assert found["ratio"]["Values"] == [10.0, 20.0, 40.0]
    assert found["total"]["Values"] == [11.0, 12.0, 10.0, 14.0]
    assert found["peak"]["Values"] == [4.0] * 4
    assert found["filled"]["Values"] == [1.0, 2.0, 0.0, 4.0]
    assert found["repeat"]["Values"] == [1.0, 2.0, 2.0, 4.0]
    assert found["avg"]["Values"] == [5.5, 6.0, 10.0, 7.0]
    with pytest.raises(ClientError, match="expression"):
        cw.get_metric_data(StartTime=base, EndTime=base + timedelta(minutes=4),
                           MetricDataQueries=[_query("a", "a", namespace),
                                              {"Id": "x", "Expression": "ANOMALY(a)"}])


def test_get_metric_statistics_counts_periods_from_the_minute(local_stack) -> None:
    cw = local_stack.client("cloudwatch")
    namespace = unique("Test/Stats")
    base = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)
    for offset, value in ((17, 1.0), (65, 2.0), (80, 3.0)):
        cw.put_metric_data(Namespace=namespace, MetricData=[{
            "MetricName": "m", "Value": value, "Unit": "Count",
            "Timestamp": base + timedelta(seconds=offset)}])
    answer = cw.get_metric_statistics(
        Namespace=namespace, MetricName="m", StartTime=base + timedelta(seconds=30),
        EndTime=base + timedelta(minutes=3), Period=60, Statistics=["Sum", "SampleCount"])
    assert problems(cw, "GetMetricStatistics", answer) == []
    # AWS rounds the start down to the minute and counts periods from there; moto counted
    # from the first datapoint (base + 65 s) and missed the one at base + 17 s.
    found = sorted((d["Timestamp"].astimezone(UTC), d["Sum"], d["SampleCount"], d["Unit"])
                   for d in answer["Datapoints"])
    assert found == [(base, 1.0, 1.0, "Count"),
                     (base + timedelta(minutes=1), 5.0, 2.0, "Count")]


def test_target_tracking_policy_creates_and_deletes_its_alarms(local_stack) -> None:
    session = local_stack.session()
    aas, cw = session.client("application-autoscaling"), session.client("cloudwatch")
    resource = f"endpoint/{unique('tt')}/variant/AllTraffic"
    dimension = "sagemaker:variant:DesiredInstanceCount"
    aas.register_scalable_target(ServiceNamespace="sagemaker", ResourceId=resource,
                                 ScalableDimension=dimension, MinCapacity=0, MaxCapacity=2)
    targets = aas.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[resource])
    assert [t["ResourceId"] for t in targets["ScalableTargets"]] == [resource]
    assert problems(aas, "DescribeScalableTargets", targets) == []
    put = aas.put_scaling_policy(
        PolicyName="backlog", ServiceNamespace="sagemaker", ResourceId=resource,
        ScalableDimension=dimension, PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 5.0, "CustomizedMetricSpecification": {
                "MetricName": "ApproximateBacklogSizePerInstance", "Namespace": "AWS/SageMaker",
                "Dimensions": [{"Name": "EndpointName", "Value": resource.split("/")[1]}],
                "Statistic": "Average"}})
    assert problems(aas, "PutScalingPolicy", put) == []
    names = sorted(a["AlarmName"] for a in put["Alarms"])
    assert [n.rsplit("-", 5)[0] for n in names] == [
        f"TargetTracking-{resource}-AlarmHigh", f"TargetTracking-{resource}-AlarmLow"]
    alarms = cw.describe_alarms(AlarmNames=names)["MetricAlarms"]
    assert problems(cw, "DescribeAlarms", {"MetricAlarms": alarms}) == []
    by_kind = {a["AlarmName"].split("-")[-6]: a for a in alarms}
    assert by_kind["AlarmHigh"]["Threshold"] == 5.0
    assert by_kind["AlarmHigh"]["ComparisonOperator"] == "GreaterThanThreshold"
    assert by_kind["AlarmLow"]["Threshold"] == pytest.approx(4.5)
    assert by_kind["AlarmHigh"]["AlarmActions"] == [put["PolicyARN"]]
    described = aas.describe_scaling_policies(ServiceNamespace="sagemaker",
                                              ResourceId=resource)
    assert problems(aas, "DescribeScalingPolicies", described) == []
    aas.delete_scaling_policy(PolicyName="backlog", ServiceNamespace="sagemaker",
                              ResourceId=resource, ScalableDimension=dimension)
    assert cw.describe_alarms(AlarmNames=names)["MetricAlarms"] == []


def test_scaling_refuses_min_above_max_unregistered_targets_and_bad_ids(local_stack) -> None:
    aas = local_stack.client("application-autoscaling")
    resource = f"endpoint/{unique('bounds')}/variant/AllTraffic"
    dimension = "sagemaker:variant:DesiredInstanceCount"
    target = {"ServiceNamespace": "sagemaker", "ResourceId": resource,
              "ScalableDimension": dimension}
    policy = {"PolicyName": "backlog", "PolicyType": "TargetTrackingScaling",
              "TargetTrackingScalingPolicyConfiguration": {
                  "TargetValue": 5.0, "PredefinedMetricSpecification": {
                      "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}}}
    # Moto took a policy on nothing, Min above Max (the autoscaler then scaled the variant
    # past MaxCapacity) and answered a short resource ID with an HTML 500.
    with pytest.raises(ClientError, match="ObjectNotFoundException.*No scalable target"):
        aas.put_scaling_policy(**target, **policy)
    with pytest.raises(ClientError, match="ValidationException.*Minimum capacity"):
        aas.register_scalable_target(**target, MinCapacity=3, MaxCapacity=2)
    aas.register_scalable_target(**target, MinCapacity=1, MaxCapacity=2)
    with pytest.raises(ClientError, match="ValidationException.*Minimum capacity"):
        aas.register_scalable_target(**target, MinCapacity=3)  # against the stored Max
    assert [(t["MinCapacity"], t["MaxCapacity"]) for t in aas.describe_scalable_targets(
        ServiceNamespace="sagemaker", ResourceIds=[resource])["ScalableTargets"]] == [(1, 2)]
    assert problems(aas, "PutScalingPolicy", aas.put_scaling_policy(**target, **policy)) == []
    with pytest.raises(ClientError, match="ValidationException.*Unsupported") as refused:
        aas.register_scalable_target(**{**target, "ResourceId": "endpoint/x"}, MinCapacity=0,
                                     MaxCapacity=1)
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    aas.deregister_scalable_target(**target)


def test_get_log_events_names_the_missing_stream(local_stack) -> None:
    logs = local_stack.client("logs")
    group = f"/aws/sagemaker/Endpoints/{unique('gle')}"
    with pytest.raises(ClientError, match="log group does not exist"):
        logs.get_log_events(logGroupName=group, logStreamName="AllTraffic/i-0")
    logs.create_log_group(logGroupName=group)
    with pytest.raises(ClientError, match="The specified log stream does not exist"):
        logs.get_log_events(logGroupName=group, logStreamName="AllTraffic/i-0")
    logs.create_log_stream(logGroupName=group, logStreamName="AllTraffic/i-0")
    answer = logs.get_log_events(logGroupName=group, logStreamName="AllTraffic/i-0")
    assert problems(logs, "GetLogEvents", answer) == [] and answer["events"] == []


def test_filter_log_events_interleaves_streams_by_time(local_stack) -> None:
    logs = local_stack.client("logs")
    group = f"/aws/sagemaker/Endpoints/{unique('fle')}"
    logs.create_log_group(logGroupName=group)
    now = int(datetime.now(UTC).timestamp() * 1000)
    for stream, offsets in (("AllTraffic/i-a", (0, 2000)), ("AllTraffic/i-b", (1000,))):
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[
            {"timestamp": now + o, "message": f"{stream} {o}"} for o in offsets])
    answer = logs.filter_log_events(logGroupName=group)  # no `interleaved`: AWS ignores it
    assert problems(logs, "FilterLogEvents", answer) == []
    assert [e["message"] for e in answer["events"]] == [
        "AllTraffic/i-a 0", "AllTraffic/i-b 1000", "AllTraffic/i-a 2000"]


def test_filter_log_events_honours_the_stream_prefix(local_stack) -> None:
    logs = local_stack.client("logs")
    group = f"/aws/sagemaker/Endpoints/{unique('flp')}"
    logs.create_log_group(logGroupName=group)
    now = int(datetime.now(UTC).timestamp() * 1000)
    for stream in ("AllTraffic/i-a", "AllTraffic/i-a/data-log", "Other/i-b"):
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        logs.put_log_events(logGroupName=group, logStreamName=stream,
                            logEvents=[{"timestamp": now, "message": stream}])
    # Moto searched every stream whatever the prefix.
    answer = logs.filter_log_events(logGroupName=group, logStreamNamePrefix="AllTraffic/")
    assert problems(logs, "FilterLogEvents", answer) == []
    assert sorted(e["message"] for e in answer["events"]) == [
        "AllTraffic/i-a", "AllTraffic/i-a/data-log"]
    assert logs.filter_log_events(logGroupName=group,
                                  logStreamNamePrefix="Nothing")["events"] == []
    with pytest.raises(ClientError, match="logStreamNamePrefix"):
        logs.filter_log_events(logGroupName=group, logStreamNamePrefix="Other",
                               logStreamNames=["Other/i-b"])
