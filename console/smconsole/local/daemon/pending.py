"""Accepted async requests not yet answered, one file each, so a restart still runs them.

SageMaker keeps an accepted InvokeEndpointAsync request until its output or failure is
written (or its TTL passes); the local stack must not forget one because its daemon stopped.
A request is written here before the 202 goes back and removed once it is delivered, so a
request that was running when the daemon died runs again: at least once, as on AWS.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path

from smconsole.local.daemon.queue import QueuedRequest


class PendingRequests:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _folder(self, region: str, endpoint: str) -> Path:
        return self.root / region / endpoint

    def _path(self, region: str, endpoint: str, request: QueuedRequest) -> Path:
        # Inference ids are the caller's; the file name must not be. Received time first, so a
        # listing sorts in arrival order.
        digest = hashlib.sha256(request.inference_id.encode()).hexdigest()[:16]
        stamp = f"{int(request.received * 1_000_000):020d}"
        return self._folder(region, endpoint) / f"{stamp}-{digest}.json"

    def add(self, region: str, endpoint: str, request: QueuedRequest) -> None:
        path = self._path(region, endpoint, request)
        path.parent.mkdir(parents=True, exist_ok=True)
        record = asdict(request)
        body = record.pop("body")
        record["body_b64"] = None if body is None else base64.b64encode(body).decode("ascii")
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record))
        os.replace(tmp, path)  # a reader never sees half a record

    def remove(self, region: str, endpoint: str, request: QueuedRequest) -> None:
        self._path(region, endpoint, request).unlink(missing_ok=True)

    def load(self, region: str, endpoint: str) -> list[QueuedRequest]:
        """The endpoint's unanswered requests, oldest first; unreadable files are skipped."""
        folder = self._folder(region, endpoint)
        if not folder.is_dir():
            return []
        requests = []
        for path in sorted(folder.glob("*.json")):
            try:
                record = json.loads(path.read_text())
                encoded = record.pop("body_b64")
                record["body"] = None if encoded is None else base64.b64decode(encoded)
                record["started"] = None
                request = QueuedRequest(**record)
                _check(request)
                requests.append(request)
            except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
                aside = path.with_name(path.name + ".damaged")  # not read again, kept to see
                path.replace(aside)
                print(f"smconsole-local: {path.relative_to(self.root.parent)}: skipped: "
                      f"unreadable request ({exc}); kept as {aside.name}", flush=True)
        return requests

    def endpoints(self) -> list[tuple[str, str]]:
        """(region, endpoint) of every folder holding requests."""
        if not self.root.is_dir():
            return []
        return [(region.name, folder.name) for region in self.root.iterdir() if region.is_dir()
                for folder in region.iterdir() if folder.is_dir() and any(folder.glob("*.json"))]

    def drop(self, region: str, endpoint: str) -> int:
        """Forget an endpoint's requests (it was deleted); returns how many went."""
        folder = self._folder(region, endpoint)
        if not folder.is_dir():
            return 0
        gone = 0
        for path in folder.iterdir():
            path.unlink(missing_ok=True)
            gone += 1
        folder.rmdir()
        return gone


def _check(request: QueuedRequest) -> None:
    """Types a hand-edited or torn file may get wrong, before a worker trips on them."""
    for name in ("inference_id", "output_location", "failure_location"):
        if not isinstance(getattr(request, name), str):
            raise TypeError(f"{name} is not a string")
    for name in ("received", "ttl_s", "invocation_timeout_s"):
        value = getattr(request, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{name} is not a number")
    if request.body is None and not isinstance(request.input_location, str):
        raise TypeError("neither a body nor an input location")
