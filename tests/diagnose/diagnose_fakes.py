"""In-memory timeline and doctor services with the same methods the screens call."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from smconsole.models.doctor import EndpointHealth, Finding, Fix, FixPlan, FixResult
from smconsole.models.requests import AsyncRequest, Status
from smconsole.models.timeline import RequestLogLine, Span, StoredObject, Timeline, TimelineStep

T0 = 1_796_000_000.0  # fixed: 2026-11-30T...Z


def failed_timeline() -> Timeline:
    request = AsyncRequest(
        batch_id="nightly-4f2a1c-9be031", index=7, inference_id="nightly-4f2a1c-9be031-000007",
        endpoint="summarizer-prod", status=Status.FAILED, source="inline", source_ref=None,
        size=812, content_type="application/json", input_location=None,
        output_location="s3://out/summarizer-prod/output/nightly-4f2a1c-9be031/000007.out",
        failure_location="s3://out/summarizer-prod/failure/nightly-4f2a1c-9be031/000007.out",
        queued_at=T0, submitted_at=T0 + 0.21, finished_at=T0 + 2.0, detected_at=T0 + 2.6,
        error="model_error: IndexError: index out of range in self")
    rid = request.inference_id
    line = (f'127.0.0.1:51234 - "POST /invocations HTTP/1.1" 500 1412.6ms inference-id={rid}')
    steps = (
        TimelineStep("recorded", T0, "ledger", "batch nightly-4f2a1c-9be031, request 7"),
        TimelineStep("accepted", T0 + 0.18, "InvokeEndpointAsync (SNS receivedTime)",
                     f"InferenceId {rid}, OutputLocation {request.output_location}"),
        TimelineStep("queued", T0 + 0.19, "logs AllTraffic/i-0f3a/data-log",
                     '{"inferenceId": "...", "eventName": "RequestQueued"}'),
        TimelineStep("started", T0 + 0.42, "logs AllTraffic/i-0f3a/data-log",
                     '{"inferenceId": "...", "eventName": "RequestStarted"}'),
        TimelineStep("container", T0 + 1.84, "logs AllTraffic/i-0f3a", line),
        TimelineStep("finished", T0 + 1.85, "logs AllTraffic/i-0f3a/data-log",
                     '{"inferenceId": "...", "eventName": "RequestFailed"}'),
        TimelineStep("written", T0 + 1.0, "s3",
                     f"failure {request.failure_location} (96 bytes, application/json)",
                     precision=1.0),
        TimelineStep("notified", T0 + 1.9, "sns (read by the watcher)",
                     "Failed: ClientError: Received server error (500) from model."),
        TimelineStep("detected", T0 + 2.6, "ledger (watcher)", "failed"),
    )
    spans = (Span("backlog", 0.24, "accepted → started"),
             Span("processing", 1.43, "started → finished"),
             Span("end-to-end", 1.72, "accepted → notified"))
    return Timeline(
        request=request, steps=steps, spans=spans, instance="AllTraffic/i-0f3a",
        instance_missing=None,
        lines=(RequestLogLine(T0 + 1.84, "AllTraffic/i-0f3a", line, "container"),),
        output=StoredObject(request.failure_location or "", 96, "application/json", T0 + 1.0,
                            '{"error":"model_error","message":"IndexError: index out of '
                            'range in self"}', False),
        output_missing=None,
        notification={"invocationStatus": "Failed",
                      "failureReason": "ClientError: Received server error (500) from model."},
        notification_missing=None, log_calls=1)


def pending_timeline() -> Timeline:
    """No data-log lines, not finished: the missing steps say why."""
    full = failed_timeline()
    request = replace(full.request, status=Status.PENDING, finished_at=None, detected_at=None,
                      error=None, inference_id="nightly-4f2a1c-9be031-000008", index=8)
    why = ("no data-log line yet (the request is still pending; lines reach CloudWatch "
           "seconds after they are written)")
    steps = (
        full.steps[0], full.steps[1],
        TimelineStep("queued", None, "logs data-log", missing=why),
        TimelineStep("started", None, "logs data-log", missing=why),
        TimelineStep("container", None, "logs", missing="no line in /aws/sagemaker/Endpoints/"
                                                         "summarizer-prod names it"),
        TimelineStep("finished", None, "logs data-log", missing=why),
        TimelineStep("written", None, "s3", missing="not finished yet (pending)"),
        TimelineStep("notified", None, "sns", missing="not finished yet (pending)"),
        TimelineStep("detected", None, "ledger (watcher)", missing="not finished yet (pending)"),
    )
    return replace(full, request=request, steps=steps, spans=(
        Span("backlog", None, missing="needs a data-log started line (or a container line)"),
        Span("processing", None, missing="no data-log lines and no container line"),
        Span("end-to-end", None, missing="not finished")),
        instance=None, instance_missing="no log line names the request",
        output=None, output_missing="not finished yet (pending)", notification=None,
        notification_missing="not finished yet (pending)")


class FakeTimelines:
    def __init__(self, timelines: dict[str, Timeline]) -> None:
        self.timelines = timelines
        self.calls: list[str] = []

    def timeline(self, ref: str) -> Timeline:
        self.calls.append(ref)
        if ref not in self.timelines:
            from smconsole.errors import NotFound

            raise NotFound(f"no request {ref!r} in the ledger")
        return self.timelines[ref]


def _finding(endpoint: str, code: str, severity: str, title: str, why: str, fix: Fix,
             variant: str | None = "AllTraffic") -> Finding:
    return Finding(endpoint, code, severity, title, why, fix, variant=variant)  # type: ignore[arg-type]


def sample_healths() -> list[EndpointHealth]:
    return [
        EndpointHealth("embedder-dev", "InService", (
            _finding("embedder-dev", "min-zero-never-wakes", "error",
                     "AllTraffic: MinCapacity 0 without the HasBacklogWithoutCapacity step policy",
                     "at zero instances target tracking has nothing to divide the backlog by: "
                     "the endpoint never wakes up (or only past the target)",
                     Fix("scaling", "add the +1 step policy and its alarm on "
                                    "HasBacklogWithoutCapacity >= 1")),
            _finding("embedder-dev", "no-error-topic", "warning", "no ErrorTopic",
                     "nobody is told when a request fails: clients must poll S3 to find out",
                     Fix("manual", "create an SNS topic and name it as the ErrorTopic", (
                         "aws sns create-topic --name embedder-dev-errors",
                         ("deploy spec: async.notifications.error_topic: "
                         "arn:aws:sns:us-east-1:123456789012:embedder-dev-errors"))),
                     variant=None),
        )),
        EndpointHealth("summarizer-prod", "InService", (
            _finding("summarizer-prod", "concurrency-vs-batch", "warning",
                     "MaxConcurrentInvocationsPerInstance 1 far from the container's batch size 64",
                     "1 in flight per instance feeds a batcher of up to 64: its batches stay "
                     "small and the instance idles between them",
                     Fix("deploy", "set MaxConcurrentInvocationsPerInstance to 64"),
                     variant=None),
        )),
        EndpointHealth("translator", "InService", (), skipped=(
            "MaxConcurrentInvocationsPerInstance vs batch size: no container start logged",)),
    ]


@dataclass
class FakeDoctor:
    healths: list[EndpointHealth] = field(default_factory=sample_healths)
    applied: list[str] = field(default_factory=list)
    planned: list[str] = field(default_factory=list)

    def check_all(self, names: list[str] | None = None) -> list[EndpointHealth]:
        return list(self.healths)

    def check(self, name: str, *, quick: bool = False) -> EndpointHealth:
        return next(h for h in self.healths if h.endpoint == name)

    def plan_fix(self, finding: Finding) -> FixPlan:
        self.planned.append(finding.code)
        return FixPlan(finding, ("~ policy scale-out-from-zero: step +1 on alarm",
                                 ("+ alarm embedder-dev-AllTraffic-HasBacklogWithoutCapacity: "
                                 "HasBacklogWithoutCapacity Average >= 1 for 2x60s")))

    def apply_fix(self, plan: FixPlan, progress: Any = None) -> FixResult:
        self.applied.append(plan.finding.code)
        self.healths = [replace(h, findings=tuple(f for f in h.findings
                                                  if f.code != plan.finding.code))
                        for h in self.healths]
        return FixResult(plan.finding, True, "applied 2 change(s)")


@dataclass
class FakeServices:
    timeline: Any = None
    doctor: Any = None
    read_only: bool = False
    label: str = "local"
