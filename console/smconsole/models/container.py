"""The bundled container as the console drives it: packages, running instances, checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

RunMode = Literal["docker", "process"]


@dataclass(frozen=True)
class DockerStatus:
    """Whether the docker client exists and an engine answers; `message` says what to do."""

    client: bool
    engine: bool
    gpu: bool
    message: str


@dataclass(frozen=True)
class Package:
    path: str
    size: int
    files: int
    uploaded_to: str | None = None


@dataclass(frozen=True)
class Running:
    """A container started by `run`; recorded on disk so a later command can ping or stop it."""

    name: str
    mode: RunMode
    url: str
    port: int
    model_dir: str
    pid: int | None = None
    container_id: str | None = None
    image: str | None = None
    log_path: str | None = None
    started: float = 0.0


@dataclass(frozen=True)
class Ping:
    status: int | None  # None: no answer
    elapsed: float
    body: str = ""

    @property
    def healthy(self) -> bool:
        return self.status == 200


@dataclass(frozen=True)
class Invocation:
    status: int
    elapsed: float
    body: bytes
    content_type: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def text(self, limit: int = 2000) -> str:
        body = self.body.decode("utf-8", "replace")
        return body if len(body) <= limit else body[:limit] + f"... ({len(self.body)} bytes)"


@dataclass(frozen=True)
class CheckStep:
    name: str
    ok: bool
    detail: str
    elapsed: float = 0.0

    def line(self) -> str:
        mark = "ok  " if self.ok else "FAIL"
        return f"[{mark}] {self.name}: {self.detail} ({self.elapsed:.2f}s)"


@dataclass(frozen=True)
class CheckResult:
    """The preflight: each step SageMaker takes, in order, and whether the container passed."""

    mode: RunMode
    steps: tuple[CheckStep, ...]
    log_tail: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(s.ok for s in self.steps)


@dataclass(frozen=True)
class Pushed:
    image: str
    remote: str
    registry: str
