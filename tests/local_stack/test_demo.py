"""`smconsole --local`'s demo: MiniLM packed as in the seed, deployed from configs/."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fixtures.local_stack import start_stack, wait_for
from smconsole import locations
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


def test_cli_deploy_of_the_demo_spec_works_on_a_fresh_stack(tmp_path: Path) -> None:
    """`smconsole --local deploy configs/deploy-demo.yaml` before the console ever ran: the
    model archive and topics it names did not exist, and the endpoint ended Failed (404)."""
    stack = start_stack(tmp_path / "stack")
    try:
        env = {**os.environ, "SMCONSOLE_LOCAL_DIR": str(stack.state_dir)}
        out = subprocess.run(
            [sys.executable, "-m", "smconsole", "--local", "deploy",
             str(locations.configs_dir() / "deploy-demo.yaml"), "--json"],
            check=False, capture_output=True, text=True, timeout=300, env=env)
        assert "Traceback" not in out.stderr, out.stderr
        assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
        assert json.loads(out.stdout)["ok"] is True
        assert "uploading the demo model" in out.stderr
        described = stack.client("sagemaker").describe_endpoint(EndpointName="smconsole-demo")
        assert described["EndpointStatus"] == "InService"
    finally:
        stack.stop()
