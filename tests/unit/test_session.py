"""The session without a server: which operations mutate, and no credentials as one line."""

from __future__ import annotations

import subprocess
import sys

import pytest
from smconsole.session import is_mutating


@pytest.mark.parametrize(("op", "mutating"), [
    ("DescribeEndpoint", False), ("ListEndpoints", False), ("GetMetricData", False),
    ("FilterLogEvents", False), ("HeadObject", False), ("StartLiveTail", False),
    ("DeleteEndpoint", True), ("CreateEndpoint", True), ("InvokeEndpointAsync", True),
    ("PutScalingPolicy", True), ("RegisterScalableTarget", True), ("PutObject", True),
    ("UpdateEndpointWeightsAndCapacities", True), ("Subscribe", True),
])
def test_mutation_classification(op: str, mutating: bool) -> None:
    assert is_mutating(op) is mutating


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
