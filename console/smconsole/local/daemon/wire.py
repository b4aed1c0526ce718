"""What an incoming AWS request is: service, action, region, and whether it changes state."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs

from smconsole.session import is_mutating

_CREDENTIAL = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/")
_CBOR_PATH = re.compile(r"^/service/([^/]+)/operation/([^/]+)$")
RUNTIME_PATH = re.compile(r"^/endpoints/([^/]+)/(invocations|async-invocations)$")

# Mutations that are traffic, not state: never replayed after a restart.
EPHEMERAL = frozenset({
    "PutMetricData", "Publish", "PublishBatch", "SendMessage", "SendMessageBatch",
    "ReceiveMessage", "DeleteMessage", "DeleteMessageBatch", "ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch", "PurgeQueue", "AssumeRole", "StartLiveTail",
    "SetAlarmState", "InvokeEndpoint", "InvokeEndpointAsync",
})


@dataclass(frozen=True)
class Call:
    service: str  # signing name: sagemaker, s3, logs, ... ("" when unsigned)
    region: str
    action: str  # "" for REST services (S3)
    method: str
    path: str

    @property
    def is_s3(self) -> bool:
        return self.service == "s3" or (not self.action and self.service in ("", "s3"))

    @property
    def mutating(self) -> bool:
        if self.action:
            return is_mutating(self.action) and self.action not in EPHEMERAL
        return self.method in ("PUT", "POST", "DELETE")


def identify(environ: dict[str, object], body: bytes) -> Call:
    auth = str(environ.get("HTTP_AUTHORIZATION", ""))
    match = _CREDENTIAL.search(auth)
    region, service = (match.group(1), match.group(2)) if match else ("us-east-1", "")
    method = str(environ.get("REQUEST_METHOD", "GET")).upper()
    path = str(environ.get("PATH_INFO", ""))
    action = ""
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    cbor = _CBOR_PATH.match(path)
    if target:
        action = target.rsplit(".", 1)[-1]
    elif cbor:
        action = cbor.group(2)
    elif str(environ.get("CONTENT_TYPE", "")).startswith("application/x-www-form-urlencoded"):
        form = parse_qs(body.decode("utf-8", "replace"))
        action = (form.get("Action") or [""])[0]
    elif service != "s3":
        query = parse_qs(str(environ.get("QUERY_STRING", "")))
        action = (query.get("Action") or [""])[0]
    return Call(service=service, region=region, action=action, method=method, path=path)
