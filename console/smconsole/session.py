"""One place that builds boto3 clients: profile, region, endpoint URL, retries, pool, read-only."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.config
import botocore.exceptions

from smconsole import errors

# Operations that only read. Anything else is treated as mutating when read-only is on, so a
# new mutating API cannot slip through an allow-list that forgot it.
_READ_PREFIXES = ("Describe", "List", "Get", "Filter", "Head", "Search", "Lookup", "Select")
_READ_OPERATIONS = frozenset({"StartLiveTail", "StartQuery", "StopQuery", "TestMetricFilter"})

DEFAULT_POOL = 32
LOCAL_REGION = "us-east-1"
LOCAL_CREDENTIALS = ("smconsole-local", "smconsole-local")

NOT_CONFIGURED_HINT = (
    "no AWS credentials found: run `aws configure` (or `aws sso login`), pass --profile, "
    "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or use `smconsole --local` for the "
    "embedded local stack"
)

# boto3 reads its region from AWS_DEFAULT_REGION or the profile's `region` (AWS_REGION is
# read by other SDKs and the Lambda runtime, not by boto3).
NO_REGION_HINT = (
    "no AWS region: pass --region, set AWS_DEFAULT_REGION, or set `region` in your profile "
    "(`aws configure set region eu-west-1`)"
)


def is_mutating(operation_name: str) -> bool:
    if operation_name in _READ_OPERATIONS:
        return False
    return not operation_name.startswith(_READ_PREFIXES)


@dataclass
class AwsSession:
    """Builds and caches thread-safe clients; the boto3 Session itself is only touched under a lock.

    `endpoint_url` sends every service to one URL (the local stack); otherwise botocore's own
    resolution applies, which honours AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>.
    """

    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    read_only: bool = False
    retry_mode: str = "standard"
    max_attempts: int = 5
    pool_size: int = DEFAULT_POOL
    credentials: tuple[str, str] | None = None
    _clients: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _boto: boto3.Session | None = field(default=None, init=False, repr=False)

    @classmethod
    def local(cls, url: str, *, read_only: bool = False) -> AwsSession:
        """A session for the embedded local stack: one URL, dummy credentials, fixed region."""
        return cls(
            region=LOCAL_REGION, endpoint_url=url, read_only=read_only,
            credentials=LOCAL_CREDENTIALS,
        )

    @property
    def is_local(self) -> bool:
        return self.credentials == LOCAL_CREDENTIALS

    def _session(self) -> boto3.Session:
        if self._boto is None:
            kwargs: dict[str, Any] = {}
            if self.credentials:
                kwargs["aws_access_key_id"], kwargs["aws_secret_access_key"] = self.credentials
            else:
                kwargs["profile_name"] = self.profile
            try:
                self._boto = boto3.Session(region_name=self.region, **kwargs)
            except botocore.exceptions.ProfileNotFound as exc:
                raise errors.NotConfigured(f"{exc}; {NOT_CONFIGURED_HINT}") from None
        return self._boto

    @property
    def region_name(self) -> str:
        with self._lock:
            return self._session().region_name or ""

    def client(self, service: str, *, region: str | None = None) -> Any:
        """A shared client for `service` (in `region` when given: the Pricing API lives in
        us-east-1 whatever the session's region); clients are thread-safe once built.

        The client is a `TranslatingClient`: its API calls, paginators and waiters raise
        smconsole's named errors, so callers never translate botocore's themselves."""
        key = service if region is None else f"{service}@{region}"
        with self._lock:
            found = self._clients.get(key)
            if found is not None:
                return found
            session = self._session()
            if not (region or session.region_name):
                raise errors.NotConfigured(NO_REGION_HINT)
            config = botocore.config.Config(
                retries={"mode": self.retry_mode, "max_attempts": self.max_attempts},
                max_pool_connections=self.pool_size,
                # One loopback URL serves every service: no `streaming.`/`runtime.` host prefixes.
                inject_host_prefix=self.endpoint_url is None,
                connect_timeout=5,
                read_timeout=60,
            )
            made = session.client(service, endpoint_url=self.endpoint_url, config=config,
                                  region_name=region)
            if self.read_only:
                made.meta.events.register("before-call", _refuse_mutations)
            wrapped = TranslatingClient(made)
            self._clients[key] = wrapped
            return wrapped

    def check_credentials(self) -> None:
        """Raise NotConfigured with a one-line hint when no credentials can be found."""
        if self.credentials:
            return
        with self._lock:
            creds = self._session().get_credentials()
        if creds is None:
            raise errors.NotConfigured(NOT_CONFIGURED_HINT)

    def describe(self) -> str:
        """What the header shows: 'local' or profile@region."""
        if self.is_local:
            return "local"
        return f"{self.profile or os.environ.get('AWS_PROFILE') or 'default'}@{self.region_name}"


def _refuse_mutations(model: Any, **_: Any) -> None:
    if is_mutating(model.name):
        raise errors.ReadOnlyRefused(f"{model.name} refused: the console is read-only")


_THROTTLE_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestLimitExceeded",
    "TooManyRequestsException", "SlowDown", "RequestThrottled", "LimitExceededException",
})
_EXPIRED_CODES = frozenset({
    "ExpiredToken", "ExpiredTokenException", "RequestExpired", "InvalidClientTokenId",
    "UnrecognizedClientException", "InvalidToken",
})
_NOT_FOUND_CODES = frozenset({
    "ResourceNotFound", "ResourceNotFoundException", "NoSuchKey", "NoSuchBucket", "NotFound",
    "404", "ValidationException:not-found", "NoSuchEntity", "ObjectNotFound",
    # SQS: the query code, its JSON-protocol spelling, and the modeled exception's name.
    "NonExistentQueue", "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist",
    # ECR
    "RepositoryNotFound", "RepositoryNotFoundException",
})


def translate(exc: BaseException, operation: str = "") -> errors.SmconsoleError:
    """Map a botocore exception onto smconsole's named errors."""
    if isinstance(exc, errors.SmconsoleError):
        return exc
    if isinstance(exc, botocore.exceptions.ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        message = str(err.get("Message", "")) or str(exc)
        op = operation or exc.operation_name
        if code in _THROTTLE_CODES:
            return errors.Throttled(f"{op}: {message}")
        if code in _EXPIRED_CODES:
            return errors.CredentialsExpired(f"{op}: {message}")
        # SageMaker says "Could not find endpoint" with a ValidationException.
        if code in _NOT_FOUND_CODES or "Could not find" in message or "does not exist" in message:
            return errors.NotFound(f"{op}: {message}")
        return errors.AwsError(code, message, op)
    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return errors.NotConfigured(NOT_CONFIGURED_HINT)
    if isinstance(exc, botocore.exceptions.NoRegionError):
        return errors.NotConfigured(NO_REGION_HINT)
    if isinstance(exc, (botocore.exceptions.EndpointConnectionError,
                        botocore.exceptions.ConnectionClosedError,
                        botocore.exceptions.ReadTimeoutError)):
        return errors.Unreachable(str(exc))
    return errors.SmconsoleError(f"{operation + ': ' if operation else ''}{exc}")


@contextmanager
def _aws_errors(operation: str = "") -> Iterator[None]:
    """Re-raise botocore errors inside the block as smconsole errors (the one place: the
    client wrapper, its paginators and waiters, and streamed bodies use it)."""
    try:
        yield
    except errors.SmconsoleError:
        raise  # translated already (by a TranslatingClient): keep it and its cause
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        raise _translated(exc, operation) from exc


def read_body(reply: dict[str, Any], operation: str = "GetObject") -> bytes:
    """All of a streaming reply's `Body`: reading it goes back to the network after the call
    returned, so its errors are translated here rather than by the client."""
    with _aws_errors(operation):
        return reply["Body"].read()


def read_events(stream: Any, operation: str) -> Iterator[Any]:
    """The events of an event-stream reply (Live Tail's `responseStream`), each read from
    the network after the call returned: their errors translated as the call's."""
    return _translated_iter(iter(stream), operation)


# (smconsole error class, botocore error class) -> the class that is both; see _translated.
_BOTH: dict[tuple[type, type], type | None] = {}
_BOTH_LOCK = threading.Lock()


def _translated(exc: Exception, operation: str) -> errors.SmconsoleError:
    return _keeping_class(translate(exc, operation), exc)


def _keeping_class(named: errors.SmconsoleError, exc: Exception) -> errors.SmconsoleError:
    """`named` (exc translated), still an instance of `exc`'s own class.

    Code that holds a client directly (tests, the local demo's seeding) catches botocore's
    classes (`s3.exceptions.NoSuchKey`, `ClientError`) and reads `.response`; the named
    error keeps that working: its class derives from both, its attributes are both sets,
    and its message and class name are the smconsole error's."""
    if isinstance(named, type(exc)):
        return named
    key = (type(named), type(exc))
    with _BOTH_LOCK:
        if key not in _BOTH:
            try:
                _BOTH[key] = type(key[0].__name__, key, {
                    "__module__": key[0].__module__, "__qualname__": key[0].__qualname__})
            except TypeError:  # incompatible layouts: the named error alone
                _BOTH[key] = None
        both = _BOTH[key]
    if both is None:
        return named
    kept = both.__new__(both)
    kept.__dict__.update(vars(exc))
    kept.__dict__.update(vars(named))
    kept.args = named.args
    return kept


# boto3's managed transfers call the API through the bare client: name them as callers did.
_TRANSFER_OPERATIONS = {
    "upload_file": "PutObject", "upload_fileobj": "PutObject",
    "download_file": "GetObject", "download_fileobj": "GetObject", "copy": "CopyObject",
}


def _translating(method: Callable[..., Any], operation: str) -> Callable[..., Any]:
    def translated_call(*args: Any, **kwargs: Any) -> Any:
        with _aws_errors(operation):
            return method(*args, **kwargs)

    translated_call.__name__ = getattr(method, "__name__", operation)
    translated_call.__doc__ = getattr(method, "__doc__", None)
    return translated_call


class TranslatingClient:
    """A botocore client whose API methods raise smconsole errors, with the API operation's
    name in the message; paginators and waiters from it do the same.

    Everything else (`meta`, `exceptions`, `can_paginate`, ...) is the client's own, so
    botocore's `Stubber(client)` and handlers on `meta.events` work on it unchanged.
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self._api: dict[str, str] = client.meta.method_to_api_mapping

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._client, name)
        operation = self._api.get(name) or _TRANSFER_OPERATIONS.get(name)
        if operation is None or not callable(found):
            return found
        wrapped = _translating(found, operation)
        setattr(self, name, wrapped)  # found by normal lookup from now on
        return wrapped

    def get_paginator(self, operation_name: str) -> TranslatingPaginator:
        operation = self._api.get(operation_name, operation_name)
        with _aws_errors(operation):
            return TranslatingPaginator(self._client.get_paginator(operation_name), operation)

    def get_waiter(self, waiter_name: str) -> TranslatingWaiter:
        with _aws_errors(waiter_name):
            return TranslatingWaiter(self._client.get_waiter(waiter_name))

    def __repr__(self) -> str:
        return f"TranslatingClient({self._client!r})"


class TranslatingPaginator:
    """A paginator whose pages, and full result, raise smconsole errors."""

    def __init__(self, paginator: Any, operation: str) -> None:
        self._paginator = paginator
        self._operation = operation

    def __getattr__(self, name: str) -> Any:
        return getattr(self._paginator, name)

    def paginate(self, **kwargs: Any) -> TranslatingPages:
        with _aws_errors(self._operation):
            return TranslatingPages(self._paginator.paginate(**kwargs), self._operation)


class TranslatingPages:
    """botocore's PageIterator, each page fetched (and the full result built) translated."""

    def __init__(self, pages: Any, operation: str) -> None:
        self._pages = pages
        self._operation = operation

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pages, name)

    def __iter__(self) -> Iterator[Any]:
        return _translated_iter(iter(self._pages), self._operation)

    def build_full_result(self) -> dict[str, Any]:
        with _aws_errors(self._operation):
            return self._pages.build_full_result()

    def search(self, expression: str) -> Iterator[Any]:
        return _translated_iter(self._pages.search(expression), self._operation)


def _translated_iter(items: Iterator[Any], operation: str) -> Iterator[Any]:
    while True:
        with _aws_errors(operation):
            try:
                item = next(items)
            except StopIteration:
                return
        yield item


class TranslatingWaiter:
    """A waiter whose `wait()` raises smconsole errors.

    An error answer no acceptor expected (or a failure state matched on one) is translated
    as the call's own ClientError would be: NotFound for a missing endpoint, with the
    waiter's operation in the message. Other failures (a terminal state, attempts run out)
    are botocore's WaiterError translated as any other botocore error."""

    def __init__(self, waiter: Any) -> None:
        self._waiter = waiter

    def __getattr__(self, name: str) -> Any:
        return getattr(self._waiter, name)

    def wait(self, **kwargs: Any) -> None:
        operation = self._waiter.config.operation
        try:
            self._waiter.wait(**kwargs)
        except botocore.exceptions.WaiterError as exc:
            last = exc.last_response or {}
            if "Error" in last:
                named = translate(botocore.exceptions.ClientError(last, operation), operation)
            else:
                named = translate(exc, operation)
            raise _keeping_class(named, exc) from exc
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise _translated(exc, operation) from exc
