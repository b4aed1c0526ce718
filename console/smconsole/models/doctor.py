"""What the endpoint doctor finds: findings with a severity, a one-line why and a fix."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]
FixKind = Literal["scaling", "deploy", "manual"]

SEVERITY_RANK: dict[str, int] = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Fix:
    """How to put a finding right: the console applies scaling/deploy fixes; manual ones are
    the exact command or spec change to make."""

    kind: FixKind
    summary: str
    steps: tuple[str, ...] = ()  # commands / spec lines, for manual fixes (and shown for all)

    @property
    def applicable(self) -> bool:
        return self.kind != "manual"


@dataclass(frozen=True)
class Finding:
    endpoint: str
    code: str  # stable id: no-scalable-target, min-zero-never-wakes, ...
    severity: Severity
    title: str
    why: str  # one line
    fix: Fix
    variant: str | None = None
    facts: tuple[tuple[str, str], ...] = ()  # what was measured, for --json and the view


@dataclass(frozen=True)
class EndpointHealth:
    """One endpoint's findings, and the checks that could not run (with why)."""

    endpoint: str
    status: str
    findings: tuple[Finding, ...] = ()
    skipped: tuple[str, ...] = ()
    checked_at: float = 0.0
    error: str | None = None  # the endpoint could not be examined at all

    @property
    def worst(self) -> Severity | None:
        if not self.findings:
            return None
        return min(self.findings, key=lambda f: SEVERITY_RANK[f.severity]).severity

    @property
    def mark(self) -> str:
        """One character for the endpoints list: ✖ error, ! warning, · info only, ✓ clean."""
        if self.error:
            return "?"
        return {"error": "✖", "warning": "!", "info": "·", None: "✓"}[self.worst]

    def finding(self, code: str) -> Finding | None:
        return next((f for f in self.findings if f.code == code), None)


@dataclass(frozen=True)
class FixPlan:
    """A fix planned as a diff; `detail` holds the scaling or deploy plan (service-private)."""

    finding: Finding
    diff: tuple[str, ...]
    warnings: tuple[str, ...] = ()
    detail: Any = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class FixResult:
    finding: Finding
    applied: bool
    message: str
    rolled_back: bool = False
