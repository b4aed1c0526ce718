"""`smconsole --local`'s demo: MiniLM packed as in the seed, deployed from configs/."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from fixtures.local_stack import start_stack, wait_for
from smconsole.local import control
from smconsole.services.doctor import DoctorService

pytestmark = [pytest.mark.local_stack, pytest.mark.slow]


def test_demo_endpoint_deploys_once_and_answers(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SMCONSOLE_LOCAL_DIR", str(tmp_path / "local"))
    stack = start_stack(tmp_path / "stack")
    try:
        session = stack.session()
        name = control.ensure_demo_endpoint(session)
        sm = session.client("sagemaker")
        described = sm.describe_endpoint(EndpointName=name)
        assert described["EndpointStatus"] == "InService"
        config = sm.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
        output = config["AsyncInferenceConfig"]["OutputConfig"]
        assert output["NotificationConfig"]["SuccessTopic"].endswith(":smconsole-demo-success")
        model = sm.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
        assert model["PrimaryContainer"]["Environment"]["MODEL_DIR"] == "/opt/ml/model/model"
        targets = session.client("application-autoscaling").describe_scalable_targets(
            ServiceNamespace="sagemaker")["ScalableTargets"]
        assert targets[0]["ResourceId"] == f"endpoint/{name}/variant/AllTraffic"

        answer = session.client("sagemaker-runtime").invoke_endpoint_async(
            EndpointName=name, ContentType="application/json",
            Body=json.dumps({"inputs": "hello from the demo"}).encode())
        s3 = session.client("s3")
        bucket, key = answer["OutputLocation"][5:].split("/", 1)

        def body():
            try:
                return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            except s3.exceptions.NoSuchKey:
                return None

        assert json.loads(wait_for(body, 120))["dimension"] == 384

        # The shipped demo is what a newcomer copies: the doctor has nothing to say of it,
        # once the container's batch size is in the logs for the concurrency check.
        doctor = DoctorService(session)

        def checked():
            health = doctor.check(name)
            return None if any("batch size" in why for why in health.skipped) else health

        health = wait_for(checked, 60)
        assert [f.code for f in health.findings] == [], health.findings

        started = time.monotonic()
        assert control.ensure_demo_endpoint(session) == name
        assert time.monotonic() - started < 5  # exists: nothing packed, nothing deployed
    finally:
        stack.stop()
