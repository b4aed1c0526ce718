"""A SageMaker async endpoint as moto records it (control plane only), for watcher tests."""

from __future__ import annotations

from typing import Any

from smconsole.session import AwsSession

ROLE = "arn:aws:iam::123456789012:role/smconsole-tests"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/smconsole:latest"


def make_endpoint(session: AwsSession, name: str, *, sns: bool, bucket: str = "out") -> dict[str, Any]:
    sm = session.client("sagemaker")
    s3 = session.client("s3")
    s3.create_bucket(Bucket=bucket)
    output: dict[str, Any] = {"S3OutputPath": f"s3://{bucket}/{name}/output",
                              "S3FailurePath": f"s3://{bucket}/{name}/failure"}
    topics: dict[str, str] = {}
    if sns:
        client = session.client("sns")
        topics = {kind: client.create_topic(Name=f"{name}-{kind}")["TopicArn"]
                  for kind in ("success", "error")}
        output["NotificationConfig"] = {"SuccessTopic": topics["success"],
                                        "ErrorTopic": topics["error"]}
    sm.create_model(ModelName=f"{name}-m", ExecutionRoleArn=ROLE,
                    PrimaryContainer={"Image": IMAGE})
    sm.create_endpoint_config(
        EndpointConfigName=f"{name}-c",
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": f"{name}-m",
                             "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}],
        AsyncInferenceConfig={"OutputConfig": output},
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-c")
    return {"bucket": bucket, "output": output["S3OutputPath"],
            "failure": output["S3FailurePath"], **topics}
