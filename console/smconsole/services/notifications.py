"""SageMaker's SNS notifications, read through one SQS queue smconsole owns.

The queue is created on demand with the policy SNS needs and subscribed to the endpoints'
topics with raw delivery; messages are read by long polling and deleted in batches of ten.
Its record (URL, ARN, subscriptions) lives in the ledger, so every watcher of one ledger
shares it and a restarted one reuses it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from smconsole import errors
from smconsole.ledger import Ledger
from smconsole.models.requests import Status
from smconsole.services.bodies import error_summary
from smconsole.session import AwsSession

_QUEUE_KEY = "watch.queue"  # the ledger's meta key for the queue's record


class CallCounter(Protocol):
    def add(self, operation: str, n: int = 1) -> None: ...


@dataclass(frozen=True)
class Notification:
    """What one InferenceResult message says about a request."""

    inference_id: str
    status: Status
    location: str | None
    finished_at: float | None
    error: str | None


@dataclass
class QueueRecord:
    """smconsole's queue: where it is and which topics feed it (topic ARN -> subscription)."""

    url: str
    arn: str
    subscriptions: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"url": self.url, "arn": self.arn,
                           "subscriptions": self.subscriptions})

    @classmethod
    def from_json(cls, text: str) -> QueueRecord:
        data = json.loads(text)
        return cls(str(data["url"]), str(data["arn"]), dict(data.get("subscriptions") or {}))


class NotificationInbox:
    """The queue: made and subscribed when needed, read, emptied, and removed."""

    def __init__(self, session: AwsSession, ledger: Ledger, queue_name: str,
                 stats: CallCounter, *, clock: Callable[[], float] = time.time) -> None:
        self.session = session
        self.ledger = ledger
        self.queue_name = queue_name
        self.stats = stats
        self._clock = clock
        self._queue: QueueRecord | None = None
        self._deletes: list[str] = []  # receipt handles not yet deleted
        self._deletes_since = 0.0

    @property
    def active(self) -> bool:
        """Whether this inbox has (or has loaded) a queue."""
        return self._queue is not None

    def stored(self) -> QueueRecord | None:
        """The queue the ledger names, if one was made."""
        text = self.ledger.get_meta(_QUEUE_KEY)
        return QueueRecord.from_json(text) if text else None

    def ensure(self, topics: Iterable[str]) -> QueueRecord:
        """The queue, created and subscribed to `topics` if it is not already."""
        wanted = set(topics)
        if self._queue is None:
            self._queue = self.stored()
        queue = self._queue
        if queue is not None and wanted <= set(queue.subscriptions):
            return queue
        sqs = self.session.client("sqs")
        sns = self.session.client("sns")
        if queue is None:
            self.stats.add("CreateQueue")
            url = sqs.create_queue(QueueName=self.queue_name, Attributes={
                "MessageRetentionPeriod": "1209600", "VisibilityTimeout": "120",
            })["QueueUrl"]
            self.stats.add("GetQueueAttributes")
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
                "Attributes"]["QueueArn"]
            queue = QueueRecord(url, arn)
        all_topics = sorted(wanted | set(queue.subscriptions))
        policy = {
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "smconsole-sns",
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue.arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": all_topics}},
            }],
        }
        self.stats.add("SetQueueAttributes")
        sqs.set_queue_attributes(QueueUrl=queue.url,
                                 Attributes={"Policy": json.dumps(policy)})
        for topic in sorted(wanted - set(queue.subscriptions)):
            self.stats.add("Subscribe")
            sub = sns.subscribe(
                TopicArn=topic, Protocol="sqs", Endpoint=queue.arn,
                Attributes={"RawMessageDelivery": "true"}, ReturnSubscriptionArn=True,
            )
            queue.subscriptions[topic] = sub["SubscriptionArn"]
        self._queue = queue
        self.ledger.set_meta(_QUEUE_KEY, queue.to_json())
        return queue

    def receive(self, topics: set[str], wait: int) -> list[str] | None:
        """Up to ten message bodies (their deletes are queued); None when the queue was
        deleted behind our back (forgotten: the next `ensure` makes it again)."""
        queue = self.ensure(topics)
        sqs = self.session.client("sqs")
        self.stats.add("ReceiveMessage")
        try:
            reply = sqs.receive_message(
                QueueUrl=queue.url, MaxNumberOfMessages=10, WaitTimeSeconds=wait,
                VisibilityTimeout=120,
            )
        except errors.NotFound:  # NonExistentQueue too (session.translate)
            self.forget()
            return None
        messages = reply.get("Messages", [])
        self._deletes.extend(m["ReceiptHandle"] for m in messages)
        return [m.get("Body", "") for m in messages]

    def forget(self) -> None:
        self.ledger.set_meta(_QUEUE_KEY, None)
        self._queue = None

    def flush_deletes(self, *, force: bool = False) -> None:
        """Delete what was read, in tens: a late delete only risks a redelivery, which the
        ledger ignores."""
        if not self._deletes or self._queue is None:
            self._deletes.clear()
            return
        now = self._clock()
        if not self._deletes_since:
            self._deletes_since = now
        if not force and len(self._deletes) < 10 and now - self._deletes_since < 10:
            return
        sqs = self.session.client("sqs")
        while self._deletes:
            chunk, self._deletes = self._deletes[:10], self._deletes[10:]
            self.stats.add("DeleteMessageBatch")
            try:
                sqs.delete_message_batch(QueueUrl=self._queue.url, Entries=[
                    {"Id": str(n), "ReceiptHandle": handle}
                    for n, handle in enumerate(chunk)
                ])
            except errors.SmconsoleError:
                self._deletes.clear()  # redelivered later and ignored then
                break
        self._deletes_since = 0.0

    def remove(self) -> QueueRecord | None:
        """Unsubscribe and delete the queue; requests then get watched through S3."""
        queue = self.stored()
        if queue is None:
            return None
        sqs = self.session.client("sqs")
        sns = self.session.client("sns")
        for subscription in queue.subscriptions.values():
            try:
                sns.unsubscribe(SubscriptionArn=subscription)
            except errors.NotFound:
                pass
        try:
            sqs.delete_queue(QueueUrl=queue.url)
        except errors.NotFound:
            pass  # gone already
        self.forget()
        return queue


def default_queue_name(ledger: Ledger) -> str:
    """One queue per ledger and machine, so two people's consoles never steal messages."""
    digest = hashlib.sha256(f"{socket.gethostname()}:{ledger.path}".encode()).hexdigest()[:12]
    return f"smconsole-outputs-{digest}"


def parse_notification(body: str) -> Notification | None:
    """SageMaker's InferenceResult message, raw or inside an SNS envelope; None if not one."""
    try:
        data = json.loads(body)
        if isinstance(data, dict) and data.get("Type") == "Notification" and "Message" in data:
            data = json.loads(data["Message"])
    except (TypeError, ValueError):
        return None
    if not isinstance(data, dict) or not data.get("inferenceId"):
        return None
    response = data.get("responseParameters") or {}
    succeeded = data.get("invocationStatus") == "Completed"
    error = None
    if not succeeded:
        error = str(data.get("failureReason") or "failed")
        content = _included_body(data.get("responseBody"))
        if content is not None:
            error = f"{error} | {error_summary(content)}"
    return Notification(
        inference_id=str(data["inferenceId"]),
        status=Status.SUCCEEDED if succeeded else Status.FAILED,
        location=response.get("outputLocation" if succeeded else "failureLocation"),
        finished_at=timestamp(data.get("eventTime")),
        error=error,
    )


def _included_body(included: Any) -> bytes | None:
    """The response bytes a notification carries (SageMaker sends them base64-encoded)."""
    if not isinstance(included, dict) or not isinstance(included.get("content"), str):
        return None
    if included.get("encoding") == "BASE64":
        try:
            return base64.b64decode(included["content"], validate=True)
        except ValueError:
            return None
    return included["content"].encode()


def timestamp(value: Any) -> float | None:
    """Epoch seconds from botocore's datetime or an ISO 8601 string; None otherwise."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            return None
    return None
