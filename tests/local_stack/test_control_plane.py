"""The control-plane gaps the router fixes: AWS's answers where moto's differ."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from fixtures.local_stack import ROLE_ARN, unique, upload_model, wait_for, wait_in_service
from fixtures.shapes import problems

pytestmark = pytest.mark.local_stack

DIMENSION = "sagemaker:variant:DesiredInstanceCount"


@pytest.fixture(scope="module")
def classifier_model(local_stack, tiny_classifier):
    session = local_stack.session()
    uri = upload_model(session, "smconsole-tests", tiny_classifier)
    name = unique("classifier")
    session.client("sagemaker").create_model(
        ModelName=name, ExecutionRoleArn=ROLE_ARN, PrimaryContainer={
            "Image": "local", "ModelDataUrl": uri,
            "Environment": {"MODEL_DIR": "/opt/ml/model/model"}})
    return name


def _config(sm, model: str, count: int = 1, instance_type: str = "ml.g5.xlarge") -> str:
    name = unique("config")
    created = sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": model, "InstanceType": instance_type,
        "InitialInstanceCount": count, "InitialVariantWeight": 1.0}])
    assert problems(sm, "CreateEndpointConfig", created) == []
    return name


def test_create_refuses_existing_names_and_knows_current_instance_types(
        local_stack, classifier_model) -> None:
    sm = local_stack.session().client("sagemaker")
    with pytest.raises(ClientError, match="Cannot create already existing model"):
        sm.create_model(ModelName=classifier_model, ExecutionRoleArn=ROLE_ARN,
                        PrimaryContainer={"Image": "local"})
    config = _config(sm, classifier_model, instance_type="ml.g6.2xlarge")
    with pytest.raises(ClientError, match="Cannot create already existing endpoint config"):
        sm.create_endpoint_config(EndpointConfigName=config, ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": classifier_model,
            "InstanceType": "ml.inf2.xlarge", "InitialInstanceCount": 1}])
    with pytest.raises(ClientError, match="instanceType"):
        _config(sm, classifier_model, instance_type="ml.nonsense")


def test_realtime_update_scale_and_delete(local_stack, classifier_model) -> None:
    session = local_stack.session()
    sm, runtime = session.client("sagemaker"), session.client("sagemaker-runtime")
    name = unique("realtime")
    first = _config(sm, classifier_model)
    created = sm.create_endpoint(EndpointName=name, EndpointConfigName=first)
    assert problems(sm, "CreateEndpoint", created) == []
    assert problems(sm, "DescribeEndpoint", sm.describe_endpoint(EndpointName=name)) == []
    with pytest.raises(ClientError, match="Cannot create already existing endpoint"):
        sm.create_endpoint(EndpointName=name, EndpointConfigName=first)
    wait_in_service(session, name, 120)

    answer = runtime.invoke_endpoint(EndpointName=name, ContentType="application/json",
                                     Body=json.dumps({"inputs": "a fine day"}))
    assert answer["InvokedProductionVariant"] == "AllTraffic"
    assert problems(runtime, "InvokeEndpoint", answer) == []
    assert {"NEGATIVE", "POSITIVE"} & set(answer["Body"].read().decode().replace('"', " ")
                                          .split())

    # UpdateEndpoint (moto: HTTP 500): Updating, then InService on the new config.
    second = _config(sm, classifier_model, count=2)
    sm.update_endpoint(EndpointName=name, EndpointConfigName=second)
    assert sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "Updating"
    with pytest.raises(ClientError, match="Cannot update in-progress endpoint"):
        sm.update_endpoint(EndpointName=name, EndpointConfigName=first)
    described = wait_in_service(session, name, 120)
    assert described["EndpointConfigName"] == second
    assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 2

    # A count alone keeps the weight (moto drops it); the count is real instances.
    sm.update_endpoint_weights_and_capacities(EndpointName=name, DesiredWeightsAndCapacities=[
        {"VariantName": "AllTraffic", "DesiredInstanceCount": 1}])
    variant = wait_for(lambda: (v := sm.describe_endpoint(EndpointName=name)[
        "ProductionVariants"][0])["CurrentInstanceCount"] == 1 and v, 60)
    assert variant["DesiredInstanceCount"] == 1
    assert variant["CurrentWeight"] == 1.0

    assert problems(sm, "DeleteEndpoint", sm.delete_endpoint(EndpointName=name)) == []
    deleting = sm.describe_endpoint(EndpointName=name)
    assert problems(sm, "DescribeEndpoint", deleting) == []
    assert deleting["EndpointStatus"] == "Deleting"
    wait_for(lambda: name not in {e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]},
             60)
    with pytest.raises(ClientError, match="Could not find endpoint"):
        sm.describe_endpoint(EndpointName=name)


def test_deregister_removes_policies_and_activities_are_served(local_stack) -> None:
    aas = local_stack.session().client("application-autoscaling")
    cw = local_stack.session().client("cloudwatch")
    resource = f"endpoint/{unique('ghost')}/variant/AllTraffic"
    registered = aas.register_scalable_target(
        ServiceNamespace="sagemaker", ResourceId=resource, ScalableDimension=DIMENSION,
        MinCapacity=0, MaxCapacity=2)
    assert problems(aas, "RegisterScalableTarget", registered) == []
    put = aas.put_scaling_policy(
        PolicyName="p", ServiceNamespace="sagemaker", ResourceId=resource,
        ScalableDimension=DIMENSION, PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 5.0, "CustomizedMetricSpecification": {
                "MetricName": "ApproximateBacklogSizePerInstance",
                "Namespace": "AWS/SageMaker", "Statistic": "Average"}})
    alarms = [a["AlarmName"] for a in put["Alarms"]]
    assert len(alarms) == 2
    gone = aas.deregister_scalable_target(ServiceNamespace="sagemaker", ResourceId=resource,
                                          ScalableDimension=DIMENSION)
    assert problems(aas, "DeregisterScalableTarget", gone) == []
    assert cw.describe_alarms(AlarmNames=alarms)["MetricAlarms"] == []  # with their policy
    assert aas.describe_scaling_policies(ServiceNamespace="sagemaker",
                                         ResourceId=resource)["ScalingPolicies"] == []
    assert aas.describe_scaling_activities(ServiceNamespace="sagemaker",
                                           ResourceId=resource)["ScalingActivities"] == []
    every = aas.describe_scaling_activities(ServiceNamespace="sagemaker")
    assert problems(aas, "DescribeScalingActivities", every) == []


def test_instance_that_dies_is_replaced(local_stack, classifier_model) -> None:
    import os
    import signal

    import httpx

    session = local_stack.session()
    sm = session.client("sagemaker")
    name = unique("crash")
    sm.create_endpoint(EndpointName=name, EndpointConfigName=_config(sm, classifier_model))
    wait_in_service(session, name, 120)

    def instances() -> list[dict]:
        state = httpx.get(f"{local_stack.url}/_smconsole/status", timeout=5).json()
        mine = next(e for e in state["endpoints"] if e["name"] == name)
        return mine["variants"][0]["instances"]

    (first,) = instances()
    os.kill(first["pid"], signal.SIGKILL)
    replaced = wait_for(lambda: [i for i in instances()
                                 if i["id"] != first["id"] and i["state"] == "Healthy"], 120)
    assert len(replaced) == 1
    described = wait_in_service(session, name, 60)
    assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 1
    events = session.client("logs").filter_log_events(
        logGroupName=f"/aws/sagemaker/Endpoints/{name}", filterPattern="replacing")["events"]
    assert events and first["id"] in events[0]["message"]
    sm.delete_endpoint(EndpointName=name)
