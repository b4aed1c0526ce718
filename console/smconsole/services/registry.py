"""The service objects one console uses, all built from one AwsSession."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from smconsole.services.endpoints import EndpointsService
from smconsole.services.logs import LogsService
from smconsole.services.metrics import MetricsService
from smconsole.session import AwsSession

log = logging.getLogger(__name__)


@dataclass
class Services:
    """What the app is given; a field stays None when its service cannot be built here."""

    session: AwsSession
    endpoints: EndpointsService
    logs: LogsService
    metrics: MetricsService
    requests: Any | None = None
    outputs: Any | None = None
    autoscaling: Any | None = None
    deploy: Any | None = None
    container: Any | None = None
    ledger: Any | None = None

    @property
    def label(self) -> str:
        """'local' or profile@region, for the header."""
        return self.session.describe()

    @property
    def read_only(self) -> bool:
        return self.session.read_only

    @classmethod
    def build(cls, session: AwsSession, *, operations: bool = True) -> Services:
        """Every service; `operations=False` leaves out those that open the ledger or docker."""
        services = cls(
            session=session,
            endpoints=EndpointsService(session),
            logs=LogsService(session),
            metrics=MetricsService(session),
        )
        if operations:
            services._add_operations()
        return services

    def _add_operations(self) -> None:
        # Each is optional: one that cannot start leaves its view saying so, not the console dead.
        try:
            from smconsole.services.autoscaling import AutoscalingService
            from smconsole.services.deploy import DeployService

            self.autoscaling = AutoscalingService(self.session)
            self.deploy = DeployService(self.session, autoscaling=self.autoscaling)
        except Exception:
            log.exception("autoscaling/deploy services unavailable")
        try:
            from smconsole.services.container import ContainerService

            self.container = ContainerService(self.session)
        except Exception:
            log.exception("container service unavailable")
        try:
            from smconsole.ledger import Ledger
            from smconsole.services.outputs import OutputWatcher
            from smconsole.services.requests import RequestService

            self.ledger = Ledger()
            self.requests = RequestService(self.session, self.ledger)
            self.outputs = OutputWatcher(self.session, self.ledger)
        except Exception:
            log.exception("requests services unavailable")

    def close(self) -> None:
        if self.ledger is not None:
            self.ledger.close()
