"""The metrics the daemon publishes, kept across restarts as CloudWatch keeps them.

moto holds metric data in memory only, and the journal does not replay PutMetricData (it is
traffic, not state). Without this file a restart wiped every endpoint's history: the cost view
then counted 0 requests and no backlog for the days before it. Each publish is appended here
with its timestamps; a start puts back what is younger than CloudWatch's 15 days of 1-minute
data, in calls of at most 1,000 datums (PutMetricData's limit), and rewrites the file without
the rest.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

RETENTION = timedelta(days=15)
DATUMS_PER_CALL = 1000
FILE_NAME = "metrics.jsonl"


class DamagedRecord(Exception):
    """A line of the file that cannot be put back (a kill mid-write, a hand edit)."""


class MetricStore:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / FILE_NAME
        self._lock = threading.Lock()

    def record(self, region: str, namespace: str, data: list[dict[str, Any]]) -> None:
        """One published call; every datum carries its Timestamp (a datetime)."""
        line = json.dumps({"region": region, "namespace": namespace, "data": data},
                          default=_iso)
        with self._lock, self.path.open("a") as handle:
            handle.write(line + "\n")

    def replay(self, client_for: Any, *, now: datetime | None = None) -> int:
        """Put the kept datums back through `client_for(region)`'s CloudWatch; how many."""
        if not self.path.is_file():
            return 0
        cutoff = (now or datetime.now(UTC)) - RETENTION
        kept: list[str] = []
        groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
        with self._lock:
            for number, line in enumerate(self.path.read_text(errors="replace").splitlines(), 1):
                try:
                    entry = _parse(line)
                except DamagedRecord as exc:
                    print(f"smconsole-local: {FILE_NAME}:{number}: skipped: {exc}", flush=True)
                    continue
                fresh = [d for d in entry["data"] if d["Timestamp"] >= cutoff]
                if not fresh:
                    continue
                kept.append(line)
                groups.setdefault((entry["region"], entry["namespace"]), []).extend(fresh)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text("".join(line + "\n" for line in kept))
            tmp.replace(self.path)
        total = 0
        for (region, namespace), data in groups.items():
            client = client_for(region)
            for start in range(0, len(data), DATUMS_PER_CALL):
                chunk = data[start:start + DATUMS_PER_CALL]
                try:
                    client.put_metric_data(Namespace=namespace, MetricData=chunk)
                except Exception as exc:  # noqa: BLE001 - one bad call must not stop a start
                    print(f"smconsole-local: {FILE_NAME}: {len(chunk)} {namespace} datums "
                          f"({region}) not restored: {exc}", flush=True)
                    continue
                total += len(chunk)
        return total


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")


def _parse(line: str) -> dict[str, Any]:
    """One stored call, its timestamps as datetimes; DamagedRecord saying what is wrong."""
    try:
        entry = json.loads(line)
    except json.JSONDecodeError:
        raise DamagedRecord("not a JSON record (torn by a kill?)") from None
    if not (isinstance(entry, dict) and isinstance(entry.get("region"), str)
            and isinstance(entry.get("namespace"), str) and isinstance(entry.get("data"), list)):
        raise DamagedRecord("not a metric record")
    for datum in entry["data"]:
        if not (isinstance(datum, dict) and isinstance(datum.get("MetricName"), str)):
            raise DamagedRecord("a datum without a MetricName")
        try:
            stamp = datetime.fromisoformat(str(datum.get("Timestamp")))
        except ValueError:
            raise DamagedRecord(f"bad Timestamp {datum.get('Timestamp')!r}") from None
        datum["Timestamp"] = stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
    return entry
