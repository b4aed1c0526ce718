"""Docker and ECR paths with the docker CLI faked at the process boundary; ECR on moto."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from smconsole.cli import main
from smconsole.services.container import ContainerService, NoDockerEngine
from smconsole.session import AwsSession

FAKES = Path(__file__).resolve().parents[1] / "fixtures" / "bin"


@pytest.fixture
def docker_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The fake docker first on PATH, an engine answering; its calls land in the returned file."""
    log = tmp_path / "docker-calls.jsonl"
    monkeypatch.setenv("PATH", f"{FAKES}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_DOCKER_LOG", str(log))
    monkeypatch.setenv("FAKE_DOCKER_ENGINE", "1")
    monkeypatch.setenv("SMCONSOLE_STATE_DIR", str(tmp_path / "state"))
    yield log


def calls(log: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def argvs(log: Path, command: str) -> list[list[str]]:
    return [c["argv"] for c in calls(log) if c["argv"][0] == command]  # type: ignore[index]


def model_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    return folder


def test_no_engine_is_a_clear_message(docker_log: Path, monkeypatch: pytest.MonkeyPatch,
                                      tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FAKE_DOCKER_ENGINE", "0")
    status = ContainerService().docker_status()
    assert status.client and not status.engine
    assert "Is the docker daemon running?" in status.message and "process mode" in status.message
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM scratch\n")
    assert main(["container", "build", "--context", str(context)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("smconsole: no Docker engine answers") and err.count("\n") == 1
    assert argvs(docker_log, "build") == []
    with pytest.raises(NoDockerEngine):
        ContainerService().run(model_folder(tmp_path), mode="docker", image="x:1")


def test_build_streams_output(docker_log: Path, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM scratch\n")
    assert main(["container", "build", "--context", str(context), "--tag", "mine:1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "#1 [internal] load build definition from Dockerfile"
    assert out[-1] == "built mine:1"
    assert argvs(docker_log, "build") == [
        ["build", "-t", "mine:1", "--platform", "linux/amd64", str(context)]]


def test_push_logs_in_with_the_ecr_token_then_tags_and_pushes(
        docker_log: Path, moto_session: AwsSession) -> None:
    lines: list[str] = []
    pushed = ContainerService(moto_session).push("smconsole-container:latest", on_line=lines.append)
    token = moto_session.client("ecr").get_authorization_token()["authorizationData"][0]
    user, _, password = base64.b64decode(token["authorizationToken"]).decode().partition(":")
    registry = token["proxyEndpoint"].removeprefix("https://")
    assert pushed.remote == f"{registry}/smconsole-container:latest"

    login = [c for c in calls(docker_log) if c["argv"][0] == "login"]
    assert login == [{"argv": ["login", "--username", user, "--password-stdin", registry],
                      "stdin": password}]
    assert argvs(docker_log, "tag") == [["tag", "smconsole-container:latest", pushed.remote]]
    assert argvs(docker_log, "push") == [["push", pushed.remote]]
    order = [c["argv"][0] for c in calls(docker_log) if c["argv"][0] != "info"]
    assert order == ["login", "tag", "push"]
    assert any("digest: sha256:" in line for line in lines)
    repos = moto_session.client("ecr").describe_repositories()["repositories"]
    assert [r["repositoryName"] for r in repos] == ["smconsole-container"]


def test_push_failure_names_the_step(docker_log: Path, moto_session: AwsSession,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_DOCKER_PUSH_FAILS", "1")
    from smconsole.services.container import ContainerError

    with pytest.raises(ContainerError, match=r"docker push failed \(exit 1\): denied"):
        ContainerService(moto_session).push("app:2", repository="team/app")


@pytest.mark.parametrize("gpu", [True, False])
def test_run_in_docker_as_sagemaker_does(docker_log: Path, tmp_path: Path, gpu: bool) -> None:
    service = ContainerService(gpu=gpu)
    running = service.run(model_folder(tmp_path), mode="docker", image="mine:1",
                          env={"HF_TASK": "feature-extraction"}, port=18080)
    run = argvs(docker_log, "run")[0]
    assert run[-2:] == ["mine:1", "serve"]
    assert ("--gpus" in run) is gpu
    assert run[run.index("-p") + 1] == "127.0.0.1:18080:8080"
    mount = run[run.index("-v") + 1]
    assert mount.endswith(":/opt/ml/model:ro")
    layout = Path(mount.split(":")[0])
    assert (layout / "model" / "config.json").is_file()  # the seed's model/ layout
    assert "MODEL_DIR=/opt/ml/model/model" in run and "HF_TASK=feature-extraction" in run
    assert running.container_id == "f" * 64

    assert service.get("default").container_id == running.container_id  # recorded for later
    service.stop("default")
    assert argvs(docker_log, "stop") == [["stop", "-t", "30", "f" * 64]]
    with pytest.raises(Exception, match="no container named default"):
        service.get("default")
