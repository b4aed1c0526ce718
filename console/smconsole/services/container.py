"""The bundled container from the console: package, build, run, ping, invoke, push, check, stop.

Docker is driven through its CLI (the process is the boundary); without a Docker engine the
container runs as a plain process of container/run_server.py, started the way SageMaker starts
an image (`serve`, SAGEMAKER_BIND_TO_PORT, the model under an /opt/ml/model layout).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import asdict, replace
from pathlib import Path

import httpx

from smconsole import errors, locations
from smconsole.models.container import (
    CheckResult,
    CheckStep,
    DockerStatus,
    Invocation,
    Package,
    Ping,
    Pushed,
    RunMode,
    Running,
)
from smconsole.session import AwsSession
from smconsole.specs.common import split_s3_uri

PING_TIMEOUT_S = 2.0  # SageMaker's own /ping timeout
STARTUP_TIMEOUT_S = 480.0  # SageMaker's default: healthy within 8 minutes
SIGKILL_AFTER_S = 30.0  # SageMaker sends SIGKILL 30 s after SIGTERM
DEFAULT_SAMPLE = b'{"inputs": "smconsole preflight"}'
DEFAULT_TAG = "smconsole-container:latest"

Lines = Callable[[str], None]


class ContainerError(errors.SmconsoleError):
    """A container step failed; the message says which and why."""


class NoDockerEngine(ContainerError):
    """The docker CLI is missing or no engine answers it."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ContainerService:
    """Runs are recorded under `runs_dir`, so `ping`/`invoke`/`stop` work from a later command."""

    def __init__(
        self, session: AwsSession | None = None, *, docker: str = "docker",
        runs_dir: Path | None = None, gpu: bool | None = None, python: str = sys.executable,
        clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._session = session
        self._docker = docker
        self._runs_dir = runs_dir
        self._gpu = gpu
        self._python = python
        self._clock = clock
        self._sleep = sleep
        # Processes started here are reaped here; those from an earlier command are polled.
        self._procs: dict[int, subprocess.Popen[bytes]] = {}

    # ---- docker -------------------------------------------------------------------------

    def docker_status(self) -> DockerStatus:
        """Whether `docker` exists, whether its engine answers, and whether a GPU is present."""
        gpu = self.gpu_available()
        binary = shutil.which(self._docker)
        if binary is None:
            return DockerStatus(False, False, gpu,
                                "no docker CLI on PATH: run and check use process mode")
        try:
            answer = subprocess.run(
                [binary, "info", "--format", "{{.ServerVersion}}"], capture_output=True,
                text=True, timeout=10, check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return DockerStatus(True, False, gpu, f"docker info failed: {exc}")
        if answer.returncode != 0:
            why = (answer.stderr.strip().splitlines() or ["no answer"])[-1]
            return DockerStatus(True, False, gpu,
                                f"no Docker engine answers ({why}): build and push need one; "
                                "run and check use process mode (container/run_server.py)")
        return DockerStatus(True, True, gpu, f"Docker engine {answer.stdout.strip()}")

    def gpu_available(self) -> bool:
        if self._gpu is not None:
            return self._gpu
        smi = shutil.which("nvidia-smi")
        if smi is None:
            return False
        with suppress(OSError, subprocess.TimeoutExpired):
            return subprocess.run([smi, "-L"], capture_output=True, timeout=10,
                                  check=False).returncode == 0
        return False

    def _need_engine(self) -> str:
        status = self.docker_status()
        if not status.engine:
            raise NoDockerEngine(status.message)
        return shutil.which(self._docker) or self._docker

    def _stream(self, cmd: list[str], on_line: Lines | None, *, stdin: bytes | None = None,
                what: str = "") -> str:
        """Run `cmd`, handing each output line to `on_line`; ContainerError when it fails."""
        emit = on_line or (lambda _l: None)
        tail: list[str] = []
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE if stdin is not None else None,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        except OSError as exc:
            raise ContainerError(f"{what or cmd[0]}: {exc}") from None
        if stdin is not None:
            assert proc.stdin is not None
            proc.stdin.write(stdin)
            proc.stdin.close()
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            tail = (tail + [line])[-20:]
            emit(line)
        code = proc.wait()
        if code != 0:
            last = next((t for t in reversed(tail) if t.strip()), "no output")
            raise ContainerError(f"{what or ' '.join(cmd[:2])} failed (exit {code}): {last}")
        return "\n".join(tail)

    def build(self, context: Path | None = None, tag: str = DEFAULT_TAG,
              on_line: Lines | None = None, *, platform: str | None = "linux/amd64") -> str:
        """`docker build`, output streamed line by line; returns the tag."""
        docker = self._need_engine()
        context = context or locations.container_dir()
        if not (context / "Dockerfile").is_file():
            raise ContainerError(f"no Dockerfile in {context}")
        cmd = [docker, "build", "-t", tag]
        if platform:
            cmd += ["--platform", platform]
        self._stream([*cmd, str(context)], on_line, what="docker build")
        return tag

    def push(self, image: str = DEFAULT_TAG, repository: str | None = None,
             tag: str | None = None, on_line: Lines | None = None) -> Pushed:
        """Log in to ECR with a fresh token, tag the image for it, push; the repo is made if new."""
        if self._session is None:
            raise ContainerError("push needs AWS: no session")
        docker = self._need_engine()
        name, _, image_tag = image.rpartition(":") if ":" in image.split("/")[-1] else (
            image, "", "latest")
        repository = repository or name.split("/")[-1]
        tag = tag or image_tag or "latest"
        ecr = self._session.client("ecr")
        auth = ecr.get_authorization_token()["authorizationData"][0]
        user, _, password = base64.b64decode(auth["authorizationToken"]).decode().partition(":")
        registry = auth["proxyEndpoint"].removeprefix("https://").removeprefix("http://")
        try:
            ecr.describe_repositories(repositoryNames=[repository])
        except errors.NotFound:  # RepositoryNotFoundException
            emit = on_line or (lambda _l: None)
            emit(f"creating ECR repository {repository}")
            ecr.create_repository(repositoryName=repository)
        remote = f"{registry}/{repository}:{tag}"
        self._stream([docker, "login", "--username", user, "--password-stdin", registry],
                     on_line, stdin=password.encode(), what="docker login")
        self._stream([docker, "tag", image, remote], on_line, what="docker tag")
        self._stream([docker, "push", remote], on_line, what="docker push")
        return Pushed(image=image, remote=remote, registry=registry)

    # ---- package ------------------------------------------------------------------------

    def package(self, model_dir: Path, output: Path) -> Package:
        """model.tar.gz holding `model/...`, which SageMaker unpacks to /opt/ml/model/model."""
        model_dir = Path(model_dir)
        if not model_dir.is_dir():
            raise ContainerError(f"{model_dir} is not a folder")
        if not (model_dir / "config.json").is_file():
            raise ContainerError(f"{model_dir} has no config.json: not a transformers model folder")
        output = Path(output)
        output.parent.mkdir(parents=True, exist_ok=True)
        count = 0

        def clean(info: tarfile.TarInfo) -> tarfile.TarInfo:
            # Same bytes for the same folder: no owner names or times leak into the archive.
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 0
            return info

        partial = output.with_name(output.name + ".partial")
        with tarfile.open(partial, "w:gz", compresslevel=6) as tar:
            for path in sorted(model_dir.rglob("*")):
                rel = path.relative_to(model_dir)
                if any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
                    continue
                if path.is_file():
                    tar.add(path, arcname=f"model/{rel.as_posix()}", filter=clean)
                    count += 1
        partial.replace(output)
        return Package(path=str(output), size=output.stat().st_size, files=count)

    def upload(self, package: Package, s3_uri: str) -> Package:
        """Upload model.tar.gz; a URI ending in / gets `model.tar.gz` appended."""
        if self._session is None:
            raise ContainerError("upload needs AWS: no session")
        if s3_uri.endswith("/"):
            s3_uri += "model.tar.gz"
        try:
            bucket, key = split_s3_uri(s3_uri)
        except ValueError as exc:
            raise ContainerError(str(exc)) from None
        self._session.client("s3").upload_file(package.path, bucket, key)
        return replace(package, uploaded_to=s3_uri)

    # ---- run / ping / invoke / stop -----------------------------------------------------

    @property
    def runs_dir(self) -> Path:
        path = self._runs_dir or locations.state_dir() / "containers"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def run(
        self, model: Path, *, name: str = "default", mode: RunMode | None = None,
        image: str | None = None, port: int | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Running:
        """Start the container on `model` (a folder or model.tar.gz); returns at once."""
        existing = self._load(name)
        if existing is not None and self._alive(existing):
            raise ContainerError(f"{name} is already running at {existing.url}: stop it first")
        mode = self._pick_mode(mode, image)
        work = self.runs_dir / name
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        model_root = self._layout(Path(model), work / "opt" / "ml" / "model")
        if mode == "docker":
            running = self._run_docker(name, image or DEFAULT_TAG, model_root, port, env or {})
        else:
            running = self._run_process(name, model_root, work, port, env or {})
        self._save(running)
        return running

    def _pick_mode(self, mode: RunMode | None, image: str | None) -> RunMode:
        if mode == "process":
            return "process"
        status = self.docker_status()
        if mode == "docker" and not status.engine:
            raise NoDockerEngine(status.message)
        if mode is None and status.engine and image:
            return "docker"
        return "docker" if mode == "docker" else "process"

    def _layout(self, model: Path, root: Path) -> Path:
        """The /opt/ml/model SageMaker would see: the archive unpacked, or the folder as model/."""
        root.mkdir(parents=True, exist_ok=True)
        if model.is_file() and model.name.endswith((".tar.gz", ".tgz")):
            try:
                with tarfile.open(model, "r:gz") as tar:
                    tar.extractall(root, filter="data")
            except (tarfile.TarError, OSError) as exc:
                raise ContainerError(f"{model}: not a readable model.tar.gz: {exc}") from None
        elif model.is_dir():
            (root / "model").symlink_to(model.resolve(), target_is_directory=True)
        else:
            raise ContainerError(f"{model}: neither a model folder nor a model.tar.gz")
        return root

    def _run_process(self, name: str, model_root: Path, work: Path, port: int | None,
                     env: Mapping[str, str]) -> Running:
        server = locations.container_dir() / "run_server.py"
        if not server.is_file():
            raise ContainerError(f"{server} not found (set SMCONSOLE_CONTAINER_DIR)")
        port = port or free_port()
        model_dir = _map_model_dir(env.get("MODEL_DIR"), model_root)
        child_env = {
            **os.environ, **env,
            "SAGEMAKER_BIND_TO_PORT": str(port), "MODEL_DIR": str(model_dir),
            "SERVER_HOST": "127.0.0.1", "HF_HUB_OFFLINE": "1",
            "HF_HOME": str(work / "hf"), "PYTHONUNBUFFERED": "1",
        }
        log_path = work / "container.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [self._python, str(server), "serve"], cwd=server.parent, env=child_env,
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,  # outlives this command; stopped by `stop`
            )
        self._procs[proc.pid] = proc
        return Running(name=name, mode="process", url=f"http://127.0.0.1:{port}", port=port,
                       model_dir=str(model_dir), pid=proc.pid, log_path=str(log_path),
                       started=time.time())

    def _run_docker(self, name: str, image: str, model_root: Path, port: int | None,
                    env: Mapping[str, str]) -> Running:
        docker = shutil.which(self._docker) or self._docker
        port = port or free_port()
        cmd = [docker, "run", "-d", "--rm", "--name", f"smconsole-{name}",
               "-p", f"127.0.0.1:{port}:8080",
               "-v", f"{model_root.resolve()}:/opt/ml/model:ro"]
        if self.gpu_available():
            cmd += ["--gpus", "all"]
        for key, value in sorted({"MODEL_DIR": "/opt/ml/model/model", **env}.items()):
            cmd += ["-e", f"{key}={value}"]
        out = self._stream([*cmd, image, "serve"], None, what="docker run")
        container_id = (out.strip().splitlines() or [""])[-1]
        return Running(name=name, mode="docker", url=f"http://127.0.0.1:{port}", port=port,
                       model_dir=str(model_root), container_id=container_id, image=image,
                       started=time.time())

    def get(self, name: str = "default") -> Running:
        found = self._load(name)
        if found is None:
            raise errors.NotFound(f"no container named {name} was started (smconsole container run)")
        return found

    def list_running(self) -> list[Running]:
        found = [self._load(p.stem) for p in sorted(self.runs_dir.glob("*.json"))]
        return [r for r in found if r is not None]

    def ping(self, target: Running | str, timeout: float = PING_TIMEOUT_S) -> Ping:
        url = target.url if isinstance(target, Running) else target
        start = self._clock()
        try:
            answer = httpx.get(f"{url}/ping", timeout=timeout)
        except httpx.HTTPError as exc:
            return Ping(None, self._clock() - start, f"{type(exc).__name__}: {exc}")
        return Ping(answer.status_code, self._clock() - start, answer.text[:500])

    def wait_healthy(self, running: Running, timeout: float = STARTUP_TIMEOUT_S,
                     on_ping: Callable[[Ping], None] | None = None,
                     interval: float = 0.25) -> Ping:
        """Ping until 200; ContainerError (with the log tail) if it exits or times out."""
        deadline = self._clock() + timeout
        while True:
            answer = self.ping(running)
            if on_ping:
                on_ping(answer)
            if answer.healthy:
                return answer
            if not self._alive(running):
                tail = "\n  ".join(self.log_tail(running, 10))
                raise ContainerError(f"{running.name} exited before /ping answered 200:\n  {tail}")
            if self._clock() >= deadline:
                raise ContainerError(
                    f"/ping did not answer 200 within {timeout:.0f}s (last: {answer.status or 'no answer'})")
            self._sleep(interval)

    def invoke(self, target: Running | str, body: bytes,
               content_type: str = "application/json", timeout: float = 120.0,
               custom_attributes: str | None = None) -> Invocation:
        url = target.url if isinstance(target, Running) else target
        headers = {"Content-Type": content_type}
        if custom_attributes is not None:
            headers["X-Amzn-SageMaker-Custom-Attributes"] = custom_attributes
        start = self._clock()
        try:
            answer = httpx.post(f"{url}/invocations", content=body, headers=headers,
                                timeout=timeout)
        except httpx.HTTPError as exc:
            raise ContainerError(f"/invocations: {type(exc).__name__}: {exc}") from None
        return Invocation(answer.status_code, self._clock() - start, answer.content,
                          answer.headers.get("content-type", ""))

    def stop(self, target: Running | str = "default", timeout: float = SIGKILL_AFTER_S) -> int | None:
        """SIGTERM (docker stop), SIGKILL after `timeout`; returns the exit code when known."""
        running = target if isinstance(target, Running) else self.get(target)
        code: int | None = None
        if running.mode == "docker":
            docker = shutil.which(self._docker) or self._docker
            self._stream([docker, "stop", "-t", str(int(timeout)),
                          running.container_id or f"smconsole-{running.name}"],
                         None, what="docker stop")
        elif running.pid is not None:
            code = self._terminate(running.pid, timeout)
        (self.runs_dir / f"{running.name}.json").unlink(missing_ok=True)
        return code

    def _terminate(self, pid: int, timeout: float) -> int | None:
        proc = self._procs.pop(pid, None)
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return proc.poll() if proc else None
        if proc is not None:
            try:
                return proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                return proc.wait()
        deadline = self._clock() + timeout
        while _pid_alive(pid):
            if self._clock() >= deadline:
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                break
            self._sleep(0.1)
        return None

    def _alive(self, running: Running) -> bool:
        if running.mode == "docker":
            docker = shutil.which(self._docker)
            if docker is None:
                return False
            answer = subprocess.run(
                [docker, "inspect", "-f", "{{.State.Running}}",
                 running.container_id or f"smconsole-{running.name}"],
                capture_output=True, text=True, timeout=10, check=False)
            return answer.returncode == 0 and answer.stdout.strip() == "true"
        if running.pid is None:
            return False
        proc = self._procs.get(running.pid)
        if proc is not None:
            return proc.poll() is None
        return _pid_alive(running.pid)

    def log_tail(self, target: Running | str = "default", lines: int = 20) -> list[str]:
        running = target if isinstance(target, Running) else self.get(target)
        if running.mode == "docker":
            docker = shutil.which(self._docker) or self._docker
            answer = subprocess.run([docker, "logs", "--tail", str(lines),
                                     running.container_id or f"smconsole-{running.name}"],
                                    capture_output=True, text=True, timeout=10, check=False)
            return (answer.stdout + answer.stderr).splitlines()[-lines:]
        if not running.log_path or not Path(running.log_path).is_file():
            return []
        with open(running.log_path, "rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - 64 * 1024))
            text = log.read().decode("utf-8", "replace")
        return text.splitlines()[-lines:]

    def _save(self, running: Running) -> None:
        path = self.runs_dir / f"{running.name}.json"
        path.write_text(json.dumps(asdict(running)))

    def _load(self, name: str) -> Running | None:
        path = self.runs_dir / f"{name}.json"
        try:
            return Running(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    # ---- check --------------------------------------------------------------------------

    def check(
        self, model: Path, *, image: str | None = None, mode: RunMode | None = None,
        sample: bytes = DEFAULT_SAMPLE, content_type: str = "application/json",
        env: Mapping[str, str] | None = None, startup_timeout: float = STARTUP_TIMEOUT_S,
        on_step: Callable[[CheckStep], None] | None = None,
    ) -> CheckResult:
        """Start the container as SageMaker does and walk its health checks; stops it after."""
        steps: list[CheckStep] = []
        emit = on_step or (lambda _s: None)

        def step(name: str, ok: bool, detail: str, elapsed: float = 0.0) -> bool:
            steps.append(CheckStep(name, ok, detail, elapsed))
            emit(steps[-1])
            return ok

        picked = self._pick_mode(mode, image)
        name = f"check-{os.getpid()}"
        with self._scratch_runs():
            start = self._clock()
            try:
                running = self.run(model, name=name, mode=picked, image=image, env=env)
            except ContainerError as exc:
                step("start", False, str(exc))
                return CheckResult(picked, tuple(steps))
            tail: tuple[str, ...] = ()
            try:
                self._check_running(running, start, step, sample, content_type, startup_timeout)
            finally:
                if not all(s.ok for s in steps):
                    tail = tuple(self.log_tail(running, 20))
                t0 = self._clock()
                try:
                    code = self.stop(running)
                except ContainerError as exc:
                    step("stop", False, str(exc), self._clock() - t0)
                else:
                    took = self._clock() - t0
                    step("stop", took < SIGKILL_AFTER_S,
                         f"SIGTERM -> exited{'' if code is None else f' with {code}'} in "
                         f"{took:.1f}s (SageMaker kills after {SIGKILL_AFTER_S:.0f}s)", took)
        return CheckResult(picked, tuple(steps), tail)

    def _check_running(self, running: Running, start: float, step: Callable[..., bool],
                       sample: bytes, content_type: str, startup_timeout: float) -> None:
        # Accepting connections early keeps SageMaker from giving up before the model loads.
        deadline = start + 30.0
        while self._clock() < deadline:
            with suppress(OSError), socket.create_connection(("127.0.0.1", running.port), 0.25):
                break
            if not self._alive(running):
                break
            self._sleep(0.05)
        accepted = self._clock() - start
        is_open = self._port_open(running.port)
        detail = (f"accepts connections on {running.port} after {accepted:.2f}s" if is_open
                  else f"nothing listens on {running.port} after {accepted:.2f}s")
        if not step("port", is_open, detail, accepted):
            return
        slowest = 0.0

        def track(answer: Ping) -> None:
            nonlocal slowest
            slowest = max(slowest, answer.elapsed)

        t0 = self._clock()
        try:
            self.wait_healthy(running, startup_timeout, track)
        except ContainerError as exc:
            step("ping", False, str(exc).splitlines()[0], self._clock() - t0)
            return
        step("ping", slowest < PING_TIMEOUT_S,
             f"/ping 200 after {self._clock() - start:.1f}s; slowest answer {slowest * 1000:.0f} ms "
             f"(SageMaker times out at {PING_TIMEOUT_S:.0f}s)", self._clock() - t0)
        pings = [self.ping(running) for _ in range(5)]
        worst = max(p.elapsed for p in pings)
        step("ping once loaded", all(p.healthy for p in pings) and worst < PING_TIMEOUT_S,
             f"5 pings: {sorted({p.status for p in pings}, key=str)}; worst {worst * 1000:.0f} ms",
             worst)
        t0 = self._clock()
        try:
            answer = self.invoke(running, sample, content_type)
        except ContainerError as exc:
            step("invoke", False, str(exc), self._clock() - t0)
            return
        step("invoke", answer.ok, f"/invocations {answer.status}: {answer.text(160)}",
             answer.elapsed)

    def _port_open(self, port: int) -> bool:
        with suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.25):
            return True
        return False

    @contextmanager
    def _scratch_runs(self) -> Iterator[None]:
        """Checks keep their run folders apart from named runs, and remove them after."""
        saved = self._runs_dir
        scratch = Path(tempfile.mkdtemp(prefix="smconsole-check-"))
        self._runs_dir = scratch
        try:
            yield
        finally:
            self._runs_dir = saved
            shutil.rmtree(scratch, ignore_errors=True)


def _map_model_dir(wanted: str | None, root: Path) -> Path:
    """MODEL_DIR as the image would see it (/opt/ml/model/...), moved under our local root."""
    wanted = wanted or "/opt/ml/model/model"
    prefix = "/opt/ml/model"
    if wanted == prefix or wanted.startswith(prefix + "/"):
        return root / wanted[len(prefix):].lstrip("/")
    return Path(wanted)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_body(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ContainerError(f"{path}: {exc.strerror or exc}") from None


def guess_content_type(path: Path) -> str:
    suffix = Path(path).suffix.lower()
    return {".json": "application/json", ".txt": "text/plain", ".csv": "text/csv",
            ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}.get(
                suffix, "application/octet-stream")

