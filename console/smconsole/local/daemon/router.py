"""One loopback URL: the sagemaker-runtime routes to the data plane, the rest to moto.

Control-plane calls that moto gets wrong are answered or completed here (the table in
docs/local-stack.md, "Shape"; each gap is pinned by tests/local/test_moto_gaps.py and
test_fidelity.py); every successful state change is journaled for the next start.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterable
from typing import Any

from smconsole.local.daemon import answers, backends, constraints, livetail, shapes, wire
from smconsole.local.daemon.internal import INTERNAL_ENVIRON
from smconsole.local.daemon.invoke import DataPlane, Reply
from smconsole.local.daemon.journal import RECORDED_AT, Journal
from smconsole.local.daemon.scaling import ScalingRecord

HEALTH_PATH = "/_smconsole/health"
STATUS_PATH = "/_smconsole/status"
# A streamed body (Live Tail's event stream) is an iterator of frames instead of bytes.
Response = tuple[int, list[tuple[str, str]], Any]


def _json_error(code: str, message: str, status: int = 400) -> Response:
    body = json.dumps({"__type": code, "message": message}).encode()
    return status, [("Content-Type", "application/x-amz-json-1.1"),
                    ("x-amzn-ErrorType", code)], body


def _not_updatable(region: str, name: str) -> str | None:
    """AWS's refusal of UpdateEndpoint / UpdateEndpointWeightsAndCapacities unless InService
    (None also when the endpoint is unknown: moto's own answer says so)."""
    record = backends.endpoint(region, name)
    if record is None or record.endpoint_status == "InService":
        return None
    arn = f"arn:aws:sagemaker:{region}:{backends.account_id()}:endpoint/{name.lower()}"
    if record.endpoint_status == "Failed":
        return f'Cannot update failed endpoint "{arn}"; delete and recreate it.'
    return f'Cannot update in-progress endpoint "{arn}".'


def _json(payload: dict[str, Any]) -> Response:
    return 200, [("Content-Type", "application/x-amz-json-1.1")], json.dumps(payload).encode()


class Router:
    def __init__(self, moto_app: Any, plane: DataPlane, journal: Journal | None,
                 activities: ScalingRecord, latency_ms: int = 0) -> None:
        self.moto_app = moto_app
        self.plane = plane
        self.journal = journal
        self.activities = activities
        self.latency_s = latency_ms / 1000.0
        self.ready = False

    # --- WSGI ----------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == HEALTH_PATH:
            status, headers, body = 200 if self.ready else 503, [
                ("Content-Type", "application/json")], json.dumps({"ready": self.ready}).encode()
        elif environ.get("PATH_INFO") == STATUS_PATH:
            status, headers, body = 200, [("Content-Type", "application/json")], json.dumps(
                self.plane.describe()).encode()
        else:
            if self.latency_s and not environ.get(INTERNAL_ENVIRON):
                time.sleep(self.latency_s)
            status, headers, body = self.dispatch(environ, _read_body(environ))
        start_response(f"{status} {_reason(status)}", headers)
        return [body] if isinstance(body, bytes) else body

    def dispatch(self, environ: dict[str, Any], body: bytes, *, journal: bool = True) -> Response:
        path = str(environ.get("PATH_INFO", ""))
        call = wire.identify(environ, body)
        runtime = wire.RUNTIME_PATH.match(path)
        if (runtime or call.service == "sagemaker") and not backends.known_region(call.region):
            # The region names folders (models/<region>/...): only moto's own regions.
            return _json_error("InvalidSignatureException",
                               f"Credential should be scoped to a valid region, not "
                               f"'{call.region[:64]}'.", 403)
        if runtime and call.method == "POST" and call.service in ("sagemaker", ""):
            headers = {k[5:].replace("_", "-").lower(): str(v) for k, v in environ.items()
                       if k.startswith("HTTP_")}
            headers["content-type"] = str(environ.get("CONTENT_TYPE", ""))
            name, kind = runtime.group(1), runtime.group(2)
            if kind == "async-invocations":
                reply = self.plane.invoke_async(call.region, name, headers, body)
            else:
                reply = self.plane.invoke(call.region, name, headers, body)
            return _from_reply(reply)
        if call.service == "sagemaker" and call.action == "UpdateEndpointWeightsAndCapacities":
            body = self._keep_weights(call.region, body)
        if call.service == "logs" and call.action == "FilterLogEvents":
            prefixed = _stream_prefix(call.region, body)
            if not isinstance(prefixed, bytes):
                return prefixed
            body = prefixed
        answered = self._intercept(call, body)
        if answered is not None:
            response = answered
        else:
            # One time for the call, live or replayed: CreationTime survives a restart.
            environ.setdefault(RECORDED_AT, time.time())
            response = self._forward(environ, body)
            if 200 <= response[0] < 300:
                self._after(call, body)
                if call.service == "sagemaker":
                    backends.keep_creation_time(call.region, call.action, _loads(body),
                                                float(environ[RECORDED_AT]))
                response = self._complete(call, response)
        if journal and self.journal is not None and 200 <= response[0] < 300 and call.mutating:
            self._journal(call, environ, body)
        return response

    def _forward(self, environ: dict[str, Any], body: bytes) -> Response:
        env = dict(environ)
        env["wsgi.input"] = io.BytesIO(body)
        env["CONTENT_LENGTH"] = str(len(body))
        env.pop("HTTP_TRANSFER_ENCODING", None)
        env.pop("wsgi.input_terminated", None)
        captured: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], *_: Any) -> None:
            captured["status"], captured["headers"] = int(status.split()[0]), headers

        chunks = self.moto_app(env, start_response)
        try:
            data = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close:
                close()
        return captured["status"], list(captured["headers"]), data

    # --- control-plane fixes -------------------------------------------------------------
    def _complete(self, call: wire.Call, response: Response) -> Response:
        """Moto's JSON answer with what AWS adds, held to botocore's output shape."""
        if call.service not in shapes.PRUNED_SERVICES or not call.action:
            return response
        status, headers, data = response
        if call.service == "sagemaker" and call.action == "DescribeEndpoint":
            payload = _loads(data)
            if payload:
                runtime = self.plane.runtime(call.region, payload.get("EndpointName", ""))
                data = json.dumps(answers.describe_endpoint(payload, call.region, runtime),
                                  default=str).encode()
        elif call.service == "application-autoscaling" and \
                call.action == "DescribeScalableTargets":
            payload = _loads(data)
            if payload:
                data = json.dumps(answers.scalable_targets(payload)).encode()
        data = shapes.prune_body(call.service, call.action, data)
        if data is not response[2]:  # moto's Content-Length counted the old body
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            headers.append(("Content-Length", str(len(data))))
        return status, headers, data

    def _intercept(self, call: wire.Call, body: bytes) -> Response | None:
        if call.service == "sagemaker" and call.action:
            return self._sagemaker(call, _loads(body))
        if call.service == "logs" and call.action == "StartLiveTail":
            return self._live_tail(call, _loads(body))
        if call.service == "application-autoscaling" and call.action == \
                "DescribeScalingActivities":
            return _json(self.activities.describe(_loads(body)))
        if call.service == "application-autoscaling" and call.action:
            refused = answers.scaling_refusal(call.action, call.region, _loads(body))
            if refused:
                return _json_error(*refused)
        return None

    def _sagemaker(self, call: wire.Call, params: dict[str, Any]) -> Response | None:
        arn = f"arn:aws:sagemaker:{call.region}:{backends.account_id()}"
        # Names become folders (models/<region>/<model>, pending/<region>/<endpoint>).
        problems = constraints.create_call_problems(call.action, params)
        if problems:
            return _json_error("ValidationException", constraints.message(problems))
        if call.action == "CreateModel" and backends.model(call.region, params.get("ModelName", "")):
            return _json_error("ValidationException", f'Cannot create already existing model '
                               f'"{arn}:model/{params["ModelName"].lower()}".')
        if (call.action == "CreateEndpointConfig"
                and backends.endpoint_config(call.region, params.get("EndpointConfigName", ""))):
            return _json_error(
                "ValidationException", f'Cannot create already existing endpoint configuration '
                f'"{arn}:endpoint-config/{params["EndpointConfigName"].lower()}".')
        if call.action == "CreateEndpoint" and backends.endpoint(call.region,
                                                              params.get("EndpointName", "")):
            return _json_error("ValidationException", f'Cannot create already existing endpoint '
                               f'"{arn}:endpoint/{params["EndpointName"].lower()}".')
        if call.action == "DeleteEndpoint" and backends.endpoint(call.region,
                                                              params.get("EndpointName", "")):
            self.plane.endpoint_deleting(call.region, params["EndpointName"])
            return _json({})
        if call.action == "UpdateEndpoint":
            return self._update_endpoint(call, params)
        if call.action == "UpdateEndpointWeightsAndCapacities":
            # Moto takes it in any status and writes InService, so a waiter would return
            # mid-update on the old config; AWS refuses it until the endpoint is InService.
            refused = _not_updatable(call.region, params.get("EndpointName", ""))
            if refused:
                return _json_error("ValidationException", refused)
        if call.action in answers.LISTED:
            listed = answers.list_summaries(call.action, call.region, params)
            if isinstance(listed, str):
                return _json_error("ValidationException", listed)
            return _json(listed)
        return None

    def _live_tail(self, call: wire.Call, params: dict[str, Any]) -> Response:
        try:
            session = livetail.LiveTail(call.region, params)
        except Exception as exc:  # noqa: BLE001 - moto's validation errors, answered as AWS's
            code = getattr(exc, "error_type", None) or "InvalidParameterException"
            status = int(getattr(exc, "code", 400) or 400)
            return _json_error(code, str(getattr(exc, "message", exc)), status)
        return 200, [("Content-Type", livetail.CONTENT_TYPE)], session.frames()

    def _update_endpoint(self, call: wire.Call, params: dict[str, Any]) -> Response:
        name, config = params.get("EndpointName", ""), params.get("EndpointConfigName", "")
        record = backends.endpoint(call.region, name)
        arn = f"arn:aws:sagemaker:{call.region}:{backends.account_id()}"
        if record is None:
            return _json_error("ValidationException",
                               f'Could not find endpoint "{arn}:endpoint/{name.lower()}".')
        if backends.endpoint_config(call.region, config) is None:
            return _json_error("ValidationException", f'Could not find endpoint configuration '
                               f'"{arn}:endpoint-config/{config.lower()}".')
        refused = _not_updatable(call.region, name)
        if refused:
            return _json_error("ValidationException", refused)
        self.plane.endpoint_updating(call.region, name, config)
        return _json({"EndpointArn": record.arn})

    def _keep_weights(self, region: str, body: bytes) -> bytes:
        """Moto drops a variant's weight when only its count is sent; AWS keeps it."""
        params = _loads(body)
        record = backends.endpoint(region, params.get("EndpointName", ""))
        if record is None:
            return body
        current = {v["VariantName"]: v.get("CurrentWeight") for v in record.production_variants}
        for entry in params.get("DesiredWeightsAndCapacities") or []:
            if entry.get("DesiredWeight") is None:
                entry["DesiredWeight"] = current.get(entry.get("VariantName")) or 1.0
        return json.dumps(params).encode()

    def _after(self, call: wire.Call, body: bytes) -> None:
        if call.service == "sagemaker":
            params = _loads(body)
            if call.action == "CreateEndpoint":
                self.plane.endpoint_created(call.region, params["EndpointName"])
            elif call.action == "UpdateEndpointWeightsAndCapacities":
                wanted = {e["VariantName"]: int(e["DesiredInstanceCount"])
                          for e in params.get("DesiredWeightsAndCapacities") or []
                          if e.get("DesiredInstanceCount") is not None}
                self.plane.capacity_requested(call.region, params["EndpointName"], wanted)
        elif (call.service == "application-autoscaling"
              and call.action == "DeregisterScalableTarget"):
            # AWS deletes a target's policies with it; moto leaves them behind.
            params = _loads(body)
            backends.delete_target_policies(call.region, params.get("ServiceNamespace", ""),
                                            params.get("ResourceId", ""),
                                            params.get("ScalableDimension", ""))

    # --- persistence ---------------------------------------------------------------------
    def _journal(self, call: wire.Call, environ: dict[str, Any], body: bytes) -> None:
        assert self.journal is not None
        if call.action or call.service not in ("s3", ""):
            self.journal.record_request(environ, body)
            return
        parts = call.path.lstrip("/").split("/", 1)
        query = str(environ.get("QUERY_STRING", ""))
        if len(parts) < 2 or not parts[1]:
            self.journal.record_request(environ, body)  # bucket-level: replayable as is
            return
        if "uploads" in query.split("&") or "partNumber=" in query:
            return  # the upload's parts; its completion is journaled as the object
        if call.method == "DELETE" and "uploadId=" in query:
            return
        key = parts[1].encode("latin-1").decode("utf-8", "replace")
        self.journal.record_s3_key(parts[0], key)

    def replay(self) -> tuple[int, int]:
        """Rebuild moto's state from the journal (before the URL is announced)."""
        if self.journal is None:
            return 0, 0
        self.journal.compact()
        self.plane.replaying = True

        def call(environ: dict[str, Any]) -> tuple[int, bytes]:
            status, _, body = self.dispatch(environ, environ["wsgi.input"].read(),
                                            journal=False)
            return status, body

        try:
            return self.journal.replay(call)
        finally:
            self.plane.replaying = False


def _read_body(environ: dict[str, Any]) -> bytes:
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    length = environ.get("CONTENT_LENGTH")
    if length:
        return stream.read(int(length))
    if environ.get("wsgi.input_terminated"):
        return stream.read()
    return b""


def _stream_prefix(region: str, body: bytes) -> bytes | Response:
    """FilterLogEvents' logStreamNamePrefix as the stream names it matches: moto ignores the
    prefix and searches every stream (`aws logs tail --log-stream-name-prefix` read them all)."""
    params = _loads(body)
    prefix = params.pop("logStreamNamePrefix", None)
    if prefix is None:
        return body
    if params.get("logStreamNames"):
        return _json_error("InvalidParameterException", "logStreamNames and "
                           "logStreamNamePrefix cannot both be specified.")
    group = backends.logs(region).groups.get(params.get("logGroupName", ""))
    if group is None:
        return body  # moto's ResourceNotFoundException
    names = sorted(name for name in list(group.streams) if name.startswith(str(prefix)))
    if not names:  # an empty list would mean every stream to moto
        return _json({"events": [], "searchedLogStreams": []})
    params["logStreamNames"] = names
    return json.dumps(params).encode()


def _loads(body: bytes) -> dict[str, Any]:
    try:
        found = json.loads(body or b"{}")
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _from_reply(reply: Reply) -> Response:
    return reply.status, list(reply.headers), reply.body


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
