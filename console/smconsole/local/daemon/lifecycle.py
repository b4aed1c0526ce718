"""One endpoint's local life: its instances, its async queue, its status in moto's records."""

from __future__ import annotations

import collections
import os
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smconsole.local.daemon import backends, deliver, modeldata, notify, queue, statedir
from smconsole.local.daemon.instance import Instance, PidRegistry
from smconsole.local.daemon.internal import InternalAws
from smconsole.local.daemon.logship import LogShipper
from smconsole.local.daemon.pending import PendingRequests

DEFAULT_HEALTH_TIMEOUT_S = 600
HEALTH_TIMEOUT_ENV = "SMCONSOLE_LOCAL_HEALTH_TIMEOUT_S"
DEFAULT_MAX_CONCURRENCY = 4
RESTART_BACKOFF_S = 5.0
FAILURE_REASON_MAX = 1024
LINE_IN_REASON = 300
INSTANCE_KEY = "smconsole-local"  # the dummy access key pair instances get
MAX_UNSENT = 5  # connection refusals by live-looking instances before a request fails


@dataclass(frozen=True)
class RuntimeHost:
    """What an endpoint's runtime needs from the daemon around it, and nothing more.

    The runtime never sees the data plane that owns it: it is handed the shared services and
    two callbacks, so lifecycle does not import invoke (and invoke alone decides what a
    runtime's end means for the daemon's table of endpoints).
    """

    aws: InternalAws
    logs: LogShipper
    pids: PidRegistry
    pending: PendingRequests
    models_dir: Path  # <state>/models: one folder per region and model below it
    work_arrived: Callable[[], None]  # a request was queued (the autoscaler acts at once)
    gone: Callable[[EndpointRuntime], None]  # torn down: drop it from the daemon's table


@dataclass(frozen=True)
class Completion:
    """One finished async request, for the per-variant invocation metrics."""

    variant: str
    succeeded: bool
    expired: bool
    backlog_ms: float
    processing_ms: float


@dataclass
class Variant:
    """A production variant and the instances that serve it."""

    name: str
    spec: dict[str, Any]
    container: dict[str, Any]
    model_name: str
    desired: int
    instances: list[Instance] = field(default_factory=list)
    failures: int = 0
    next_start: float = 0.0
    served: set[str] = field(default_factory=set)  # ids of instances that passed /ping

    @property
    def health_timeout_s(self) -> float:
        # AWS's minimum is 60 s; the model's environment may ask the local stack for less.
        local = (self.container.get("Environment") or {}).get(HEALTH_TIMEOUT_ENV)
        if local:
            return float(local)
        return float(self.spec.get("ContainerStartupHealthCheckTimeoutInSeconds")
                     or DEFAULT_HEALTH_TIMEOUT_S)

    def live(self) -> list[Instance]:
        return [i for i in self.instances if i.state in ("Pending", "Healthy")]

    def healthy(self) -> list[Instance]:
        return [i for i in self.instances if i.state == "Healthy"]

    def current(self) -> int:
        """AWS's CurrentInstanceCount: serving instances, and served ones still draining."""
        return sum(1 for i in self.instances if i.state == "Healthy" or (
            i.state == "Stopping" and i.id in self.served))

    def settled(self) -> bool:
        return (len(self.healthy()) == self.desired and len(self.live()) == self.desired
                and not any(i.state == "Stopping" for i in self.instances))


class EndpointRuntime:
    """Drives one endpoint: Creating -> InService <-> Updating, Failed, Deleting -> gone."""

    def __init__(self, host: RuntimeHost, region: str, name: str) -> None:
        self.host = host
        self.region = region
        self.name = name
        self.log_group = f"/aws/sagemaker/Endpoints/{name}"
        self.config_name = ""
        self.variants: dict[str, Variant] = {}
        self.async_config: dict[str, Any] | None = None
        self.queue: collections.deque[queue.QueuedRequest] = collections.deque()
        self.running: set[str] = set()
        self.running_since: dict[str, float] = {}
        self.completed: list[Completion] = []  # drained by the metrics publisher
        self.cond = threading.Condition()
        self.status = "Creating"
        self.deleting = False
        self.shutting_down = False  # daemon exit: the endpoint and its queue live on
        self.pending_update: str | None = None
        self.update_started: float | None = None
        self.pending_variants: dict[str, Variant] | None = None  # the update's, while it starts
        self.last_activity = time.time()
        self._counts = threading.Lock()  # desired counts against the status they imply
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"endpoint-{name}", daemon=True)

    # --- moto's record -------------------------------------------------------------------
    def _record(self) -> Any:
        return backends.endpoint(self.region, self.name)

    def _set_status(self, status: str, reason: str | None = None) -> None:
        if self.deleting and status != "Deleting":
            return  # a cancelled start or update must not hide the deletion
        self.status = status
        backends.set_endpoint_status(self.region, self.name, status,
                                     None if reason is None else reason[:FAILURE_REASON_MAX])

    def sync_counts(self) -> None:
        record = self._record()
        if record is None:
            return
        for entry in record.production_variants:
            variant = self.variants.get(entry.get("VariantName"))
            if variant is None:
                continue
            entry["CurrentInstanceCount"] = variant.current()
            entry["DesiredInstanceCount"] = variant.desired
            entry.setdefault("CurrentWeight", float(variant.spec.get("InitialVariantWeight", 1.0)))
            entry.setdefault("DesiredWeight", entry["CurrentWeight"])

    # --- configuration -------------------------------------------------------------------
    def _load_config(self, config_name: str) -> tuple[dict[str, Variant], dict[str, Any] | None]:
        config = backends.endpoint_config(self.region, config_name)
        if config is None:
            raise RuntimeError(f"endpoint configuration {config_name} is gone")
        variants: dict[str, Variant] = {}
        for spec in config.production_variants:
            model = backends.model(self.region, spec["ModelName"])
            if model is None:
                raise RuntimeError(f"model {spec['ModelName']} is gone")
            variants[spec["VariantName"]] = Variant(
                name=spec["VariantName"], spec=dict(spec),
                container=modeldata.primary_container(model), model_name=spec["ModelName"],
                desired=int(spec.get("InitialInstanceCount") or 0),
            )
        return variants, config.async_inference_config or None

    @property
    def max_concurrency(self) -> int:
        client = (self.async_config or {}).get("ClientConfig") or {}
        return int(client.get("MaxConcurrentInvocationsPerInstance") or DEFAULT_MAX_CONCURRENCY)

    @property
    def output_config(self) -> dict[str, Any]:
        return (self.async_config or {}).get("OutputConfig") or {}

    # --- lifecycle -----------------------------------------------------------------------
    def start(self, *, restored_desired: dict[str, int] | None = None) -> None:
        record = self._record()
        self.config_name = record.endpoint_config_name
        self._restored = restored_desired or {}
        self._restored_start = restored_desired is not None
        self._set_status("Creating")
        self._thread.start()

    def _run(self) -> None:
        try:
            self.variants, self.async_config = self._load_config(self.config_name)
            if not self._restored_start:  # a daemon restart is no new deployment
                self._test_notification(self.async_config)
            for name, count in self._restored.items():
                if name in self.variants:
                    self.variants[name].desired = count
            self.sync_counts()
            failure = self._bring_up(self.variants)
            if failure:
                self._stop_all(self.variants)
                self.sync_counts()
                self._set_status("Failed", failure)
            else:
                self._set_status("InService")
                while not self.deleting:
                    if self.pending_update:
                        self._apply_update(self.pending_update)
                        self.pending_update = self.update_started = None
                    self._reconcile()
                    self._wake.wait(0.5)
                    self._wake.clear()
        except Exception as exc:  # noqa: BLE001 - becomes the endpoint's FailureReason
            traceback.print_exc()
            self._set_status("Failed", f"local stack error: {exc}")
        while not self.deleting:
            self._wake.wait(1.0)
            self._wake.clear()
        self._teardown()

    def _bring_up(self, variants: dict[str, Variant]) -> str | None:
        """Start each variant's instances and wait until all answer /ping; else why not."""
        results: dict[str, str | None] = {}
        threads = []
        for variant in variants.values():
            for _ in range(variant.desired):
                instance = self._spawn(variant)
                if isinstance(instance, str):
                    return instance
                thread = threading.Thread(
                    target=lambda v=variant, i=instance: results.__setitem__(
                        i.id, self._await_healthy(v, i)),
                    daemon=True,
                )
                thread.start()
                threads.append(thread)
        for thread in threads:
            thread.join()
        for variant in variants.values():
            for instance in variant.instances:
                reason = results.get(instance.id)
                if reason:
                    return self._failure_reason(variant, instance, reason)
        return None

    def _failure_reason(self, variant: Variant, instance: Instance, why: str) -> str:
        """SageMaker's wording plus the container's last lines, newest kept, within 1024."""
        head = (f"The primary container for production variant {variant.name} did not pass "
                f"the ping health check: {why}. Last log lines: ")
        lines = [line.strip()[:LINE_IN_REASON] for line in instance.last_lines(8)
                 if line.strip()]
        while lines and len(head) + len(" | ".join(lines)) > FAILURE_REASON_MAX:
            lines.pop(0)
        return head + (" | ".join(lines) or "(none)")

    def _spawn(self, variant: Variant) -> Instance | str:
        """A started instance, or why the model could not be prepared."""
        root = self.host.models_dir / self.region / variant.model_name
        try:
            modeldata.inside(self.host.models_dir, f"{self.region}/{variant.model_name}",
                             f"the model name {variant.model_name!r}")  # kept from before
            model_dir = modeldata.prepare(self.host.aws, self.region, variant.container, root)
        except Exception as exc:  # noqa: BLE001 - a bad artifact is the endpoint's failure
            return (f"Failed to download or unpack the model data for variant {variant.name}"
                    f"{modeldata.describe_source(variant.container)}: {exc}")
        # As SageMaker hands a container its execution role: this stack's URL and keys that
        # are good only here, so s3:// inputs read local S3; the model's Environment still wins.
        env = {"AWS_ENDPOINT_URL": self.host.aws.url, "AWS_ACCESS_KEY_ID": INSTANCE_KEY,
               "AWS_SECRET_ACCESS_KEY": INSTANCE_KEY, "AWS_DEFAULT_REGION": self.region,
               "AWS_REGION": self.region, "AWS_CONFIG_FILE": os.devnull,
               "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
               statedir.STATE_ENV: str(self.host.models_dir.parent.resolve())}
        env.update(modeldata.container_environment(variant.container, Path(model_dir)))
        instance = Instance(variant.name, env, on_log=self._on_log,
                            pid_registry=self.host.pids, on_exit=self._instance_exited)
        variant.instances.append(instance)
        self.host.logs.add(self.region, self.log_group, instance.stream_name,
                            [(f"smconsole-local: starting instance {instance.id} on port "
                              f"{instance.port} (MODEL_DIR={env['MODEL_DIR']})")])
        instance.start()
        return instance

    def _await_healthy(self, variant: Variant, instance: Instance) -> str | None:
        reason = instance.wait_healthy(variant.health_timeout_s, lambda: self.deleting)
        if reason is None:
            variant.served.add(instance.id)
            for n in range(self.max_concurrency):
                threading.Thread(target=self._work, args=(instance,), daemon=True,
                                 name=f"work-{instance.id}-{n}").start()
            self.sync_counts()
        else:
            instance.state = "Failed"
            threading.Thread(target=instance.stop, kwargs={"drain_s": 0}, daemon=True).start()
        return reason

    def _instance_exited(self, instance: Instance, code: int) -> None:
        """The process ended (its own wait returned): no worker sends it another request."""
        with self.cond:
            if instance.state != "Healthy":
                return  # stopped by us, still starting (wait_healthy reports it), or known
            instance.state = "Failed"
            self.cond.notify_all()  # its idle workers leave at once
        self.host.logs.add(self.region, self.log_group, instance.stream_name, [
            f"smconsole-local: instance {instance.id} exited with code {code}; replacing it"])
        self._wake.set()

    def _data_log(self, instance: Instance, at: float, event: str,
                  request: queue.QueuedRequest, *fields: str) -> None:
        """One line per request step in `<variant>/<instance>/data-log` (docs/local-stack.md):
        `<time> <event> inference_id=<id> [key=value ...]`, the free-text reason last."""
        line = " ".join((notify.iso(at), event, f"inference_id={request.inference_id}",
                         *fields))
        self.host.logs.add(self.region, self.log_group, f"{instance.stream_name}/data-log",
                            [line], at=at)

    def _on_log(self, instance: Instance, lines: list[str]) -> None:
        self.host.logs.add(self.region, self.log_group, instance.stream_name, lines)

    def _expire_queued(self) -> None:
        """Requests past RequestTTLSeconds fail even when no instance ever takes them."""
        with self.cond:
            expired = [r for r in self.queue if r.expired]
            for request in expired:
                self.queue.remove(request)
        for request in expired:
            outcome = queue.run(request, None, self.host.aws, self.region)
            try:
                self._deliver(request, outcome)
            except Exception:  # noqa: BLE001 - the next request must still be looked at
                traceback.print_exc()
            with self.cond:
                self.completed.append(Completion(
                    next(iter(self.variants), "AllTraffic"), False, True,
                    (time.time() - request.received) * 1000, 0.0))

    def _reconcile(self) -> None:
        """Replace dead instances and follow each variant's desired count."""
        if self.queue and self.async_config is not None:
            self._expire_queued()
        now = time.time()
        for variant in self.variants.values():
            for instance in list(variant.instances):
                if instance.state == "Healthy" and instance.exited() is not None:
                    self._instance_exited(instance, instance.exited() or 0)
                if instance.state in ("Failed", "Stopped"):
                    if instance.state == "Failed":
                        variant.failures += 1
                        variant.next_start = now + RESTART_BACKOFF_S * min(variant.failures - 1, 6)
                    variant.instances.remove(instance)
                    variant.served.discard(instance.id)
            live = variant.live()
            if len(live) < variant.desired and now >= variant.next_start:
                for _ in range(variant.desired - len(live)):
                    instance = self._spawn(variant)
                    if isinstance(instance, str):
                        variant.failures += 1
                        variant.next_start = now + RESTART_BACKOFF_S * min(variant.failures - 1, 6)
                        break
                    threading.Thread(target=self._await_and_count, args=(variant, instance),
                                     daemon=True).start()
            elif len(live) > variant.desired:
                # Pending ones first, then the idlest: scale-in never cuts work short.
                surplus = sorted(live, key=lambda i: (i.state == "Healthy", i.in_flight))
                for instance in surplus[: len(live) - variant.desired]:
                    instance.state = "Stopping"
                    threading.Thread(target=instance.stop, daemon=True).start()
                with self.cond:
                    self.cond.notify_all()
        with self._counts:
            self.sync_counts()
            settled = all(v.settled() for v in self.variants.values())
            if not self.deleting:
                wanted = "InService" if settled else "Updating"
                if self.status != wanted:
                    self._set_status(wanted)

    def _await_and_count(self, variant: Variant, instance: Instance) -> None:
        if self._await_healthy(variant, instance) is None:
            variant.failures = 0
        self._wake.set()

    def set_desired(self, variant_name: str, count: int) -> None:
        variant = self.variants.get(variant_name)
        if variant is not None:
            with self._counts:
                variant.desired = count
                self.sync_counts()
                # AWS reads Updating from the call on: a waiter must not see InService early.
                if self.status == "InService" and not variant.settled():
                    self._set_status("Updating")
            self._wake.set()

    def request_update(self, config_name: str) -> None:
        self._set_status("Updating")
        self.update_started = time.time()
        self.pending_update = config_name
        self._wake.set()

    def _apply_update(self, config_name: str) -> None:
        try:
            new_variants, new_async = self._load_config(config_name)
        except RuntimeError as exc:
            self._set_status("InService", f"Update failed: {exc}")
            return
        self._test_notification(new_async)
        self.pending_variants = new_variants
        try:
            failure = self._bring_up(new_variants)
        finally:
            self.pending_variants = None
        if failure:
            self._stop_all(new_variants)
            self._set_status("InService", f"Update failed and was rolled back: {failure}")
            return
        old = self.variants
        self.variants, self.async_config, self.config_name = new_variants, new_async, config_name
        backends.point_endpoint_at_config(self.region, self.name, config_name)
        self.sync_counts()
        with self.cond:
            self.cond.notify_all()
        threading.Thread(target=self._stop_all, args=(old,), daemon=True).start()
        self._set_status("InService")

    def _test_notification(self, async_config: dict[str, Any] | None) -> None:
        """SageMaker's TestNotification to each configured topic, as it deploys."""
        config = ((async_config or {}).get("OutputConfig") or {}).get("NotificationConfig") or {}
        for topic in sorted({config.get("SuccessTopic"), config.get("ErrorTopic")} - {None, ""}):
            try:
                self.host.aws.client("sns", self.region).publish(
                    TopicArn=topic, Message=notify.dumps(notify.test_message(
                        region=self.region, endpoint=self.name, now=time.time())))
            except Exception as exc:  # noqa: BLE001 - a missing topic must not fail the deploy
                self.host.logs.add(self.region, self.log_group, "smconsole-local", [
                    f"smconsole-local: TestNotification to {topic} failed: {exc}"])

    def _stop_all(self, variants: dict[str, Variant]) -> None:
        instances = [i for v in variants.values() for i in v.instances]
        for instance in instances:
            instance.state = "Stopping"
        with self.cond:
            self.cond.notify_all()
        threads = [threading.Thread(target=i.stop, daemon=True) for i in instances]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def delete(self) -> None:
        self._set_status("Deleting")
        self.deleting = True
        self._wake.set()
        with self.cond:
            self.cond.notify_all()
        if not self._thread.is_alive() and not self._thread.ident:
            threading.Thread(target=self._teardown, daemon=True).start()

    def _teardown(self) -> None:
        self._stop_all(self.variants)
        for variant in self.variants.values():
            variant.instances.clear()
        self.host.gone(self)

    def shutdown(self) -> None:
        """Daemon exit: stop the processes, leave moto's record and the queued requests alone."""
        self.shutting_down = True
        self.deleting = True
        self._wake.set()
        self._stop_all(self.variants)

    # --- async requests ------------------------------------------------------------------
    def enqueue(self, request: queue.QueuedRequest) -> None:
        with self.cond:
            self.queue.append(request)
            self.cond.notify()
        self.last_activity = time.time()
        self.host.work_arrived()

    def _next(self, instance: Instance) -> queue.QueuedRequest | None:
        with self.cond:
            while True:
                if instance.state != "Healthy" or self.deleting:
                    return None
                if self.queue:
                    request = self.queue.popleft()
                    self.running.add(request.inference_id)
                    self.running_since[request.inference_id] = request.received
                    instance.acquire()
                    return request
                self.cond.wait(1.0)

    def _deliver(self, request: queue.QueuedRequest, outcome: queue.InvocationResult) -> None:
        """Write the output or failure (and notify); only then is the request off the disk."""
        deliver.deliver(request, outcome, aws=self.host.aws, region=self.region,
                        endpoint=self.name, output_config=self.output_config)
        self.host.pending.remove(self.region, self.name, request)

    def _work(self, instance: Instance) -> None:
        while True:
            request = self._next(instance)
            if request is None:
                return
            requeued = False
            try:
                request.started = time.time()
                expired = request.expired
                self._data_log(instance, request.received, "queued", request)
                self._data_log(instance, request.started, "started", request,
                               f"waited_ms={(request.started - request.received) * 1000:.0f}")
                outcome = queue.run(request, instance, self.host.aws, self.region)
                done = time.time()
                if not outcome.sent and self._requeue(request, instance):
                    requeued = True
                    continue
                self._deliver(request, outcome)
                took = f"processing_ms={(done - request.started) * 1000:.0f}"
                if outcome.succeeded:
                    self._data_log(instance, done, "finished", request, took,
                                   f"output={request.output_location}")
                else:
                    self._data_log(instance, done, "failed", request, took,
                                   f"failure={request.failure_location}",
                                   f"reason={outcome.failure_reason or ''}")
                with self.cond:
                    self.completed.append(Completion(
                        instance.variant, outcome.succeeded, expired,
                        (request.started - request.received) * 1000,
                        (done - request.started) * 1000))
            except Exception:  # noqa: BLE001 - one request's failure must not kill the worker
                traceback.print_exc()
            finally:
                instance.release()
                if not requeued:  # else it is queued again (or another worker's by now)
                    with self.cond:
                        self.running.discard(request.inference_id)
                        self.running_since.pop(request.inference_id, None)
                self.last_activity = time.time()

    def _requeue(self, request: queue.QueuedRequest, instance: Instance) -> bool:
        """Back to the head of the queue, for the next healthy instance; False: fail it."""
        code = instance.wait_exited(1.0)
        if code is None:
            request.unsent += 1  # alive yet refusing: a few more tries, then a failure
            if request.unsent >= MAX_UNSENT:
                return False
            time.sleep(0.2 * request.unsent)
        else:
            self._instance_exited(instance, code)  # this worker takes nothing more from it
        request.started = None
        with self.cond:
            self.running.discard(request.inference_id)
            self.running_since.pop(request.inference_id, None)
            self.queue.appendleft(request)
            self.cond.notify()
        return True

    # --- what metrics and the autoscaler read --------------------------------------------
    def backlog(self) -> int:
        with self.cond:
            return len(self.queue) + len(self.running)

    def oldest_age_s(self) -> float:
        with self.cond:
            times = [r.received for r in self.queue] + list(self.running_since.values())
        return max(0.0, time.time() - min(times)) if times else 0.0

    def drain_completed(self) -> list[Completion]:
        with self.cond:
            done, self.completed = self.completed, []
        return done

    def healthy_count(self) -> int:
        return sum(len(v.healthy()) for v in self.variants.values())

    def pick_instance(self) -> Instance | None:
        healthy = [i for v in self.variants.values() for i in v.healthy()]
        return min(healthy, key=lambda i: i.in_flight) if healthy else None
