"""The local data plane: endpoint runtimes, the sagemaker-runtime routes' logic."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from smconsole.local.daemon import backends, constraints, queue
from smconsole.local.daemon.instance import PidRegistry
from smconsole.local.daemon.internal import InternalAws
from smconsole.local.daemon.lifecycle import EndpointRuntime, RuntimeHost
from smconsole.local.daemon.logship import LogShipper
from smconsole.local.daemon.pending import PendingRequests


@dataclass(frozen=True)
class Reply:
    """An HTTP answer the router turns into a WSGI response."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def error(cls, status: int, code: str, message: str, **extra: Any) -> Reply:
        payload = {"message": message, "Message": message, **extra}
        return cls(status, json.dumps(payload).encode(), (
            ("Content-Type", "application/json"), ("x-amzn-ErrorType", code),
        ))


class DataPlane:
    """Owns every endpoint's runtime; the router and the autoscaler call into it."""

    def __init__(self, state_dir: Path, aws: InternalAws) -> None:
        self.state_dir = state_dir
        self.aws = aws
        self.logs = LogShipper(aws)
        self.pids = PidRegistry(state_dir / "instances.pids")
        self.pending = PendingRequests(state_dir / "pending")
        self.runtimes: dict[tuple[str, str], EndpointRuntime] = {}
        self.lock = threading.Lock()
        self.replaying = False
        self.listeners: list[Callable[[], None]] = []
        self.host = RuntimeHost(aws=aws, logs=self.logs, pids=self.pids, pending=self.pending,
                                models_dir=state_dir / "models", work_arrived=self.work_arrived,
                                gone=self.forget)

    def start(self) -> None:
        self.pids.kill_leftovers()
        self.logs.start()

    def work_arrived(self) -> None:
        for listener in self.listeners:
            listener()

    def runtime(self, region: str, name: str) -> EndpointRuntime | None:
        with self.lock:
            return self.runtimes.get((region, name))

    def all_runtimes(self) -> list[EndpointRuntime]:
        with self.lock:
            return list(self.runtimes.values())

    def describe(self) -> dict[str, Any]:
        """What runs where: endpoints, queues, instances (for `local status` and tests)."""
        return {"endpoints": [{
            "region": r.region, "name": r.name, "status": r.status, "queued": len(r.queue),
            "running": len(r.running),
            "variants": [{
                "name": v.name, "desired": v.desired,
                "instances": [{
                    "id": i.id, "state": i.state, "url": i.url, "in_flight": i.in_flight,
                    "pid": i.process.pid if i.process else None,
                } for i in list(v.instances)],
            } for v in list(r.variants.values())],
        } for r in self.all_runtimes()]}

    # --- control-plane hooks -------------------------------------------------------------
    def endpoint_created(self, region: str, name: str) -> None:
        if self.replaying:
            return
        runtime = EndpointRuntime(self.host, region, name)
        with self.lock:
            self.runtimes[(region, name)] = runtime
        runtime.start()

    def endpoint_deleting(self, region: str, name: str) -> None:
        runtime = self.runtime(region, name)
        if runtime is None or self.replaying:
            backends.forget_endpoint(region, name)
            return
        runtime.delete()

    def endpoint_updating(self, region: str, name: str, config_name: str) -> None:
        runtime = self.runtime(region, name)
        if runtime is None or self.replaying:
            backends.point_endpoint_at_config(region, name, config_name)
            return
        runtime.request_update(config_name)

    def capacity_requested(self, region: str, name: str, wanted: dict[str, int]) -> None:
        runtime = self.runtime(region, name)
        if runtime is None:
            return
        for variant, count in wanted.items():
            runtime.set_desired(variant, count)

    def forget(self, runtime: EndpointRuntime) -> None:
        with self.lock:
            if self.runtimes.get((runtime.region, runtime.name)) is runtime:
                del self.runtimes[(runtime.region, runtime.name)]
        backends.forget_endpoint(runtime.region, runtime.name)
        if not runtime.shutting_down:
            self.pending.drop(runtime.region, runtime.name)  # AWS drops a deleted one's queue

    def resume(self, desired: dict[str, dict[str, int]] | None = None) -> None:
        """After replay: bring up every endpoint moto knows, as if just created."""
        self.replaying = False
        for region, name in backends.all_endpoints():
            runtime = EndpointRuntime(self.host, region, name)
            with self.lock:
                self.runtimes[(region, name)] = runtime
            # Queued before the instances start: they wait for the first healthy one.
            restored = self.pending.load(region, name)
            for request in restored:
                runtime.enqueue(request)
            if restored:
                print(f"smconsole-local: {name}: {len(restored)} async request(s) "
                      "still to answer", flush=True)
            runtime.start(restored_desired=(desired or {}).get(f"{region}/{name}") or {})
        for region, name in self.pending.endpoints():
            if self.runtime(region, name) is None:
                self.pending.drop(region, name)  # its endpoint is gone

    def shutdown(self) -> None:
        threads = [threading.Thread(target=r.shutdown, daemon=True) for r in self.all_runtimes()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=40)
        self.logs.stop()

    # --- sagemaker-runtime ---------------------------------------------------------------
    def _known(self, region: str, name: str) -> EndpointRuntime | Reply:
        runtime = self.runtime(region, name)
        record = backends.endpoint(region, name)
        if runtime is None or record is None:
            arn = f"arn:aws:sagemaker:{region}:{backends.account_id()}:endpoint/{name.lower()}"
            return Reply.error(400, "ValidationError", f"Endpoint {name} of account "
                               f"{backends.account_id()} not found. ({arn})")
        if runtime.status in ("Creating", "Failed", "Deleting"):
            return Reply.error(400, "ValidationError",
                               f"Endpoint {name} is in status {runtime.status}; it must be "
                               "InService or Updating to be invoked.")
        return runtime

    def invoke_async(self, region: str, name: str, headers: dict[str, str],
                     body: bytes) -> Reply:
        problems = constraints.async_header_problems(name, headers)
        if problems:
            return Reply.error(400, "ValidationError", constraints.message(problems))
        found = self._known(region, name)
        if isinstance(found, Reply):
            return found
        runtime = found
        if runtime.async_config is None:
            return Reply.error(400, "ValidationError",
                               f"Endpoint {name} is not an asynchronous inference endpoint.")
        input_location = headers.get("x-amzn-sagemaker-inputlocation")
        if input_location and body:
            return Reply.error(400, "ValidationError",
                               "Provide either InputLocation or Body, not both.")
        if not input_location and not body:
            return Reply.error(400, "ValidationError", "InputLocation or Body is required.")
        if len(body) > queue.MAX_INLINE_BODY:
            return Reply.error(400, "ValidationError",
                               f"Body is {len(body)} bytes; inline payloads are limited to "
                               f"{queue.MAX_INLINE_BODY} bytes (use InputLocation).")
        if input_location and not input_location.startswith("s3://"):
            return Reply.error(400, "ValidationError",
                               f"InputLocation must be an s3:// URI, got {input_location!r}.")
        try:
            ttl = int(headers.get("x-amzn-sagemaker-requestttlseconds") or queue.DEFAULT_TTL_S)
            timeout = int(headers.get("x-amzn-sagemaker-invocationtimeoutseconds")
                          or queue.DEFAULT_INVOCATION_TIMEOUT_S)
        except ValueError:
            return Reply.error(400, "ValidationError",
                               "RequestTTLSeconds and InvocationTimeoutSeconds are integers.")
        if not 60 <= ttl <= 21600:
            return Reply.error(400, "ValidationError",
                               "RequestTTLSeconds must be between 60 and 21600.")
        if not 1 <= timeout <= 3600:
            return Reply.error(400, "ValidationError",
                               "InvocationTimeoutSeconds must be between 1 and 3600.")
        inference_id = headers.get("x-amzn-sagemaker-inference-id") or queue.new_inference_id()
        out, fail = queue.output_locations(
            runtime.output_config, inference_id,
            headers.get("x-amzn-sagemaker-s3outputpathextension"),
            headers.get("x-amzn-sagemaker-filename"),
        )
        request = queue.QueuedRequest(
            inference_id=inference_id, received=time.time(), input_location=input_location,
            body=None if input_location else body,
            content_type=headers.get("x-amzn-sagemaker-content-type"),
            accept=headers.get("x-amzn-sagemaker-accept"),
            custom_attributes=headers.get("x-amzn-sagemaker-custom-attributes"),
            ttl_s=ttl, invocation_timeout_s=timeout, output_location=out, failure_location=fail,
        )
        self.pending.add(region, name, request)  # on disk before the 202: a restart keeps it
        runtime.enqueue(request)
        return Reply(202, json.dumps({"InferenceId": inference_id}).encode(), (
            ("Content-Type", "application/json"),
            ("X-Amzn-SageMaker-OutputLocation", out),
            ("X-Amzn-SageMaker-FailureLocation", fail),
        ))

    def invoke(self, region: str, name: str, headers: dict[str, str], body: bytes) -> Reply:
        problems = constraints.invoke_header_problems(name, headers)
        if problems:
            return Reply.error(400, "ValidationError", constraints.message(problems))
        found = self._known(region, name)
        if isinstance(found, Reply):
            return found
        runtime = found
        if runtime.async_config is not None:
            return Reply.error(400, "ValidationError", f"Endpoint {name} is an asynchronous "
                               "endpoint: use InvokeEndpointAsync.")
        instance = runtime.pick_instance()
        if instance is None:
            return Reply.error(400, "ValidationError",
                               f"Endpoint {name} has no instance in service.")
        forward = {"Content-Type": headers.get("content-type", "application/octet-stream")}
        for name_ in ("accept", "x-amzn-sagemaker-custom-attributes",
                      "x-amzn-sagemaker-inference-id"):
            if headers.get(name_):
                forward[name_] = headers[name_]
        instance.acquire()
        try:
            response = httpx.post(f"{instance.url}/invocations", content=body, headers=forward,
                                  timeout=httpx.Timeout(60.0, connect=5.0))
        except httpx.TimeoutException:
            return Reply.error(424, "ModelError", "The model did not answer within 60 seconds.",
                               OriginalStatusCode=408)
        except httpx.HTTPError as exc:
            return Reply.error(500, "InternalFailure", f"The container is unreachable: {exc}")
        finally:
            instance.release()
        if not 200 <= response.status_code < 300:
            stream = (f"arn:aws:logs:{region}:{backends.account_id()}:log-group:"
                      f"{runtime.log_group}")
            return Reply.error(
                424, "ModelError",
                f"Received server error ({response.status_code}) from primary with message "
                f"\"{response.text[:512]}\". See {stream} for more information.",
                OriginalStatusCode=response.status_code, OriginalMessage=response.text[:4096],
                LogStreamArn=stream,
            )
        reply = [("Content-Type", response.headers.get("content-type",
                                                       "application/octet-stream")),
                 ("x-Amzn-Invoked-Production-Variant", instance.variant)]
        custom = response.headers.get("x-amzn-sagemaker-custom-attributes")
        if custom:
            reply.append(("X-Amzn-SageMaker-Custom-Attributes", custom))
        return Reply(200, response.content, tuple(reply))
