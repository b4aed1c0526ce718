"""Persistence for a server that has none: a journal of state changes, replayed at start.

Control-plane mutations are kept as the HTTP requests that made them; S3 objects as their
resulting bytes (so multipart uploads, whose ids change on replay, still come back).
"""

from __future__ import annotations

import base64
import io
import json
import sys
import threading
import uuid
from collections.abc import Callable
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

WsgiCall = Callable[[dict[str, Any]], tuple[int, bytes]]


class Journal:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / "journal.jsonl"
        self.blobs = root / "blobs"
        self.blobs.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._seq = sum(1 for _ in self.path.open()) if self.path.is_file() else 0

    def _append(self, entry: dict[str, Any], data: bytes | None) -> None:
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
        self._append({"kind": "http", "environ": kept}, body)

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
        """Feed every entry back through the app; (replayed, refused)."""
        if not self.path.is_file():
            return 0, 0
        done = refused = 0
        for line in self.path.read_text().splitlines():
            if not line.strip():
                continue
            entry = json.loads(line)
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
            try:
                status, _ = call(environ)
            except Exception as exc:  # noqa: BLE001 - one bad entry must not block the start
                print(f"smconsole-local: replay of entry {entry['kind']} failed: {exc}",
                      flush=True)
                status = 500
            if 200 <= status < 300:
                done += 1
            else:
                refused += 1
        return done, refused

    def compact(self) -> int:
        """Keep only the newest state of each S3 key (an overwritten model.tar.gz need not be
        stored twice) and each log stream's newest LOG_BATCHES_KEPT batches; other entries
        stay in order. Returns how many entries went."""
        if not self.path.is_file():
            return 0
        entries = [json.loads(line) for line in self.path.read_text().splitlines()
                   if line.strip()]
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
        if not dropped:
            return 0
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

    def wipe(self) -> None:
        self.path.unlink(missing_ok=True)
        for blob in self.blobs.glob("*.bin"):
            blob.unlink()


def _s3_environ(method: str, bucket: str, key: str) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": f"/{bucket}/{key}".encode().decode("latin-1"),
        "QUERY_STRING": "",
        "HTTP_HOST": "s3.amazonaws.com",
        "HTTP_AUTHORIZATION": ("AWS4-HMAC-SHA256 Credential=smconsole-local/20260101/"
                               "us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0"),
    }
