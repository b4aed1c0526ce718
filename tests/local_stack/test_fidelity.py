"""What unmodified clients read from the daemon: answers that fit botocore's shapes, the
async endpoint's description, Updating while capacity moves, SNS messages, data-log lines.

One tiny-classifier async endpoint for the module, its topics subscribed to an SQS queue
before it is created (so the TestNotification is seen).
"""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from botocore.exceptions import ClientError
from fixtures.local_stack import (
    ROLE_ARN,
    deploy_async_endpoint,
    unique,
    wait_for,
    wait_in_service,
)
from fixtures.shapes import problems

pytestmark = [pytest.mark.local_stack, pytest.mark.slow]


@pytest.fixture(scope="module")
def endpoint(local_stack, tiny_classifier):
    session = local_stack.session()
    sns, sqs = session.client("sns"), session.client("sqs")
    name = unique("fidelity")
    queue_url = sqs.create_queue(QueueName=f"{name}-notes")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    for suffix in ("success", "error"):  # deploy_async_endpoint's topic names
        topic = sns.create_topic(Name=f"{name}-{suffix}")["TopicArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    made = deploy_async_endpoint(session, name, model=tiny_classifier, timeout_s=240)
    made["queue_url"] = queue_url
    made["notes"] = []
    return made


def _notes(local_stack, endpoint, want, timeout_s: float = 30.0) -> list[dict]:
    """SageMaker messages off the queue (SNS envelopes opened) until `want(notes)` holds."""
    sqs = local_stack.client("sqs")

    def poll():
        for message in sqs.receive_message(QueueUrl=endpoint["queue_url"],
                                           MaxNumberOfMessages=10).get("Messages", []):
            endpoint["notes"].append(json.loads(json.loads(message["Body"])["Message"]))
            sqs.delete_message(QueueUrl=endpoint["queue_url"],
                               ReceiptHandle=message["ReceiptHandle"])
        return want(endpoint["notes"])

    wait_for(poll, timeout_s)
    return endpoint["notes"]


def _status(local_stack, name: str) -> dict:
    found = httpx.get(f"{local_stack.url}/_smconsole/status").json()["endpoints"]
    return next(e for e in found if e["name"] == name)


def test_describe_and_list_answers_fit_botocore_shapes(local_stack, endpoint) -> None:
    sm = local_stack.client("sagemaker")
    calls = {
        "DescribeModel": sm.describe_model(ModelName=endpoint["model"]),
        "DescribeEndpointConfig": sm.describe_endpoint_config(
            EndpointConfigName=endpoint["config"]),
        "DescribeEndpoint": sm.describe_endpoint(EndpointName=endpoint["endpoint"]),
        "ListEndpoints": sm.list_endpoints(NameContains=endpoint["endpoint"]),
        "ListEndpointConfigs": sm.list_endpoint_configs(NameContains=endpoint["config"]),
        "ListModels": sm.list_models(NameContains=endpoint["model"]),
    }
    for operation, answer in calls.items():
        assert problems(sm, operation, answer) == [], operation
    model, described = calls["DescribeModel"], calls["DescribeEndpoint"]
    assert "VpcConfig" not in model  # moto answered {} (SDK v3's pydantic refuses it)
    assert "DataCaptureConfig" not in described
    assert described["AsyncInferenceConfig"]["OutputConfig"]["S3OutputPath"] == \
        endpoint["output_path"]
    images = described["ProductionVariants"][0]["DeployedImages"]
    assert images[0]["SpecifiedImage"].endswith("smconsole:latest")
    assert "PendingDeploymentSummary" not in described


def test_test_notification_sent_at_create(local_stack, endpoint) -> None:
    notes = _notes(local_stack, endpoint, lambda n: any(
        x.get("eventName") == "TestNotification" for x in n))
    test = next(x for x in notes if x.get("eventName") == "TestNotification")
    assert test["requestParameters"]["endpointName"] == endpoint["endpoint"]
    assert test["eventSource"] == "aws:sagemaker"


def test_async_answers_notifications_and_data_log(local_stack, endpoint) -> None:
    session = local_stack.session()
    runtime, logs = session.client("sagemaker-runtime"), session.client("logs")
    s3 = session.client("s3")
    s3.put_object(Bucket=endpoint["bucket"], Key=f"{endpoint['endpoint']}/in.json",
                  Body=json.dumps({"inputs": "a fine day"}).encode())
    good = runtime.invoke_endpoint_async(
        EndpointName=endpoint["endpoint"], ContentType="application/json",
        Accept="application/json",
        InputLocation=f"s3://{endpoint['bucket']}/{endpoint['endpoint']}/in.json")
    assert problems(runtime, "InvokeEndpointAsync", good) == []
    bad = runtime.invoke_endpoint_async(
        EndpointName=endpoint["endpoint"], ContentType="application/json",
        InputLocation=f"s3://{endpoint['bucket']}/{endpoint['endpoint']}/missing.json")
    ids = {good["InferenceId"], bad["InferenceId"]}
    notes = _notes(local_stack, endpoint, lambda n: ids <= {x.get("inferenceId") for x in n})
    done = next(x for x in notes if x.get("inferenceId") == good["InferenceId"])
    assert done["requestParameters"]["accept"] == "application/json"
    assert done["responseBody"]["encoding"] == "BASE64"
    assert json.loads(base64.b64decode(done["responseBody"]["content"]))
    failed = next(x for x in notes if x.get("inferenceId") == bad["InferenceId"])
    assert failed["invocationStatus"] == "Failed"
    assert "accept" not in failed["requestParameters"]

    group = f"/aws/sagemaker/Endpoints/{endpoint['endpoint']}"

    def lines(inference_id: str, count: int) -> list[dict] | None:
        found = logs.filter_log_events(logGroupName=group,
                                       filterPattern=f'"inference_id={inference_id}"')["events"]
        return found if len(found) >= count else None

    good_lines = wait_for(lambda: lines(good["InferenceId"], 3), 20)
    assert {e["logStreamName"].split("/")[0] for e in good_lines} == {"AllTraffic"}
    assert all(e["logStreamName"].endswith("/data-log") for e in good_lines)
    words = [e["message"].split() for e in sorted(good_lines, key=lambda e: e["timestamp"])]
    assert [w[1] for w in words] == ["queued", "started", "finished"]
    assert words[2][-1] == f"output={good['OutputLocation']}"
    assert any(w.startswith("processing_ms=") for w in words[2])
    bad_lines = wait_for(lambda: lines(bad["InferenceId"], 3), 20)
    last = max(bad_lines, key=lambda e: e["timestamp"])["message"]
    assert last.split()[1] == "failed" and "reason=ClientError" in last


@pytest.mark.parametrize("attempt", [1, 2, 3])
def test_capacity_changes_read_updating_until_instances_serve(local_stack, endpoint,
                                                              attempt) -> None:
    session = local_stack.session()
    sm = session.client("sagemaker")
    name = endpoint["endpoint"]

    def counts() -> tuple[str, int, int]:
        found = sm.describe_endpoint(EndpointName=name)
        assert problems(sm, "DescribeEndpoint", found) == []
        variant = found["ProductionVariants"][0]
        return (found["EndpointStatus"], variant["CurrentInstanceCount"],
                variant["DesiredInstanceCount"])

    answer = sm.update_endpoint_weights_and_capacities(
        EndpointName=name, DesiredWeightsAndCapacities=[
            {"VariantName": "AllTraffic", "DesiredInstanceCount": 2}])
    assert problems(sm, "UpdateEndpointWeightsAndCapacities", answer) == []
    assert counts() == ("Updating", 1, 2)  # at once, from the call's own answer on
    wait_in_service(session, name, 180)
    assert counts() == ("InService", 2, 2)
    instances = _status(local_stack, name)["variants"][0]["instances"]
    assert [i["state"] for i in instances] == ["Healthy", "Healthy"]
    for instance in instances:  # the waiter returned only once both serve
        assert httpx.get(f"{instance['url']}/ping", timeout=5).status_code == 200

    sm.update_endpoint_weights_and_capacities(EndpointName=name, DesiredWeightsAndCapacities=[
        {"VariantName": "AllTraffic", "DesiredInstanceCount": 1}])
    assert counts() == ("Updating", 2, 1)  # the leaving instance still counts while it drains
    wait_in_service(session, name, 120)
    assert counts() == ("InService", 1, 1)
    assert [i["state"] for i in _status(local_stack, name)["variants"][0]["instances"]] == [
        "Healthy"]


def test_update_endpoint_shows_its_pending_deployment(local_stack, endpoint) -> None:
    session = local_stack.session()
    sm = session.client("sagemaker")
    described = sm.describe_endpoint_config(EndpointConfigName=endpoint["config"])
    config = unique("fidelity-next")
    sm.create_endpoint_config(
        EndpointConfigName=config, ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": endpoint["model"],
            "InstanceType": "ml.g5.xlarge", "InitialInstanceCount": 1}],
        AsyncInferenceConfig=described["AsyncInferenceConfig"])
    tests_before = sum(x.get("eventName") == "TestNotification" for x in endpoint["notes"])
    answer = sm.update_endpoint(EndpointName=endpoint["endpoint"], EndpointConfigName=config)
    assert problems(sm, "UpdateEndpoint", answer) == []
    updating = sm.describe_endpoint(EndpointName=endpoint["endpoint"])
    assert problems(sm, "DescribeEndpoint", updating) == []
    assert updating["EndpointStatus"] == "Updating"
    pending = updating["PendingDeploymentSummary"]
    assert pending["EndpointConfigName"] == config
    assert pending["ProductionVariants"][0]["DesiredInstanceCount"] == 1
    assert pending["ProductionVariants"][0]["VariantStatus"][0]["Status"] == "Creating"
    assert updating["EndpointConfigName"] == endpoint["config"]  # still the old one serving
    # AWS refuses a capacity change mid-update; moto took it and read InService at once, so
    # the waiter returned on the old config with the update still running.
    with pytest.raises(ClientError, match="ValidationException.*Cannot update in-progress"):
        sm.update_endpoint_weights_and_capacities(
            EndpointName=endpoint["endpoint"], DesiredWeightsAndCapacities=[
                {"VariantName": "AllTraffic", "DesiredInstanceCount": 2}])
    assert sm.describe_endpoint(EndpointName=endpoint["endpoint"])["EndpointStatus"] == \
        "Updating"
    done = wait_in_service(session, endpoint["endpoint"], 180)
    assert done["EndpointConfigName"] == config
    assert "PendingDeploymentSummary" not in done
    _notes(local_stack, endpoint, lambda n: sum(
        x.get("eventName") == "TestNotification" for x in n) > tests_before)


def test_delete_answers_fit_shapes(local_stack) -> None:
    sm = local_stack.client("sagemaker")
    name = unique("shape-model")
    created = sm.create_model(ModelName=name, ExecutionRoleArn=ROLE_ARN,
                              PrimaryContainer={"Image": "local"})
    assert problems(sm, "CreateModel", created) == []
    config = unique("shape-config")
    made = sm.create_endpoint_config(EndpointConfigName=config, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": name, "InstanceType": "ml.g5.xlarge",
        "InitialInstanceCount": 1}])
    assert problems(sm, "CreateEndpointConfig", made) == []
    described = sm.describe_endpoint_config(EndpointConfigName=config)
    assert problems(sm, "DescribeEndpointConfig", described) == []
    assert "DataCaptureConfig" not in described and "AsyncInferenceConfig" not in described
    assert problems(sm, "DeleteEndpointConfig",
                    sm.delete_endpoint_config(EndpointConfigName=config)) == []
    assert problems(sm, "DeleteModel", sm.delete_model(ModelName=name)) == []
