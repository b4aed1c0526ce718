"""Issue 10, containment: nothing that comes in over the API writes outside the state folder,
and `local stop`/`reset` touch only their own daemon and folder (points 1-5)."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import botocore.config
import pytest
from fixtures.local_stack import ROLE_ARN, LocalStack, start_stack, unique, wait_for

pytestmark = pytest.mark.local_stack

PATTERN_WORDS = "failed to satisfy constraint: Member must satisfy regular expression pattern"
ACCESS_KEY = "AKIAH10CONTAINMENT00"
SECRET_KEY = "h10-secret-access-key-never-on-disk"
SESSION_TOKEN = "h10-session-token-never-on-disk-0123456789"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    """A daemon of this module's own: its whole state folder is inspected below."""
    state = Path(tempfile.mkdtemp(prefix="smconsole-contain-")) / "state"
    started = start_stack(state)
    try:
        yield started
    finally:
        started.stop()
        shutil.rmtree(state.parent, ignore_errors=True)


def _client(stack: LocalStack, service: str) -> object:
    """A client signing with the standard chain's kind of identity: key id and session token."""
    return boto3.Session(
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
        aws_session_token=SESSION_TOKEN, region_name="us-east-1",
    ).client(service, endpoint_url=stack.url,
             config=botocore.config.Config(retries={"max_attempts": 1}))


def _model(sm, name: str, container: dict) -> None:
    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE_ARN,
                    PrimaryContainer={"Image": "local", **container})


def _endpoint(sm, name: str) -> None:
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": name, "InstanceType": "ml.m5.large",
        "InitialInstanceCount": 1}])
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)


def test_s3_prefix_keys_never_leave_the_model_folder(stack: LocalStack, tmp_path: Path) -> None:
    """Point 1: `pfx/../../x` and `pfx//abs/x` keys fail the endpoint, write nothing outside."""
    session = stack.session()
    s3, sm = session.client("s3"), session.client("sagemaker")
    outside = tmp_path / "outside"
    outside.mkdir()
    climbing = "pfx/" + "../" * 30 + str(outside / "climbed").lstrip("/")
    absolute = "pfx//" + str(outside / "absolute").lstrip("/")
    s3.create_bucket(Bucket="prefix-attack")
    for key in ("pfx/config.json", climbing, absolute):
        s3.put_object(Bucket="prefix-attack", Key=key, Body=b"{}")
    stored = {o["Key"] for o in s3.list_objects_v2(Bucket="prefix-attack")["Contents"]}
    assert {climbing, absolute} <= stored, stored  # the keys reached S3 as written

    name = unique("prefix")
    _model(sm, name, {"ModelDataSource": {"S3DataSource": {
        "S3Uri": "s3://prefix-attack/pfx", "S3DataType": "S3Prefix",
        "CompressionType": "None"}}})
    _endpoint(sm, name)
    described = wait_for(lambda: (d := sm.describe_endpoint(EndpointName=name))[
        "EndpointStatus"] != "Creating" and d, 120)
    assert described["EndpointStatus"] == "Failed"
    assert "outside the model folder" in described["FailureReason"]
    # The source as a reader writes it, not a Python tuple ("(('s3://...', 'S3Prefix', ...))").
    assert " model data for variant " in described["FailureReason"]
    assert " from s3://prefix-attack/pfx (S3Prefix): " in described["FailureReason"]
    assert "../" in described["FailureReason"] or "//" in described["FailureReason"]
    assert list(outside.iterdir()) == []
    sm.delete_endpoint(EndpointName=name)


@pytest.mark.parametrize("bad", ["../../../../tmp/evil", "a" * 64, "-lead", "trail-", "a_b"])
def test_names_aws_refuses_are_refused(stack: LocalStack, bad: str) -> None:
    """Point 2: model, endpoint config and endpoint names follow AWS's pattern and length."""
    sm = stack.client("sagemaker")
    with pytest.raises(sm.exceptions.ClientError) as model:
        _model(sm, bad, {})
    assert model.value.response["Error"]["Code"] == "ValidationException"
    message = model.value.response["Error"]["Message"]
    assert message.startswith("1 validation error detected: Value ")
    assert "at 'modelName' failed to satisfy constraint" in message
    good = unique("named")
    _model(sm, good, {})
    for call, kwargs in (
        (sm.create_endpoint_config, {"EndpointConfigName": bad, "ProductionVariants": [{
            "VariantName": "AllTraffic", "ModelName": good, "InstanceType": "ml.m5.large",
            "InitialInstanceCount": 1}]}),
        (sm.create_endpoint_config, {"EndpointConfigName": good, "ProductionVariants": [{
            "VariantName": "AllTraffic", "ModelName": bad, "InstanceType": "ml.m5.large",
            "InitialInstanceCount": 1}]}),
        (sm.create_endpoint, {"EndpointName": bad, "EndpointConfigName": good}),
    ):
        with pytest.raises(sm.exceptions.ClientError) as refused:
            call(**kwargs)
        assert refused.value.response["Error"]["Code"] == "ValidationException"
        assert "failed to satisfy constraint" in refused.value.response["Error"]["Message"]
    names = [m["ModelName"] for m in sm.list_models(MaxResults=100)["Models"]]
    assert bad not in names and good in names


def test_names_aws_accepts_still_work(stack: LocalStack) -> None:
    sm = stack.client("sagemaker")
    name = "A1--b-" + "c" * 57  # 63 characters, hyphens inside
    _model(sm, name, {})
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
        "VariantName": "Variant-1", "ModelName": name, "InstanceType": "ml.m5.large",
        "InitialInstanceCount": 1}])
    assert sm.describe_endpoint_config(EndpointConfigName=name)["EndpointConfigName"] == name


@pytest.mark.parametrize(("field", "value", "words"), [
    ("InferenceId", "x" * 65, "Member must have length less than or equal to 64"),
    ("InferenceId", "caf\u00e9", f"at 'inferenceId' {PATTERN_WORDS}"),
    ("Filename", "../../../etc/x", f"at 'filename' {PATTERN_WORDS}"),
    ("Filename", "a.b.json", f"at 'filename' {PATTERN_WORDS}"),
    ("Filename", "f" * 33, "length less than or equal to 32"),
    ("S3OutputPathExtension", "s3://other/x", f"at 's3OutputPathExtension' {PATTERN_WORDS}"),
    ("S3OutputPathExtension", "a b", PATTERN_WORDS),
    ("CustomAttributes", "c" * 1025, ("at 'customAttributes' failed to satisfy constraint: "
                                      "Member must have length less than or equal to 1024")),
    ("ContentType", "t" * 1025, "at 'contentType' failed"),
    ("Accept", "a" * 1025, "at 'accept' failed"),
])
def test_async_headers_follow_aws_rules(stack: LocalStack, field: str, value: str,
                                        words: str) -> None:
    """Point 3: InferenceId, Filename, S3OutputPathExtension as botocore's model states them."""
    runtime = stack.client("sagemaker-runtime")
    with pytest.raises(runtime.exceptions.ValidationError) as refused:
        runtime.invoke_endpoint_async(EndpointName="no-such-endpoint",
                                      InputLocation="s3://b/in.json", **{field: value})
    assert words in refused.value.response["Error"]["Message"]


def test_async_headers_aws_accepts_pass_the_check(stack: LocalStack) -> None:
    runtime = stack.client("sagemaker-runtime")
    with pytest.raises(runtime.exceptions.ValidationError, match="not found"):
        runtime.invoke_endpoint_async(
            EndpointName="no-such-endpoint", InputLocation="s3://b/in.json",
            InferenceId="id with spaces & ~!" + "x" * 45, Filename="out-1_a.json",
            S3OutputPathExtension="batch/7/(a)*b!'c'", CustomAttributes="c" * 1024)


@pytest.mark.parametrize(("name", "words"), [
    ("bad_name", f"Value 'bad_name' at 'endpointName' {PATTERN_WORDS}"),
    ("e" * 64, "at 'endpointName' failed to satisfy constraint: Member must have length"),
])
def test_runtime_endpoint_names_follow_aws_rules(stack: LocalStack, name: str,
                                                 words: str) -> None:
    """A name AWS refuses was answered 'Endpoint ... not found' by both invoke calls."""
    runtime = stack.client("sagemaker-runtime")
    for call, kwargs in ((runtime.invoke_endpoint, {"Body": b"{}"}),
                         (runtime.invoke_endpoint_async, {"InputLocation": "s3://b/in.json"})):
        with pytest.raises(runtime.exceptions.ValidationError) as refused:
            call(EndpointName=name, **kwargs)
        assert words in refused.value.response["Error"]["Message"]


@pytest.mark.parametrize(("field", "value", "words"), [
    ("CustomAttributes", "c" * 1025, "at 'customAttributes'"),
    ("InferenceId", "x" * 65, "at 'inferenceId'"),
    ("Accept", "a" * 1025, "at 'accept'"),
])
def test_invoke_endpoint_headers_follow_aws_rules(stack: LocalStack, field: str, value: str,
                                                  words: str) -> None:
    """InvokeEndpoint took any length: botocore checks only the minimums, AWS the rest."""
    runtime = stack.client("sagemaker-runtime")
    with pytest.raises(runtime.exceptions.ValidationError) as refused:
        runtime.invoke_endpoint(EndpointName="no-such-endpoint", Body=b"{}", **{field: value})
    assert words in refused.value.response["Error"]["Message"]
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def _smconsole(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "smconsole", "local", *args],
                          capture_output=True, text=True, timeout=60, check=False)


def test_stop_and_reset_signal_only_this_folders_daemon(tmp_path: Path) -> None:
    """Point 4: a stale server.json naming an unrelated process: it survives stop and reset."""
    from smconsole.local.daemon import statedir

    bystander = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        state = tmp_path / "stale"
        statedir.claim(state)
        (state / "server.json").write_text(json.dumps(
            {"url": "http://127.0.0.1:9", "pid": bystander.pid}))
        stopped = _smconsole("stop", "--state-dir", str(state))
        assert stopped.returncode == 0, stopped.stderr
        assert json.loads(stopped.stdout) == {"stopped": False}
        time.sleep(0.3)
        assert bystander.poll() is None, "local stop signalled an unrelated process"
        (state / "server.json").write_text(json.dumps(
            {"url": "http://127.0.0.1:9", "pid": bystander.pid}))
        (state / "instances.pids").write_text(f"{bystander.pid}\n")
        wiped = _smconsole("reset", "--state-dir", str(state))
        assert wiped.returncode == 0, wiped.stderr
        time.sleep(0.3)
        assert bystander.poll() is None, "local reset signalled an unrelated process"
        assert not state.exists()
    finally:
        bystander.kill()
        bystander.wait()


def test_reset_refuses_a_folder_that_is_not_a_stacks(tmp_path: Path) -> None:
    """Point 4: `local reset --state-dir DIR` deletes only a folder marked as a stack's."""
    precious = tmp_path / "documents"
    precious.mkdir()
    (precious / "thesis.txt").write_text("years of work")
    refused = _smconsole("reset", "--state-dir", str(precious))
    assert refused.returncode != 0
    assert "not a local stack state folder" in refused.stderr
    assert "nothing was deleted" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert (precious / "thesis.txt").read_text() == "years of work"
    served = _smconsole("serve", "--port", "0", "--state-dir", str(precious))
    assert served.returncode != 0 and "not a local stack state folder" in served.stdout
    assert sorted(p.name for p in precious.iterdir()) == ["thesis.txt"]


def test_two_starts_at_once_both_claim_a_new_folder(tmp_path: Path) -> None:
    """Each start claims the folder and then writes server.log: the second must take the
    first's marker and log for its sibling's, not for a stranger's files (CI caught the
    window in 1 run of ~40: the marker was looked for before the listing)."""
    from smconsole.local.daemon import statedir

    refused = 0
    for attempt in range(1500):
        root = tmp_path / f"s{attempt}"

        def start(root: Path = root) -> None:
            nonlocal refused
            try:
                statedir.claim(root)
                (root / "server.log").touch()
            except ValueError:
                refused += 1

        threads = [threading.Thread(target=start) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert refused == 0


def test_no_credential_on_disk_and_state_is_private(stack: LocalStack) -> None:
    """Point 5: key id, secret and session token are nowhere in the folder; 0600 / 0700."""
    s3, sns, sm = (_client(stack, s) for s in ("s3", "sns", "sagemaker"))
    s3.create_bucket(Bucket="cred-check")
    s3.put_object(Bucket="cred-check", Key="k.json", Body=b"{}")
    sns.create_topic(Name="cred-check")
    name = unique("cred")
    _model(sm, name, {})
    leaks, loose = [], []
    for path in [stack.state_dir, *stack.state_dir.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if path.is_symlink():
            continue
        if path.is_dir() and mode != 0o700 or path.is_file() and mode & 0o077:
            loose.append(f"{path.relative_to(stack.state_dir)} {oct(mode)}")
        if path.is_file():
            data = path.read_bytes()
            for secret in (ACCESS_KEY, SECRET_KEY, SESSION_TOKEN):
                if secret.encode() in data:
                    leaks.append(f"{path.relative_to(stack.state_dir)}: {secret[:8]}...")
    assert not leaks, leaks
    assert not loose, loose
    # What was journaled still replays: the region and service survive in a dummy signature.
    journal = (stack.state_dir / "journal" / "journal.jsonl").read_text()
    assert "Credential=smconsole-local/" in journal and "/us-east-1/sagemaker/" in journal


@pytest.mark.parametrize("region", ["..", "xx-evil-1"])
def test_a_region_moto_does_not_know_is_refused(stack: LocalStack, region: str) -> None:
    """The signing region names folders too (models/<region>/, pending/<region>/)."""
    import httpx

    auth = (f"AWS4-HMAC-SHA256 Credential=AK/20261201/{region}/sagemaker/aws4_request, "
            "SignedHeaders=host, Signature=0")
    before = sorted(p.name for p in stack.state_dir.iterdir() if p.is_dir())
    for path, target in (("/endpoints/x/async-invocations", None),
                         ("/", "SageMaker.CreateModel")):
        headers = {"Authorization": auth, "Content-Type": "application/x-amz-json-1.1",
                   "X-Amzn-SageMaker-InputLocation": "s3://b/k"}
        if target:
            headers["X-Amz-Target"] = target
        answer = httpx.post(stack.url + path, headers=headers, timeout=10,
                            content=json.dumps({"ModelName": "m", "ExecutionRoleArn": ROLE_ARN}))
        assert answer.status_code == 403, answer.text
        assert "valid region" in answer.json()["message"]
    assert sorted(p.name for p in stack.state_dir.iterdir() if p.is_dir()) == before
    assert region == ".." or not (stack.state_dir / "models" / region).exists()
