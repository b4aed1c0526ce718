"""The request ledger (SQLite, WAL): every submitted async request, written before its invoke.

A batch's rows are all written (status `queued`) before the first request is sent, and each
row is marked `submitting` before its invoke and `pending` after, so a killed submitter loses
nothing: `resume` sends whatever is still queued or submitting. The same file is shared by the
CLI and the TUI; SQLite's locking makes concurrent processes safe, one lock makes threads safe.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from smconsole.locations import state_dir
from smconsole.models.requests import UNSENT, AsyncRequest, Batch, Status
from smconsole.specs.batch import PlannedBatch

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    batch_id     TEXT PRIMARY KEY,
    file         TEXT NOT NULL,
    name         TEXT NOT NULL,
    endpoint     TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    input_prefix TEXT,
    created_at   REAL NOT NULL,
    total        INTEGER NOT NULL,
    origin       TEXT
);
CREATE INDEX IF NOT EXISTS batches_hash ON batches (content_hash);
CREATE TABLE IF NOT EXISTS requests (
    batch_id          TEXT NOT NULL REFERENCES batches (batch_id),
    idx               INTEGER NOT NULL,
    inference_id      TEXT NOT NULL,
    endpoint          TEXT NOT NULL,
    source            TEXT NOT NULL,
    source_ref        TEXT,
    body              BLOB,
    size              INTEGER,
    sha256            TEXT NOT NULL,
    content_type      TEXT NOT NULL,
    accept            TEXT,
    custom_attributes TEXT,
    invocation_timeout INTEGER,
    request_ttl       INTEGER,
    filename          TEXT NOT NULL,
    status            TEXT NOT NULL,
    input_location    TEXT,
    output_location   TEXT,
    failure_location  TEXT,
    queued_at         REAL NOT NULL,
    submitted_at      REAL,
    finished_at       REAL,
    detected_at       REAL,
    error             TEXT,
    attempts          INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (batch_id, idx)
);
CREATE INDEX IF NOT EXISTS requests_status ON requests (status);
CREATE INDEX IF NOT EXISTS requests_inference ON requests (inference_id);
CREATE INDEX IF NOT EXISTS requests_detected ON requests (detected_at);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS copies (
    batch_id     TEXT NOT NULL,
    idx          INTEGER NOT NULL,
    source_batch TEXT NOT NULL,
    source_idx   INTEGER NOT NULL,
    PRIMARY KEY (batch_id, idx)
);
CREATE INDEX IF NOT EXISTS copies_source ON copies (source_batch, source_idx);
CREATE TABLE IF NOT EXISTS notifications (
    inference_id TEXT PRIMARY KEY,
    received_at  REAL NOT NULL,
    message      TEXT NOT NULL
);
"""

_PUBLIC = (
    "batch_id, idx, inference_id, endpoint, status, source, source_ref, size, content_type, "
    "input_location, output_location, failure_location, queued_at, submitted_at, finished_at, "
    "detected_at, error"
)


@dataclass(frozen=True)
class Submission:
    """What the submitter needs to send one request (payload source and invoke options)."""

    batch_id: str
    index: int
    inference_id: str
    endpoint: str
    source: str
    source_ref: str | None
    body: bytes | None
    size: int | None
    sha256: str
    content_type: str
    accept: str | None
    custom_attributes: str | None
    invocation_timeout: int | None
    request_ttl: int | None
    filename: str
    input_location: str | None
    input_prefix: str | None


def default_path() -> Path:
    return state_dir() / "ledger.sqlite3"


def filename_for(index: int) -> str:
    """The output object's name: short and dot-safe (InvokeEndpointAsync allows 32 chars)."""
    return f"{index:06d}.out"


def slug(name: str) -> str:
    return (re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "batch")[:24].strip("-")


class Ledger:
    """Thread-safe access to the ledger file."""

    def __init__(self, path: Path | str | None = None, *, clock: Any = time.time) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False,
                                   isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a killed process (only power loss can drop commits).
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        with self._lock:
            # executescript commits on its own; every statement is IF NOT EXISTS.
            self._db.executescript(_SCHEMA)
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # -- batches ---------------------------------------------------------------------------

    def create_batch(self, planned: PlannedBatch, *, origin: str | None = None) -> Batch:
        """Record a batch and all its requests as queued, in one transaction."""
        now = self._clock()
        with self._tx() as db:
            batch_id = self._new_batch_id(db, planned.name, planned.content_hash)
            db.execute(
                "INSERT INTO batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (batch_id, planned.file, planned.name, planned.endpoint, planned.content_hash,
                 planned.input_prefix, now, len(planned.requests), origin),
            )
            db.executemany(
                "INSERT INTO requests (batch_id, idx, inference_id, endpoint, source, source_ref,"
                " body, size, sha256, content_type, accept, custom_attributes,"
                " invocation_timeout, request_ttl, filename, status, queued_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (batch_id, r.index, r.inference_id or f"{batch_id}-{r.index:06d}",
                     planned.endpoint, r.source, r.path or r.s3_uri, r.body, r.size, r.sha256,
                     r.content_type, r.accept, r.custom_attributes,
                     r.invocation_timeout_seconds, r.request_ttl_seconds,
                     filename_for(r.index), Status.QUEUED.value, now)
                    for r in planned.requests
                ],
            )
        return self.batch(batch_id)

    def copy_requests(self, batch_id: str, indexes: Iterable[int], *, origin: str,
                      endpoint: str | None = None) -> Batch:
        """A new batch holding copies of some requests (e.g. the failed ones), queued again,
        each linked to its original (`copies_of`); `endpoint` sends the copies elsewhere."""
        source = self.batch(batch_id)
        wanted = sorted(set(indexes))
        if not wanted:
            raise ValueError("no requests to copy")
        now = self._clock()
        with self._tx() as db:
            rows = db.execute(
                f"SELECT * FROM requests WHERE batch_id = ? AND idx IN ({','.join('?' * len(wanted))})"
                " ORDER BY idx", (batch_id, *wanted),
            ).fetchall()
            batch_meta = db.execute("SELECT * FROM batches WHERE batch_id = ?",
                                    (batch_id,)).fetchone()
            content_hash = f"{source.content_hash}:{','.join(map(str, wanted))}:{now}"
            new_id = self._new_batch_id(db, batch_meta["name"], content_hash)
            db.execute(
                "INSERT INTO batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (new_id, source.file, batch_meta["name"], endpoint or source.endpoint,
                 content_hash, batch_meta["input_prefix"], now, len(rows), origin),
            )
            db.executemany("INSERT INTO copies VALUES (?, ?, ?, ?)",
                           [(new_id, n, batch_id, row["idx"]) for n, row in enumerate(rows)])
            db.executemany(
                "INSERT INTO requests (batch_id, idx, inference_id, endpoint, source, source_ref,"
                " body, size, sha256, content_type, accept, custom_attributes,"
                " invocation_timeout, request_ttl, filename, status, queued_at, input_location)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (new_id, n, f"{new_id}-{n:06d}", endpoint or row["endpoint"], row["source"],
                     row["source_ref"], row["body"], row["size"], row["sha256"],
                     row["content_type"], row["accept"], row["custom_attributes"],
                     row["invocation_timeout"], row["request_ttl"], filename_for(n),
                     Status.QUEUED.value, now,
                     # An upload already made can be reused rather than sent again.
                     row["input_location"] if row["source"] != "s3" else None)
                    for n, row in enumerate(rows)
                ],
            )
        return self.batch(new_id)

    def copies_of(self, batch_id: str) -> dict[int, list[tuple[str, int]]]:
        """Each request of a batch that was copied: index -> [(copy's batch, copy's index)]."""
        found: dict[int, list[tuple[str, int]]] = {}
        for row in self._query("SELECT source_idx, batch_id, idx FROM copies"
                               " WHERE source_batch = ? ORDER BY source_idx", (batch_id,)):
            found.setdefault(row[0], []).append((row[1], row[2]))
        return found

    def copied_from(self, batch_id: str) -> str | None:
        """The batch a batch of copies was made from, if it is one."""
        rows = self._query("SELECT source_batch FROM copies WHERE batch_id = ? LIMIT 1",
                           (batch_id,))
        return rows[0][0] if rows else None

    @staticmethod
    def _new_batch_id(db: sqlite3.Connection, name: str, content_hash: str) -> str:
        while True:
            candidate = f"{slug(name)}-{content_hash[:6]}-{secrets.token_hex(3)}"
            if not db.execute("SELECT 1 FROM batches WHERE batch_id = ?",
                              (candidate,)).fetchone():
                return candidate

    def batch(self, batch_id: str) -> Batch:
        found = self.batches(batch_ids=[batch_id])
        if not found:
            from smconsole.errors import NotFound

            raise NotFound(f"no batch {batch_id!r} in the ledger ({self.path})")
        return found[0]

    def batches(self, *, batch_ids: Sequence[str] | None = None,
                content_hash: str | None = None) -> list[Batch]:
        """Batches, newest first, with per-status counts."""
        where, params = [], []
        if batch_ids is not None:
            where.append(f"b.batch_id IN ({','.join('?' * len(batch_ids))})")
            params.extend(batch_ids)
        if content_hash is not None:
            where.append("b.content_hash = ?")
            params.append(content_hash)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self._query(
            "SELECT b.batch_id, b.file, b.endpoint, b.content_hash, b.created_at, b.total,"
            " r.status, COUNT(r.idx) AS n FROM batches b LEFT JOIN requests r"
            f" ON r.batch_id = b.batch_id {clause} GROUP BY b.batch_id, r.status"
            " ORDER BY b.created_at DESC, b.batch_id", params,
        )
        out: dict[str, dict[str, Any]] = {}
        for row in rows:
            entry = out.setdefault(row["batch_id"], {
                "batch_id": row["batch_id"], "file": row["file"], "endpoint": row["endpoint"],
                "content_hash": row["content_hash"], "created_at": row["created_at"],
                "total": row["total"], "counts": {},
            })
            if row["status"] is not None:
                entry["counts"][row["status"]] = row["n"]
        return [Batch(**entry) for entry in out.values()]

    def unfinished_batches(self) -> list[Batch]:
        """Batches with requests not yet sent (a submitter stopped before the end)."""
        ids = [row[0] for row in self._query(
            "SELECT DISTINCT batch_id FROM requests WHERE status IN (?, ?)",
            [s.value for s in UNSENT],
        )]
        return self.batches(batch_ids=ids) if ids else []

    # -- requests --------------------------------------------------------------------------

    def requests(self, *, batch_id: str | None = None,
                 statuses: Iterable[Status] | None = None,
                 limit: int | None = None) -> list[AsyncRequest]:
        where, params = [], []
        if batch_id is not None:
            where.append("batch_id = ?")
            params.append(batch_id)
        if statuses is not None:
            values = [Status(s).value for s in statuses]
            where.append(f"status IN ({','.join('?' * len(values))})")
            params.extend(values)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        if limit:  # the newest `limit`, still oldest first
            rows = self._query(
                f"SELECT {_PUBLIC} FROM requests {clause}"
                f" ORDER BY queued_at DESC, batch_id DESC, idx DESC LIMIT {int(limit)}", params,
            )[::-1]
        else:
            rows = self._query(
                f"SELECT {_PUBLIC} FROM requests {clause} ORDER BY queued_at, batch_id, idx",
                params,
            )
        return [_request(row) for row in rows]

    def pending(self, batch_ids: Sequence[str] | None = None) -> list[AsyncRequest]:
        rows = [r for r in self.requests(statuses=[Status.PENDING])
                if batch_ids is None or r.batch_id in batch_ids]
        return rows

    def finished_since(self, since: float,
                       batch_ids: Sequence[str] | None = None) -> list[AsyncRequest]:
        """Requests recorded finished (by any process) with `detected_at` >= `since`, in the
        order they were detected."""
        where = ["status IN (?, ?)", "detected_at >= ?"]
        params: list[Any] = [Status.SUCCEEDED.value, Status.FAILED.value, since]
        if batch_ids is not None:
            where.append(f"batch_id IN ({','.join('?' * len(batch_ids))})")
            params.extend(batch_ids)
        rows = self._query(f"SELECT {_PUBLIC} FROM requests WHERE {' AND '.join(where)}"
                           " ORDER BY detected_at, batch_id, idx", params)
        return [_request(row) for row in rows]

    def request(self, batch_id: str, index: int) -> AsyncRequest:
        rows = self._query(f"SELECT {_PUBLIC} FROM requests WHERE batch_id = ? AND idx = ?",
                           (batch_id, index))
        if not rows:
            from smconsole.errors import NotFound

            raise NotFound(f"no request {batch_id}/{index}")
        return _request(rows[0])

    def by_inference_id(self, inference_id: str) -> AsyncRequest | None:
        rows = self._query(f"SELECT {_PUBLIC} FROM requests WHERE inference_id = ?"
                           " ORDER BY queued_at DESC LIMIT 1", (inference_id,))
        return _request(rows[0]) if rows else None

    def unsent(self, batch_id: str) -> list[Submission]:
        rows = self._query(
            "SELECT r.*, b.input_prefix FROM requests r JOIN batches b USING (batch_id)"
            " WHERE r.batch_id = ? AND r.status IN (?, ?) ORDER BY r.idx",
            (batch_id, *[s.value for s in UNSENT]),
        )
        return [
            Submission(
                batch_id=row["batch_id"], index=row["idx"], inference_id=row["inference_id"],
                endpoint=row["endpoint"], source=row["source"], source_ref=row["source_ref"],
                body=row["body"], size=row["size"], sha256=row["sha256"],
                content_type=row["content_type"], accept=row["accept"],
                custom_attributes=row["custom_attributes"],
                invocation_timeout=row["invocation_timeout"], request_ttl=row["request_ttl"],
                filename=row["filename"], input_location=row["input_location"],
                input_prefix=row["input_prefix"],
            )
            for row in rows
        ]

    # -- transitions -----------------------------------------------------------------------

    def mark_submitting(self, batch_id: str, index: int, *,
                        input_location: str | None = None) -> None:
        """Written before the invoke: a row left here was perhaps sent; resume sends it again
        (to the same output key, so a duplicate overwrites rather than doubles)."""
        with self._tx() as db:
            db.execute(
                "UPDATE requests SET status = ?, attempts = attempts + 1,"
                " input_location = COALESCE(?, input_location)"
                " WHERE batch_id = ? AND idx = ? AND status IN (?, ?)",
                (Status.SUBMITTING.value, input_location, batch_id, index,
                 *[s.value for s in UNSENT]),
            )

    def mark_pending(self, batch_id: str, index: int, *, output_location: str | None,
                     failure_location: str | None, submitted_at: float) -> None:
        with self._tx() as db:
            # The watcher may already have seen the output (SNS can beat our own bookkeeping):
            # fill in the locations but never move a finished request back.
            db.execute(
                "UPDATE requests SET output_location = COALESCE(output_location, ?),"
                " failure_location = COALESCE(failure_location, ?), submitted_at = ?,"
                " error = NULL,"
                " status = CASE WHEN status IN (?, ?) THEN ? ELSE status END"
                " WHERE batch_id = ? AND idx = ?",
                (output_location, failure_location, submitted_at,
                 *[s.value for s in UNSENT], Status.PENDING.value, batch_id, index),
            )

    def mark_unsent(self, batch_id: str, index: int, error: str) -> None:
        """A send that may be retried (throttled, unreachable): back to queued, reason kept."""
        with self._tx() as db:
            db.execute(
                "UPDATE requests SET status = ?, error = ? WHERE batch_id = ? AND idx = ?"
                " AND status IN (?, ?)",
                (Status.QUEUED.value, error, batch_id, index, *[s.value for s in UNSENT]),
            )

    def mark_rejected(self, batch_id: str, index: int, error: str) -> None:
        """SageMaker refused the invoke itself (validation, missing endpoint): failed for good."""
        now = self._clock()
        with self._tx() as db:
            db.execute(
                "UPDATE requests SET status = ?, error = ?, finished_at = ?, detected_at = ?"
                " WHERE batch_id = ? AND idx = ? AND status IN (?, ?)",
                (Status.FAILED.value, error, now, now, batch_id, index,
                 *[s.value for s in UNSENT]),
            )

    def mark_finished(self, batch_id: str, index: int, status: Status, *,
                      location: str | None, finished_at: float | None, detected_at: float,
                      error: str | None = None) -> bool:
        """Record an output or failure; False when someone (another watcher) was first."""
        column = "output_location" if status is Status.SUCCEEDED else "failure_location"
        with self._tx() as db:
            cursor = db.execute(
                f"UPDATE requests SET status = ?, {column} = COALESCE(?, {column}),"
                " finished_at = ?, detected_at = ?, error = COALESCE(?, error)"
                " WHERE batch_id = ? AND idx = ? AND status NOT IN (?, ?)",
                (status.value, location, finished_at, detected_at, error, batch_id, index,
                 Status.SUCCEEDED.value, Status.FAILED.value),
            )
            return cursor.rowcount > 0

    def clear(self) -> int:
        """Forget every batch and request (and the watcher's queue); the number of batches."""
        with self._tx() as db:
            count = db.execute("SELECT COUNT(*) FROM batches").fetchone()[0]
            db.execute("DELETE FROM requests")
            db.execute("DELETE FROM batches")
            db.execute("DELETE FROM copies")
            db.execute("DELETE FROM notifications")
            db.execute("DELETE FROM meta WHERE key != 'schema'")
        return int(count)

    # -- SNS notifications, as the watcher read them (SQS deletes them once read) ----------

    def record_notification(self, inference_id: str, message: str) -> None:
        """Keep SageMaker's message for a request (the newest wins), for its timeline."""
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO notifications VALUES (?, ?, ?)",
                       (inference_id, self._clock(), message))

    def notification(self, inference_id: str) -> tuple[float, str] | None:
        """(when the watcher read it, the message) for a request, if one was read."""
        rows = self._query("SELECT received_at, message FROM notifications"
                           " WHERE inference_id = ?", (inference_id,))
        return (rows[0][0], rows[0][1]) if rows else None

    def timeout_facts(self, endpoint: str, since: float,
                      words: Sequence[str]) -> tuple[int | None, int, int]:
        """(the smallest InvocationTimeoutSeconds sent, requests sent, failures whose error
        names a timeout) for an endpoint's requests since `since` — the doctor's evidence."""
        rows = self._query(
            "SELECT MIN(invocation_timeout), COUNT(*) FROM requests"
            " WHERE endpoint = ? AND queued_at >= ? AND submitted_at IS NOT NULL",
            (endpoint, since))
        likes = " OR ".join("error LIKE ?" for _ in words) or "0"
        timed_out = self._query(
            f"SELECT COUNT(*) FROM requests WHERE endpoint = ? AND queued_at >= ?"
            f" AND status = ? AND ({likes})",
            (endpoint, since, Status.FAILED.value, *[f"%{w}%" for w in words]))
        smallest, count = rows[0][0], rows[0][1]
        return (int(smallest) if smallest is not None else None), int(count), \
            int(timed_out[0][0])

    # -- small key/value state (the watcher's queue) ---------------------------------------

    def get_meta(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str | None) -> None:
        with self._tx() as db:
            if value is None:
                db.execute("DELETE FROM meta WHERE key = ?", (key,))
            else:
                db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))


def _request(row: sqlite3.Row) -> AsyncRequest:
    return AsyncRequest(
        batch_id=row["batch_id"], index=row["idx"], inference_id=row["inference_id"],
        endpoint=row["endpoint"], status=Status(row["status"]), source=row["source"],
        source_ref=row["source_ref"], size=row["size"], content_type=row["content_type"],
        input_location=row["input_location"], output_location=row["output_location"],
        failure_location=row["failure_location"], queued_at=row["queued_at"],
        submitted_at=row["submitted_at"], finished_at=row["finished_at"],
        detected_at=row["detected_at"], error=row["error"],
    )
