"""CloudWatch metric series for the endpoint detail's sparklines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class MetricSeries:
    name: str
    stat: str
    timestamps: tuple[datetime, ...]
    values: tuple[float, ...]
    dimensions: tuple[tuple[str, str], ...] = ()

    @property
    def latest(self) -> float | None:
        return self.values[-1] if self.values else None
