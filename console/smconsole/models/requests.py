"""Async requests and batches as the ledger records them; what the requests screen shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Status(StrEnum):
    """Where a request stands. queued → submitting → pending → succeeded | failed."""

    QUEUED = "queued"  # recorded, not yet sent
    SUBMITTING = "submitting"  # invoke in flight (or the submitter died during it)
    PENDING = "pending"  # accepted by SageMaker; waiting for its output or failure object
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in (Status.SUCCEEDED, Status.FAILED)


UNSENT = (Status.QUEUED, Status.SUBMITTING)


@dataclass(frozen=True)
class AsyncRequest:
    """One request of a batch, as the ledger has it."""

    batch_id: str
    index: int
    inference_id: str
    endpoint: str
    status: Status
    source: str  # inline | file | s3
    source_ref: str | None  # the file path or S3 URI the payload came from
    size: int | None
    content_type: str
    input_location: str | None  # s3:// URI when the payload went through S3
    output_location: str | None
    failure_location: str | None
    queued_at: float
    submitted_at: float | None
    finished_at: float | None  # when the output/failure object was written, if known
    detected_at: float | None  # when smconsole noticed it
    error: str | None = None

    @property
    def key(self) -> str:
        return f"{self.batch_id}/{self.index}"

    @property
    def latency(self) -> float | None:
        """Seconds from submission to the output's creation."""
        if self.submitted_at is None or self.finished_at is None:
            return None
        return max(0.0, self.finished_at - self.submitted_at)

    def age(self, now: float) -> float:
        return max(0.0, now - (self.submitted_at or self.queued_at))


@dataclass(frozen=True)
class Batch:
    """A submitted batch and how far its requests have got."""

    batch_id: str
    file: str
    endpoint: str
    content_hash: str
    created_at: float
    total: int
    counts: dict[str, int] = field(default_factory=dict)

    def count(self, status: Status) -> int:
        return self.counts.get(status.value, 0)

    @property
    def unsent(self) -> int:
        return self.count(Status.QUEUED) + self.count(Status.SUBMITTING)

    @property
    def finished(self) -> int:
        return self.count(Status.SUCCEEDED) + self.count(Status.FAILED)

    @property
    def done(self) -> bool:
        return self.finished == self.total


@dataclass(frozen=True)
class SubmitProgress:
    """One step of a submission, reported to the progress bar."""

    batch_id: str
    done: int
    total: int
    request: AsyncRequest | None = None


@dataclass(frozen=True)
class Outcome:
    """A request the watcher saw finish."""

    batch_id: str
    index: int
    inference_id: str
    status: Status
    location: str | None
    finished_at: float | None
    detected_at: float
    error: str | None = None


@dataclass(frozen=True)
class OutputBody:
    """An output or failure object, fetched only when someone opens it."""

    location: str
    content_type: str | None
    data: bytes
    truncated: bool = False
    size: int | None = None  # the whole object's, from the reply (a ranged read included)
    last_modified: float | None = None
