"""Shared helpers for the ops tests: a sagemaker endpoint on moto to scale or update."""

from __future__ import annotations

from pathlib import Path

import pytest
from smconsole.locations import configs_dir
from smconsole.session import AwsSession

ROLE = "arn:aws:iam::123456789012:role/test"


def make_endpoint(session: AwsSession, name: str = "ep", instance_type: str = "ml.g4dn.xlarge",
                  variant: str = "AllTraffic") -> str:
    sm = session.client("sagemaker")
    sm.create_model(ModelName=f"{name}-m", ExecutionRoleArn=ROLE,
                    PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/c:1"})
    sm.create_endpoint_config(EndpointConfigName=f"{name}-c", ProductionVariants=[{
        "VariantName": variant, "ModelName": f"{name}-m", "InstanceType": instance_type,
        "InitialInstanceCount": 1,
    }])
    sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-c")
    return name


@pytest.fixture
def endpoint(moto_session: AwsSession) -> str:
    return make_endpoint(moto_session)


@pytest.fixture
def demo_spec_path() -> Path:
    return configs_dir() / "deploy-demo.yaml"
