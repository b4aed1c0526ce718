"""boto3 clients the daemon uses to talk to its own URL (S3 bodies, SNS, logs, metrics).

They carry `INTERNAL_HEADER`, so the router neither delays them (--latency-ms models the
user's network, not ours) nor mistakes them for user traffic.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
import botocore.config

INTERNAL_HEADER = "X-Smconsole-Internal"
INTERNAL_ENVIRON = "HTTP_X_SMCONSOLE_INTERNAL"


class InternalAws:
    """Cached clients per (service, region) against the daemon's own URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self._session = boto3.Session(
            aws_access_key_id="smconsole-local", aws_secret_access_key="smconsole-local",
        )

    def client(self, service: str, region: str = "us-east-1") -> Any:
        key = (service, region)
        with self._lock:
            found = self._clients.get(key)
            if found is None:
                config = botocore.config.Config(
                    retries={"mode": "standard", "max_attempts": 3},
                    max_pool_connections=32, inject_host_prefix=False,
                    connect_timeout=5, read_timeout=120,
                )
                found = self._session.client(
                    service, region_name=region, endpoint_url=self.url, config=config,
                )
                found.meta.events.register("before-sign", _mark_internal)
                self._clients[key] = found
            return found


def _mark_internal(request: Any, **_: Any) -> None:
    request.headers[INTERNAL_HEADER] = "1"
