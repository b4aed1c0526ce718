"""The service objects one console uses, all built from one AwsSession."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from smconsole.services.endpoints import EndpointsService
from smconsole.services.logs import LogsService
from smconsole.services.metrics import MetricsService
from smconsole.session import AwsSession

log = logging.getLogger(__name__)


@dataclass
class Services:
    """What the app is given. The operations services (requests, outputs, autoscaling, deploy,
    container, cost) are built on first use: they import more and open the ledger, and the console
    should be on screen before that. One that cannot be built is None, and its view says so.
    """

    session: AwsSession
    endpoints: EndpointsService
    logs: LogsService
    metrics: MetricsService
    operations: bool = True
    _built: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

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
        return cls(
            session=session, endpoints=EndpointsService(session), logs=LogsService(session),
            metrics=MetricsService(session), operations=operations,
        )

    @property
    def ledger(self) -> Any | None:
        return self._get("ledger")

    @property
    def requests(self) -> Any | None:
        return self._get("requests")

    @property
    def outputs(self) -> Any | None:
        return self._get("outputs")

    @property
    def autoscaling(self) -> Any | None:
        return self._get("autoscaling")

    @property
    def deploy(self) -> Any | None:
        return self._get("deploy")

    @property
    def container(self) -> Any | None:
        return self._get("container")

    @property
    def cost(self) -> Any | None:
        return self._get("cost")

    @property
    def timeline(self) -> Any | None:
        return self._get("timeline")

    @property
    def doctor(self) -> Any | None:
        return self._get("doctor")

    def _get(self, name: str) -> Any | None:
        if not self.operations:
            return None
        with self._lock:
            return self._make_dependency(name)

    def _make(self, name: str) -> Any:
        session = self.session
        if name == "ledger":
            from smconsole.ledger import Ledger

            return Ledger()
        if name == "requests":
            from smconsole.services.requests import RequestService

            ledger = self._make_dependency("ledger")
            return None if ledger is None else RequestService(session, ledger)
        if name == "outputs":
            from smconsole.services.watcher import OutputWatcher

            ledger = self._make_dependency("ledger")
            return None if ledger is None else OutputWatcher(session, ledger)
        if name == "autoscaling":
            from smconsole.services.autoscaling import AutoscalingService

            return AutoscalingService(session)
        if name == "deploy":
            from smconsole.services.deploy import DeployService

            return DeployService(session, autoscaling=self._make_dependency("autoscaling"))
        if name == "cost":
            from smconsole.services.cost import CostService

            return CostService(session)
        if name == "container":
            from smconsole.services.container import ContainerService

            return ContainerService(session)
        if name == "timeline":
            from smconsole.services.timeline import TimelineService

            ledger = self._make_dependency("ledger")
            return None if ledger is None else TimelineService(session, ledger)
        if name == "doctor":
            from smconsole.services.doctor import DoctorService

            return DoctorService(session, autoscaling=self._make_dependency("autoscaling"),
                                 deploy=self._make_dependency("deploy"),
                                 ledger=self._make_dependency("ledger"))
        raise KeyError(name)

    def _make_dependency(self, name: str) -> Any | None:
        # Called with the lock held by _get.
        if name not in self._built:
            try:
                self._built[name] = self._make(name)
            except Exception:  # one missing service must not stop the console
                log.exception("%s service unavailable", name)
                self._built[name] = None
        return self._built[name]

    def close(self) -> None:
        ledger = self._built.get("ledger")
        if ledger is not None:
            ledger.close()
