"""Deploys as the console shows them: the plan (a diff), progress while waiting, and the outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from smconsole.models.scaling import ScalingPlan, ScalingResult

DeployAction = Literal["create", "update"]
ResourceKind = Literal["model", "endpoint-config", "endpoint", "autoscaling"]


@dataclass(frozen=True)
class FieldChange:
    """One field of the deployed endpoint: before (None: absent) and after (None: removed)."""

    path: str
    before: str | None
    after: str | None

    def line(self) -> str:
        if self.before is None:
            return f"+ {self.path}: {self.after}"
        if self.after is None:
            return f"- {self.path}: {self.before}"
        return f"~ {self.path}: {self.before} -> {self.after}"


@dataclass(frozen=True)
class Resource:
    kind: ResourceKind
    name: str

    def label(self) -> str:
        return f"{self.kind} {self.name}"


@dataclass(frozen=True)
class DeployPlan:
    """What a deploy will create or change, computed before any mutating call."""

    endpoint: str
    action: DeployAction
    model_name: str
    config_name: str
    variant: str
    changes: tuple[FieldChange, ...]
    creates: tuple[Resource, ...]
    current_config: str | None = None
    scaling: ScalingPlan | None = None
    warnings: tuple[str, ...] = ()
    spec: Any = field(default=None, repr=False, compare=False)

    def diff_lines(self) -> list[str]:
        head = [f"{self.action} endpoint {self.endpoint}"]
        head += [f"+ {r.label()}" for r in self.creates]
        if self.current_config:
            head.append(f"~ endpoint {self.endpoint}: config {self.current_config} -> "
                        f"{self.config_name}")
        body = [c.line() for c in self.changes] or ["  (no field changes)"]
        scaling = []
        if self.scaling is not None and not self.scaling.empty:
            scaling = ["autoscaling:"] + [f"  {line}" for line in self.scaling.diff_lines()]
        notes = [f"! {w}" for w in self.warnings]
        return head + body + scaling + notes


@dataclass(frozen=True)
class DeployProgress:
    """One tick while deploying: the stage, the endpoint's status, seconds since the start."""

    stage: str  # model | endpoint-config | endpoint | waiting | autoscaling | done | failed
    status: str
    elapsed: float
    message: str = ""

    def line(self) -> str:
        minutes, seconds = divmod(int(self.elapsed), 60)
        text = f"[{minutes:02d}:{seconds:02d}] {self.stage}: {self.status}"
        return f"{text} {self.message}".rstrip()


@dataclass(frozen=True)
class DeployResult:
    endpoint: str
    status: str
    elapsed: float
    created: tuple[Resource, ...]
    failure_reason: str | None = None
    log_lines: tuple[str, ...] = ()
    scaling: ScalingResult | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "InService" and self.error is None and self.failure_reason is None

    def summary(self) -> str:
        if self.ok:
            return f"{self.endpoint} is InService after {self.elapsed:.0f}s"
        why = self.failure_reason or self.error or self.status
        return f"{self.endpoint} failed after {self.elapsed:.0f}s: {why}"


@dataclass(frozen=True)
class CleanupResult:
    deleted: tuple[Resource, ...]
    failed: tuple[tuple[Resource, str], ...] = ()

    @property
    def ok(self) -> bool:
        return not self.failed
