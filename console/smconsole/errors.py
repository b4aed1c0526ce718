"""Named errors that cross the service boundary; botocore's ClientError never reaches the UI."""

from __future__ import annotations

from dataclasses import dataclass


class SmconsoleError(Exception):
    """Base of every error smconsole reports to a person rather than as a traceback."""


class NotConfigured(SmconsoleError):
    """No AWS credentials or region, and no --local."""


class NotFound(SmconsoleError):
    """The named resource does not exist (or no longer does)."""


class Throttled(SmconsoleError):
    """The service refused the call for rate; retry later."""


class CredentialsExpired(SmconsoleError):
    """The credentials in use expired or were revoked."""


class ReadOnlyRefused(SmconsoleError):
    """A mutating call was attempted while the console runs read-only."""


class Unreachable(SmconsoleError):
    """The endpoint URL could not be reached (network down, local stack stopped)."""


class AwsError(SmconsoleError):
    """Any other service error, with its code kept for display."""

    def __init__(self, code: str, message: str, operation: str = "") -> None:
        super().__init__(f"{operation + ': ' if operation else ''}{code}: {message}")
        self.code = code
        self.message = message
        self.operation = operation


@dataclass(frozen=True)
class SpecProblem:
    """One thing wrong with an operator's file: where and what."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class SpecError(SmconsoleError):
    """An operator's YAML file is invalid; carries every problem found, each located."""

    def __init__(self, problems: list[SpecProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
