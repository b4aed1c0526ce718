"""Submitting request batches: inline bodies or S3 uploads, InvokeEndpointAsync, the ledger.

Each batch's outputs go under its own prefix (`S3OutputPathExtension` = the batch id) with a
short fixed `Filename`, so the watcher lists one prefix per batch and a resent request
overwrites its own output instead of adding a second one.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smconsole import errors
from smconsole.ledger import Ledger, Submission
from smconsole.models.requests import AsyncRequest, Batch, Status, SubmitProgress
from smconsole.session import AwsSession
from smconsole.specs.batch import INLINE_LIMIT, PlannedBatch, load_batch
from smconsole.specs.common import split_s3_uri

DEFAULT_CONCURRENCY = 16
MAX_SEND_ATTEMPTS = 6  # on top of botocore's own retries, for throttling that outlasts them

Progress = Callable[[SubmitProgress], None]


class DuplicateBatch(errors.SmconsoleError):
    """The same batch (same endpoint and payloads) was submitted before."""

    def __init__(self, planned: PlannedBatch, earlier: list[Batch]) -> None:
        self.earlier = earlier
        last = earlier[0]
        super().__init__(
            f"{planned.file}: the same batch was submitted before as {last.batch_id} "
            f"({last.finished}/{last.total} finished); pass --again to send it again, or "
            f"--resume to finish an interrupted one"
        )


class AlreadyResent(errors.SmconsoleError):
    """Every failed request of a batch was re-sent before: a second time must be asked for."""

    def __init__(self, batch_id: str, copies: dict[int, list[tuple[str, int]]]) -> None:
        self.copies = copies
        batches = sorted({b for found in copies.values() for b, _ in found})
        super().__init__(
            f"every failed request of {batch_id} was re-sent already (in {', '.join(batches)}); "
            "pass --again to send them once more"
        )


@dataclass(frozen=True)
class SubmitResult:
    batch: Batch
    sent: int
    rejected: int
    unsent: int


class RequestService:
    """Sends batches; every request recorded in the ledger before and after its invoke."""

    def __init__(
        self, session: AwsSession, ledger: Ledger, *, concurrency: int = DEFAULT_CONCURRENCY,
        sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.time,
    ) -> None:
        self.session = session
        self.ledger = ledger
        self.concurrency = max(1, concurrency)
        self._sleep = sleep
        self._clock = clock
        # A throttle seen by any sender holds back all of them until this time.
        self._hold_until = 0.0
        self._hold_lock = threading.Lock()

    # -- planning (no AWS) -----------------------------------------------------------------

    @staticmethod
    def plan(path: str | Path) -> PlannedBatch:
        """Load and validate a batch file; SpecError lists every problem."""
        return load_batch(path)

    def earlier(self, planned: PlannedBatch) -> list[Batch]:
        """Batches already submitted with the same content."""
        return self.ledger.batches(content_hash=planned.content_hash)

    def requests(self, *, batch_id: str | None = None, statuses: list[Status] | None = None,
                 limit: int | None = None) -> list[AsyncRequest]:
        """What the ledger holds (every process's submissions), oldest first."""
        return self.ledger.requests(batch_id=batch_id, statuses=statuses, limit=limit)

    def batches(self) -> list[Batch]:
        return self.ledger.batches()

    def check_endpoint(self, name: str) -> None:
        """Refuse before recording anything when the endpoint is missing or not asynchronous."""
        sagemaker = self.session.client("sagemaker")
        endpoint = sagemaker.describe_endpoint(EndpointName=name)
        status = endpoint.get("EndpointStatus")
        if status in ("Failed", "Deleting", "OutOfService"):
            raise errors.SmconsoleError(f"endpoint {name} is {status}: nothing was sent")
        config = sagemaker.describe_endpoint_config(
            EndpointConfigName=endpoint["EndpointConfigName"])
        if not config.get("AsyncInferenceConfig"):
            raise errors.SmconsoleError(
                f"endpoint {name} is a real-time endpoint (its config has no "
                "AsyncInferenceConfig): async requests cannot be sent to it"
            )

    # -- submitting ------------------------------------------------------------------------

    def submit(self, planned: PlannedBatch, *, again: bool = False,
               progress: Progress | None = None) -> SubmitResult:
        """Record the batch, then send it. Refuses a batch sent before unless `again`."""
        self._refuse_if_read_only("submit")
        earlier = self.earlier(planned)
        if earlier and not again:
            raise DuplicateBatch(planned, earlier)
        self.check_endpoint(planned.endpoint)
        batch = self.ledger.create_batch(planned)
        return self.send(batch.batch_id, progress=progress)

    def resubmit(self, batch_id: str, indexes: list[int],
                 progress: Progress | None = None, *,
                 endpoint: str | None = None) -> SubmitResult:
        """Send copies of some requests of a batch (e.g. its failures) as a new batch, linked
        to the original; `endpoint` sends them to another endpoint (checked first)."""
        self._refuse_if_read_only("re-send")
        if endpoint is not None:
            self.check_endpoint(endpoint)
        batch = self.ledger.copy_requests(batch_id, indexes, origin=f"resubmit of {batch_id}",
                                          endpoint=endpoint)
        return self.send(batch.batch_id, progress=progress)

    def resubmit_failed(self, batch_id: str,
                        progress: Progress | None = None, *, endpoint: str | None = None,
                        again: bool = False) -> SubmitResult | None:
        """Send every failed request of a batch again as a new batch (None: none failed).

        Asks the ledger, not a view: a batch larger than what a screen shows is covered whole.
        Requests already re-sent are left out unless `again` (AlreadyResent when that is all).
        """
        self.ledger.batch(batch_id)  # NotFound names the batch
        failed = [r.index for r in self.ledger.requests(batch_id=batch_id,
                                                        statuses=[Status.FAILED])]
        if failed and not again:
            copies = self.ledger.copies_of(batch_id)
            fresh = [i for i in failed if i not in copies]
            if not fresh:
                raise AlreadyResent(batch_id, {i: copies[i] for i in failed})
            failed = fresh
        if not failed:
            return None
        return self.resubmit(batch_id, failed, progress=progress, endpoint=endpoint)

    def resume(self, batch_id: str | None = None,
               progress: Progress | None = None) -> list[SubmitResult]:
        """Send what a stopped submitter left queued or half-sent (one batch, or all)."""
        self._refuse_if_read_only("resume")
        ids = [batch_id] if batch_id else [b.batch_id for b in self.ledger.unfinished_batches()]
        return [self.send(i, progress=progress) for i in ids]

    def send(self, batch_id: str, *, progress: Progress | None = None) -> SubmitResult:
        """Send every unsent request of a recorded batch with bounded concurrency."""
        todo = self.ledger.unsent(batch_id)
        batch = self.ledger.batch(batch_id)
        already = batch.total - len(todo)
        sent = rejected = 0
        if progress:
            progress(SubmitProgress(batch_id, already, batch.total))
        with ThreadPoolExecutor(max_workers=self.concurrency,
                                thread_name_prefix="smconsole-submit") as pool:
            futures = [pool.submit(self._send_one, item) for item in todo]
            try:
                for done, future in enumerate(as_completed(futures), start=already + 1):
                    outcome = future.result()
                    sent += outcome == "sent"
                    rejected += outcome == "rejected"
                    if progress:
                        progress(SubmitProgress(batch_id, done, batch.total))
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
        final = self.ledger.batch(batch_id)
        return SubmitResult(final, sent, rejected, final.unsent)

    def _refuse_if_read_only(self, action: str) -> None:
        # Before the ledger is touched: every invoke would be refused, and a batch of failed
        # requests left behind would make the real submit later look like a duplicate.
        if self.session.read_only:
            raise errors.ReadOnlyRefused(f"read-only: {action} refused; nothing was recorded or sent")

    def _send_one(self, item: Submission) -> str:
        attempt = 0
        while True:
            self._wait_for_hold()
            try:
                input_location = self._input_location(item)
                self.ledger.mark_submitting(item.batch_id, item.index,
                                            input_location=input_location)
                response = self._invoke(item, input_location)
            except errors.Throttled as exc:
                attempt += 1
                if attempt >= MAX_SEND_ATTEMPTS:
                    self.ledger.mark_unsent(item.batch_id, item.index, str(exc))
                    return "unsent"
                self._hold(min(30.0, 0.5 * 2 ** attempt) * (0.5 + random.random()))
                continue
            except (errors.Unreachable, errors.CredentialsExpired, errors.NotConfigured) as exc:
                # Not this request's fault: keep it for --resume.
                self.ledger.mark_unsent(item.batch_id, item.index, str(exc))
                return "unsent"
            except errors.SmconsoleError as exc:
                self.ledger.mark_rejected(item.batch_id, item.index, str(exc))
                return "rejected"
            self.ledger.mark_pending(
                item.batch_id, item.index,
                output_location=response.get("OutputLocation"),
                failure_location=response.get("FailureLocation"),
                submitted_at=self._clock(),
            )
            return "sent"

    def _hold(self, seconds: float) -> None:
        with self._hold_lock:
            self._hold_until = max(self._hold_until, self._clock() + seconds)

    def _wait_for_hold(self) -> None:
        while True:
            with self._hold_lock:
                remaining = self._hold_until - self._clock()
            if remaining <= 0:
                return
            self._sleep(remaining)

    def _input_location(self, item: Submission) -> str | None:
        """Where the payload is in S3 (uploading it if it is too big to send inline)."""
        if item.source == "s3":
            return item.source_ref
        if item.input_location:
            return item.input_location  # uploaded by an earlier, interrupted attempt
        if (item.size or 0) <= INLINE_LIMIT:
            return None
        if not item.input_prefix:
            raise errors.SmconsoleError(f"request {item.index}: no input_prefix to upload to")
        bucket, prefix = split_s3_uri(item.input_prefix)
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        suffix = Path(item.source_ref).suffix if item.source == "file" and item.source_ref else ""
        key = f"{prefix}{item.batch_id}/{item.index:06d}{suffix or '.in'}"
        s3 = self.session.client("s3")
        if item.source == "file":
            try:
                handle = open(item.source_ref or "", "rb")  # noqa: SIM115 - closed below
            except OSError as exc:
                raise errors.SmconsoleError(
                    f"cannot read {item.source_ref}: {exc.strerror}") from None
            with handle:
                s3.put_object(Bucket=bucket, Key=key, Body=handle,
                              ContentType=item.content_type)
        else:
            s3.put_object(Bucket=bucket, Key=key, Body=item.body or b"",
                          ContentType=item.content_type)
        return f"s3://{bucket}/{key}"

    def _invoke(self, item: Submission, input_location: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {
            "EndpointName": item.endpoint,
            "ContentType": item.content_type,
            "InferenceId": item.inference_id,
            "S3OutputPathExtension": item.batch_id,
            "Filename": item.filename,
        }
        if input_location:
            params["InputLocation"] = input_location
        else:
            params["Body"] = self._payload(item)
        optional = {
            "Accept": item.accept, "CustomAttributes": item.custom_attributes,
            "InvocationTimeoutSeconds": item.invocation_timeout,
            "RequestTTLSeconds": item.request_ttl,
        }
        params.update({k: v for k, v in optional.items() if v is not None})
        runtime = self.session.client("sagemaker-runtime")
        return runtime.invoke_endpoint_async(**params)

    @staticmethod
    def _payload(item: Submission) -> bytes:
        if item.source == "inline":
            return item.body or b""
        try:
            data = Path(item.source_ref or "").read_bytes()
        except OSError as exc:
            raise errors.SmconsoleError(f"cannot read {item.source_ref}: {exc.strerror}") from None
        return data
