"""Fixtures for tests/compat: Debian's AWS CLI v2 and a tiny model for the SDKs to deploy
(helpers in fixtures/compat.py)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path

import pytest
from fixtures.compat import AWS_CLI_V2, BUCKET, IMAGE, missing
from fixtures.local_stack import ROLE_ARN, LocalStack, upload_model
from smconsole import locations


@pytest.fixture(scope="session")
def aws_cli_v2() -> Path:
    if not AWS_CLI_V2.exists():
        missing(f"no AWS CLI v2 at {AWS_CLI_V2} (apt-get install awscli)")
    version = subprocess.run([str(AWS_CLI_V2), "--version"], capture_output=True, text=True,
                             timeout=60, check=False).stdout
    if not version.startswith("aws-cli/2."):
        missing(f"{AWS_CLI_V2} is {version.strip()!r}, not v2")
    return AWS_CLI_V2


@pytest.fixture(scope="session")
def compat_model(local_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A tiny text classifier's model.tar.gz in local S3, for the SDKs to deploy."""
    path = locations.container_dir() / "tools" / "tiny_models.py"
    spec = importlib.util.spec_from_file_location("tiny_models", path)
    assert spec is not None and spec.loader is not None
    tiny = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tiny)
    folder = Path(tiny.build_text_classifier(tmp_path_factory.mktemp("compat-classifier")))
    session = local_stack.session()
    uri = upload_model(session, BUCKET, folder)
    session.client("s3").put_object(Bucket=BUCKET, Key="inputs/fine.json",
                                    Body=json.dumps({"inputs": "a fine day"}).encode())
    return {"model_data": uri, "bucket": BUCKET, "role": ROLE_ARN, "image": IMAGE,
            "input": f"s3://{BUCKET}/inputs/fine.json"}
