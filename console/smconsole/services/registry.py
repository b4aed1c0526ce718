"""The service objects one console uses, all built from one AwsSession."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from smconsole.services.endpoints import EndpointsService
from smconsole.services.logs import LogsService
from smconsole.services.metrics import MetricsService
from smconsole.session import AwsSession


@dataclass
class Services:
    """What the app is given; fields other issues fill in stay None until their service exists."""

    session: AwsSession
    endpoints: EndpointsService
    logs: LogsService
    metrics: MetricsService
    requests: Any | None = None
    outputs: Any | None = None
    autoscaling: Any | None = None
    deploy: Any | None = None
    container: Any | None = None

    @property
    def label(self) -> str:
        """'local' or profile@region, for the header."""
        return self.session.describe()

    @property
    def read_only(self) -> bool:
        return self.session.read_only

    @classmethod
    def build(cls, session: AwsSession) -> Services:
        return cls(
            session=session,
            endpoints=EndpointsService(session),
            logs=LogsService(session),
            metrics=MetricsService(session),
        )
