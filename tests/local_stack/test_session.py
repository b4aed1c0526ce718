from __future__ import annotations

import subprocess
import sys

import pytest
from smconsole import errors
from smconsole.session import AwsSession, is_mutating


@pytest.mark.parametrize(("op", "mutating"), [
    ("DescribeEndpoint", False), ("ListEndpoints", False), ("GetMetricData", False),
    ("FilterLogEvents", False), ("HeadObject", False), ("StartLiveTail", False),
    ("DeleteEndpoint", True), ("CreateEndpoint", True), ("InvokeEndpointAsync", True),
    ("PutScalingPolicy", True), ("RegisterScalableTarget", True), ("PutObject", True),
    ("UpdateEndpointWeightsAndCapacities", True), ("Subscribe", True),
])
def test_mutation_classification(op: str, mutating: bool) -> None:
    assert is_mutating(op) is mutating


def test_read_only_session_refuses_mutations_over_http(moto_url: str) -> None:
    writable = AwsSession.local(moto_url)
    writable.client("s3").create_bucket(Bucket="bucket-one")
    read_only = AwsSession.local(moto_url, read_only=True)
    s3 = read_only.client("s3")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["bucket-one"]
    with pytest.raises(errors.ReadOnlyRefused):
        s3.delete_bucket(Bucket="bucket-one")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["bucket-one"]


def test_clients_are_cached_and_configured(moto_url: str) -> None:
    session = AwsSession.local(moto_url)
    client = session.client("sagemaker")
    assert session.client("sagemaker") is client
    assert client.meta.config.retries["mode"] == "standard"
    assert client.meta.config.max_pool_connections >= 16
    assert client.meta.endpoint_url == moto_url


def test_service_specific_endpoint_env_is_honoured(moto_url: str, monkeypatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_url)
    session = AwsSession(region="us-east-1")
    assert session.client("s3").meta.endpoint_url == moto_url


def test_no_credentials_is_one_line_not_a_traceback(tmp_path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "AWS_REGION": "us-east-1",
           "AWS_CONFIG_FILE": str(tmp_path / "none"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
           "AWS_EC2_METADATA_DISABLED": "true", "SMCONSOLE_STATE_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "smconsole", "endpoints", "--json"],
                            capture_output=True, text=True, env=env, timeout=60, check=False)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--local" in lines[0]
