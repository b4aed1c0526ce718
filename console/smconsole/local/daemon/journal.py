"""Persistence for a server that has none: a journal of state changes, replayed at start.

Control-plane mutations are kept as the HTTP requests that made them; S3 objects as their
resulting bytes (so multipart uploads, whose ids change on replay, still come back).
"""

from __future__ import annotations

import base64
import io
import json
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from smconsole.local.daemon import backends

INLINE_LIMIT = 64 * 1024
LOG_BATCHES_KEPT = 300  # per log stream, at compaction (each start)
_BASE_ENVIRON = {
    "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.multithread": True,
    "wsgi.multiprocess": False, "wsgi.run_once": False, "SERVER_NAME": "127.0.0.1",
    "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "SCRIPT_NAME": "",
    "REMOTE_ADDR": "127.0.0.1",
}
_KEPT_ENVIRON = ("REQUEST_METHOD", "PATH_INFO", "QUERY_STRING", "CONTENT_TYPE")

DAMAGED_FILE = "damaged.jsonl"  # journal lines a start could not read, kept for a look
RECORDED_AT = "smconsole.recorded_at"  # environ key: when a replayed request first ran
# Never on disk: who signed a request. Replay needs only the region and service it names.
_SECRET_HEADERS = ("HTTP_X_AMZ_SECURITY_TOKEN", "HTTP_COOKIE")
_SCOPE = re.compile(r"Credential=[^/,\s]+/(\d{8})/([^/]+)/([^/]+)/aws4_request")
_SECRET_QUERY = re.compile(r"(?i)^x-amz-(credential|security-token|signature)=")

WsgiCall = Callable[[dict[str, Any]], tuple[int, bytes]]


class Journal:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / "journal.jsonl"
        self.blobs = root / "blobs"
        self.blobs.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._seq = sum(1 for _ in self.path.open("rb")) if self.path.is_file() else 0
        self._end_torn_line()

    def _end_torn_line(self) -> None:
        """A daemon killed mid-write leaves half a line; the next record must not join it."""
        if not self.path.is_file() or not self.path.stat().st_size:
            return
        with self.path.open("rb+") as handle:
            handle.seek(-1, 2)
            if handle.read(1) != b"\n":
                handle.write(b"\n")

    def _append(self, entry: dict[str, Any], data: bytes | None) -> None:
        entry.setdefault("at", time.time())  # replay keeps CreationTime (see router)
        with self._lock:
            self._seq += 1
            if data is not None:
                if len(data) <= INLINE_LIMIT:
                    entry["body"] = base64.b64encode(data).decode("ascii")
                else:
                    blob = self.blobs / f"{self._seq:08d}-{uuid.uuid4().hex[:8]}.bin"
                    blob.write_bytes(data)
                    entry["blob"] = blob.name
            with self.path.open("a") as handle:
                handle.write(json.dumps(entry) + "\n")
                handle.flush()

    def record_request(self, environ: dict[str, Any], body: bytes) -> None:
        kept = {k: v for k, v in environ.items()
                if isinstance(v, str) and (k in _KEPT_ENVIRON or k.startswith("HTTP_"))}
        entry: dict[str, Any] = {"kind": "http", "environ": _without_credentials(kept)}
        if isinstance(environ.get(RECORDED_AT), float):
            entry["at"] = environ[RECORDED_AT]
        self._append(entry, body)

    def record_s3_key(self, bucket: str, key: str) -> None:
        """Journal what the key now holds (or that it is gone)."""
        found = backends.s3_object(bucket, key)
        if found is None:
            self._append({"kind": "s3delete", "bucket": bucket, "key": key}, None)
            return
        metadata = {str(k): str(v) for k, v in dict(found.metadata).items()}
        self._append({"kind": "s3put", "bucket": bucket, "key": key, "metadata": metadata},
                     found.value)

    def replay(self, call: WsgiCall) -> tuple[int, int]:
        """Feed every entry back through the app; (replayed, refused). Damaged entries are
        skipped, one line each on stdout (compact() moves them out of the journal)."""
        done = refused = 0
        for _, entry in self._entries():
            data = b""
            if "body" in entry:
                data = base64.b64decode(entry["body"])
            elif "blob" in entry:
                data = (self.blobs / entry["blob"]).read_bytes()
            if entry["kind"] == "http":
                environ = dict(entry["environ"])
            elif entry["kind"] == "s3put":
                environ = _s3_environ("PUT", entry["bucket"], entry["key"])
                for name, value in entry["metadata"].items():
                    environ["HTTP_" + name.upper().replace("-", "_")] = value
                    if name.lower() == "content-type":
                        environ["CONTENT_TYPE"] = value
            else:
                environ = _s3_environ("DELETE", entry["bucket"], entry["key"])
            environ.update(_BASE_ENVIRON)
            environ.setdefault("HTTP_HOST", "127.0.0.1")
            environ["wsgi.input"] = io.BytesIO(data)
            environ["wsgi.errors"] = sys.stderr
            environ["CONTENT_LENGTH"] = str(len(data))
            if isinstance(entry.get("at"), (int, float)):
                environ[RECORDED_AT] = float(entry["at"])
            try:
                status, _ = call(environ)
            except Exception as exc:  # noqa: BLE001 - one bad entry must not block the start
                print(f"smconsole-local: replay of entry {entry['kind']} failed: {exc}",
                      flush=True)
                status = 500
            if 200 <= status < 300:
                done += 1
                if entry["kind"] == "s3put" and isinstance(entry.get("at"), (int, float)):
                    _keep_last_modified(entry["bucket"], entry["key"], float(entry["at"]))
            else:
                refused += 1
        return done, refused

    def _entries(self, damaged: list[str] | None = None) -> list[tuple[int, dict[str, Any]]]:
        """(line number, entry) of every sound record; each damaged line is reported on
        stdout (`journal.jsonl:12: skipped: truncated record`) and appended to `damaged`."""
        if not self.path.is_file():
            return []
        found = []
        for number, line in enumerate(self.path.read_bytes().split(b"\n"), 1):
            if not line.strip():
                continue
            why = None
            try:
                entry = json.loads(line)
                why = self._unsound(entry)
            except ValueError:  # half a record is what a killed daemon leaves
                why = "truncated record" if line.lstrip().startswith(b"{") \
                    else "not a journal record"
            if why:
                print(f"smconsole-local: {self.path.name}:{number}: skipped: {why}", flush=True)
                if damaged is not None:
                    damaged.append(line.decode("utf-8", "replace"))
                continue
            found.append((number, entry))
        return found

    def _unsound(self, entry: Any) -> str | None:
        """Why a parsed line cannot be replayed, or None."""
        if not isinstance(entry, dict) or entry.get("kind") not in ("http", "s3put", "s3delete"):
            return "not a journal record"
        if entry["kind"] == "http" and not (
                isinstance(entry.get("environ"), dict)
                and all(isinstance(v, str) for v in entry["environ"].values())):
            return "http record without its request"
        if entry["kind"] != "http" and not (isinstance(entry.get("bucket"), str)
                                            and isinstance(entry.get("key"), str)):
            return f"{entry['kind']} record without bucket and key"
        if entry["kind"] == "s3put" and not isinstance(entry.get("metadata"), dict):
            return "s3put record without metadata"
        if "blob" in entry and not (isinstance(entry["blob"], str)
                                    and "/" not in entry["blob"]
                                    and (self.blobs / entry["blob"]).is_file()):
            return f"missing blob {entry['blob']}"
        if "body" in entry:
            try:
                base64.b64decode(entry["body"], validate=True)
            except (ValueError, TypeError):
                return "body is not base64"
        return None

    def compact(self) -> int:
        """Keep only the newest state of each S3 key (an overwritten model.tar.gz need not be
        stored twice) and each log stream's newest LOG_BATCHES_KEPT batches; other entries
        stay in order. Damaged lines move to damaged.jsonl. Returns how many entries went."""
        if not self.path.is_file():
            return 0
        damaged: list[str] = []
        entries = [entry for _, entry in self._entries(damaged)]
        newest: dict[tuple[str, str], int] = {}
        batches: dict[tuple[str, str], list[int]] = {}
        for index, entry in enumerate(entries):
            if entry["kind"] in ("s3put", "s3delete"):
                newest[(entry["bucket"], entry["key"])] = index
            elif (stream := self._log_stream(entry)) is not None:
                batches.setdefault(stream, []).append(index)
        # Container logs arrive every second an instance runs: without a cap the journal,
        # and each start's replay, would grow for as long as the stack is used.
        old_logs = {i for indexes in batches.values() for i in indexes[:-LOG_BATCHES_KEPT]}
        kept = [e for i, e in enumerate(entries)
                if (e["kind"] == "http" and i not in old_logs)
                or (e["kind"] != "http" and newest[(e["bucket"], e["key"])] == i)]
        dropped = len(entries) - len(kept)
        if not dropped and not damaged:
            return 0
        if damaged:
            with (self.root / DAMAGED_FILE).open("a") as handle:
                handle.write("".join(line + "\n" for line in damaged))
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(e) + "\n" for e in kept))
        tmp.replace(self.path)
        live = {e["blob"] for e in kept if "blob" in e}
        for blob in self.blobs.glob("*.bin"):
            if blob.name not in live:
                blob.unlink()
        return dropped

    def _log_stream(self, entry: dict[str, Any]) -> tuple[str, str] | None:
        """(group, stream) of a PutLogEvents entry; None for anything else."""
        target = entry.get("environ", {}).get("HTTP_X_AMZ_TARGET", "")
        if entry["kind"] != "http" or not target.endswith(".PutLogEvents"):
            return None
        try:
            if "body" in entry:
                params = json.loads(base64.b64decode(entry["body"]))
            else:
                params = json.loads((self.blobs / entry["blob"]).read_bytes())
            return str(params["logGroupName"]), str(params["logStreamName"])
        except (OSError, ValueError, KeyError, TypeError):
            return None  # unreadable: kept as it is


def _s3_environ(method: str, bucket: str, key: str) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": f"/{bucket}/{key}".encode().decode("latin-1"),
        "QUERY_STRING": "",
        "HTTP_HOST": "s3.amazonaws.com",
        "HTTP_AUTHORIZATION": ("AWS4-HMAC-SHA256 Credential=smconsole-local/20260101/"
                               "us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0"),
    }


def _without_credentials(environ: dict[str, str]) -> dict[str, str]:
    """The request minus who made it: a dummy signature that names the same region and
    service (wire.identify reads those), no session token, no presigned-URL credentials."""
    kept = {k: v for k, v in environ.items() if k not in _SECRET_HEADERS}
    auth = kept.pop("HTTP_AUTHORIZATION", None)
    if auth is not None:
        scope = _SCOPE.search(auth)
        if scope:
            date, region, service = scope.groups()
            kept["HTTP_AUTHORIZATION"] = (
                f"AWS4-HMAC-SHA256 Credential=smconsole-local/{date}/{region}/{service}/"
                "aws4_request, SignedHeaders=host, Signature=0")
    query = kept.get("QUERY_STRING")
    if query:
        kept["QUERY_STRING"] = "&".join(p for p in query.split("&")
                                        if not _SECRET_QUERY.match(p))
    return kept


def _keep_last_modified(bucket: str, key: str, at: float) -> None:
    """A replayed object keeps the time it was written, not the restart's: the watcher's
    finished times and the timeline read LastModified."""
    found = backends.s3_object(bucket, key)
    if found is not None:  # moto keeps naive UTC
        found.last_modified = datetime.fromtimestamp(at, UTC).replace(tzinfo=None)
