"""The endpoint doctor: what is wrong with an async endpoint's set-up, why, and the fix.

Facts come from the control plane (endpoint, config, model, autoscaling, alarms), the
container's own log lines (its batch size and model load time), CloudWatch metrics (processing
time), the ledger (the timeouts requests were sent with) and Service Quotas. Fixes the console
can make go through the existing plans — `AutoscalingService.plan/apply` and
`DeployService.plan/deploy` — so each is a diff first and is rolled back if it fails half-way.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from smconsole import errors
from smconsole.models.doctor import EndpointHealth, Finding, Fix, FixPlan, FixResult
from smconsole.models.logs import log_group_for
from smconsole.models.scaling import ScalingState
from smconsole.services.autoscaling import (
    DEFAULT_QUOTAS,
    NAMESPACE,
    STEP_METRIC,
    AutoscalingService,
)
from smconsole.services.logs import RateLimiter, filter_limiter
from smconsole.session import AwsSession
from smconsole.specs.common import split_s3_uri
from smconsole.specs.deploy import MAX_BASE_NAME, DeploySpec
from smconsole.specs.scaling import ScaleOutFromZeroSpec, ScalingSpec, TargetTrackingSpec

# Families whose default inference AMI carries NVIDIA driver 470 (CUDA 11.4).
DRIVER_470_FAMILIES = ("ml.g4dn.", "ml.g5.", "ml.p3.")
OTHER_GPU_FAMILIES = ("ml.g6.", "ml.g6e.", "ml.p4d.", "ml.p4de.", "ml.p5.", "ml.p5e.")
RECOMMENDED_AMI = "al2-ami-sagemaker-inference-gpu-3-1"
# Images known to need CUDA 12 (driver >= 525): the bundled container and tags that say so.
CUDA12_IMAGE = re.compile(r"(smconsole|smc-inference)|cu12|cuda-?12", re.IGNORECASE)
DEFAULT_STARTUP_TIMEOUT_S = 600  # what SageMaker allows /ping to take when the field is unset
DEFAULT_INVOCATION_TIMEOUT_S = 900
LOG_WINDOW = timedelta(days=7)
MAX_LOG_PAGES = 5
SCALE_TO_ZERO = ScalingSpec(
    min_capacity=0, max_capacity=1,
    target_tracking=[TargetTrackingSpec(metric="ApproximateBacklogSizePerInstance", target=5,
                                        scale_in_cooldown=300, scale_out_cooldown=60)],
    scale_out_from_zero=ScaleOutFromZeroSpec(),
)
_READY = re.compile(r"ready: task=\S+.*?max_batch_size=(\d+)")
_TIMEOUT_WORDS = ("InvocationTimeoutSeconds", "timed out", "timeout")


@dataclass
class _Facts:
    """What one examination gathered; `skipped` collects the checks that could not run."""

    name: str
    region: str
    endpoint: dict[str, Any]
    config: dict[str, Any]
    model: dict[str, Any] | None
    scaling: dict[str, ScalingState] = field(default_factory=dict)
    wake_alarms: list[dict[str, Any]] = field(default_factory=list)
    batch_size: int | None = None
    load_seconds: float | None = None
    container_missing: str | None = None
    p99_ms: dict[str, tuple[float, str]] = field(default_factory=dict)
    p99_missing: str | None = None
    sent_timeout: int | None = None
    timed_out: int = 0
    quotas: dict[str, tuple[int, str]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    @property
    def output(self) -> dict[str, Any]:
        return (self.config.get("AsyncInferenceConfig") or {}).get("OutputConfig") or {}

    @property
    def notifications(self) -> dict[str, Any]:
        return self.output.get("NotificationConfig") or {}

    @property
    def max_concurrent(self) -> int | None:
        client = (self.config.get("AsyncInferenceConfig") or {}).get("ClientConfig") or {}
        value = client.get("MaxConcurrentInvocationsPerInstance")
        return int(value) if value else None

    @property
    def variants(self) -> list[dict[str, Any]]:
        return list(self.config.get("ProductionVariants") or [])


class DoctorService:
    """Examines async endpoints; plans and applies the fixes it can make."""

    def __init__(
        self, session: AwsSession, *, autoscaling: AutoscalingService | None = None,
        deploy: Any | None = None, ledger: Any | None = None,
        clock: Callable[[], float] = time.time, limiter: RateLimiter | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._session = session
        self._autoscaling = autoscaling or AutoscalingService(session)
        self._deploy = deploy
        self._ledger = ledger
        self._clock = clock
        self._limiter = limiter or filter_limiter(session)
        self._sleep = sleep
        self._quota_cache: dict[str, tuple[int, str]] | None = None

    @property
    def _sm(self) -> Any:
        return self._session.client("sagemaker")

    def _deploy_service(self) -> Any:
        if self._deploy is None:
            from smconsole.services.deploy import DeployService

            self._deploy = DeployService(self._session, autoscaling=self._autoscaling)
        return self._deploy

    # ---- examining ----------------------------------------------------------------------

    def check_all(self, names: list[str] | None = None) -> list[EndpointHealth]:
        """Every endpoint (or the named ones); real-time endpoints are reported as skipped."""
        if names is None:
            names = []
            kwargs: dict[str, Any] = {"MaxResults": 100}
            while True:
                page = self._sm.list_endpoints(**kwargs)
                names += [e["EndpointName"] for e in page.get("Endpoints", [])]
                if not page.get("NextToken"):
                    break
                kwargs["NextToken"] = page["NextToken"]
        return [self.check(name) for name in sorted(names)]

    def check(self, name: str, *, quick: bool = False) -> EndpointHealth:
        """One endpoint's findings. NotFound when it does not exist.

        `quick` reads the control plane only (no logs, metrics or ledger): what a list's
        health mark can afford per endpoint; the log-based checks are then listed as skipped.
        """
        now = self._clock()
        facts = self._facts(name, quick=quick)
        if facts is None:
            return EndpointHealth(name, "real-time", skipped=(
                "real-time endpoint: the doctor checks async endpoints",), checked_at=now)
        findings: list[Finding] = []
        for check in (self._scaling_findings, self._output_findings, self._container_findings,
                      self._timeout_findings, self._gpu_findings, self._quota_findings):
            findings.extend(check(facts))
        return EndpointHealth(
            endpoint=name, status=str(facts.endpoint.get("EndpointStatus", "")),
            findings=tuple(findings), skipped=tuple(facts.skipped), checked_at=now,
        )

    def _facts(self, name: str, *, quick: bool = False) -> _Facts | None:
        endpoint = dict(self._sm.describe_endpoint(EndpointName=name))
        config = dict(self._sm.describe_endpoint_config(
            EndpointConfigName=endpoint["EndpointConfigName"]))
        if not config.get("AsyncInferenceConfig"):
            return None
        model = None
        variants = config.get("ProductionVariants") or []
        if variants and variants[0].get("ModelName"):
            try:
                model = dict(self._sm.describe_model(ModelName=variants[0]["ModelName"]))
            except errors.NotFound:
                model = None
        facts = _Facts(name, self._session.region_name, endpoint, config, model)
        for variant in variants:
            try:
                facts.scaling[variant["VariantName"]] = self._autoscaling.describe(
                    name, variant["VariantName"])
            except errors.SmconsoleError as exc:
                facts.skipped.append(f"autoscaling of {variant['VariantName']}: {exc}")
        self._wake_alarms(facts)
        if quick:
            facts.container_missing = "quick check: the logs were not read"
            facts.p99_missing = "quick check: the metrics were not read"
        else:
            self._container_facts(facts)
            self._processing_facts(facts)
            self._ledger_facts(facts)
        self._quota_facts(facts)
        return facts

    def _wake_alarms(self, facts: _Facts) -> None:
        try:
            answer = self._session.client("cloudwatch").describe_alarms_for_metric(
                MetricName=STEP_METRIC, Namespace=NAMESPACE,
                Dimensions=[{"Name": "EndpointName", "Value": facts.name}])
            facts.wake_alarms = list(answer.get("MetricAlarms") or [])
        except errors.SmconsoleError as exc:
            facts.skipped.append(f"alarms on {STEP_METRIC}: {exc}")

    def _log_events(self, facts: _Facts, phrase: str) -> list[dict[str, Any]]:
        """Events matching a quoted phrase since the current config's instances could start
        (its config was created: LastModifiedTime comes after their load), bounded pages."""
        since = facts.config.get("CreationTime") or facts.endpoint.get("CreationTime")
        floor = datetime.fromtimestamp(self._clock(), UTC) - LOG_WINDOW
        start = max(since, floor) if isinstance(since, datetime) else floor
        kwargs: dict[str, Any] = {
            "logGroupName": log_group_for(facts.name), "filterPattern": f'"{phrase}"',
            "startTime": int((start - timedelta(minutes=1)).timestamp() * 1000),
        }
        events: list[dict[str, Any]] = []
        logs = self._session.client("logs")
        for _ in range(MAX_LOG_PAGES):
            delay = self._limiter.delay()
            if delay > 0:
                self._sleep(delay)
            page = logs.filter_log_events(**kwargs)
            events += [e for e in page.get("events", []) if phrase in e.get("message", "")]
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
        return events

    def _container_facts(self, facts: _Facts) -> None:
        """The batch size and model load time the bundled container's own lines state."""
        try:
            ready = self._log_events(facts, "ready: task=")
            listening = self._log_events(facts, "listening on http") if ready else []
        except errors.NotFound:
            facts.container_missing = f"{log_group_for(facts.name)} does not exist yet"
            return
        except errors.SmconsoleError as exc:
            facts.container_missing = f"the logs could not be read: {exc}"
            return
        if not ready:
            facts.container_missing = ("no container start logged since the endpoint last "
                                       "changed (not the bundled container, or no instance ran)")
            return
        sizes = [int(m.group(1)) for e in ready if (m := _READY.search(e["message"]))]
        facts.batch_size = max(sizes) if sizes else None
        loads = []
        for event in ready:
            stream = event.get("logStreamName")
            starts = [e["timestamp"] for e in listening
                      if e.get("logStreamName") == stream and e["timestamp"] <= event["timestamp"]]
            if starts:
                loads.append((event["timestamp"] - max(starts)) / 1000)
        facts.load_seconds = max(loads) if loads else None

    def _processing_facts(self, facts: _Facts) -> None:
        """p99 of TotalProcessingTime per variant over the last day (Maximum off AWS)."""
        on_aws = self._session.endpoint_url is None
        stat = "p99" if on_aws else "Maximum"  # moto answers 500 to percentiles
        end = datetime.fromtimestamp(self._clock(), UTC)
        cloudwatch = self._session.client("cloudwatch")
        for variant in facts.variants:
            name = variant["VariantName"]
            try:
                answer = cloudwatch.get_metric_data(
                    MetricDataQueries=[{"Id": "p", "ReturnData": True, "MetricStat": {
                        "Metric": {"Namespace": NAMESPACE, "MetricName": "TotalProcessingTime",
                                   "Dimensions": [
                                       {"Name": "EndpointName", "Value": facts.name},
                                       {"Name": "VariantName", "Value": name}]},
                        "Period": 3600, "Stat": stat}}],
                    StartTime=end - timedelta(days=1), EndTime=end + timedelta(minutes=5))
            except errors.SmconsoleError as exc:
                facts.p99_missing = f"TotalProcessingTime could not be read: {exc}"
                continue
            values = (answer.get("MetricDataResults") or [{}])[0].get("Values") or []
            if values:
                facts.p99_ms[name] = (max(float(v) for v in values),
                                      "p99" if on_aws else "maximum")
        if not facts.p99_ms and facts.p99_missing is None:
            facts.p99_missing = "no TotalProcessingTime in the last day (no request processed)"

    def _ledger_facts(self, facts: _Facts) -> None:
        if self._ledger is None:
            return
        since = self._clock() - LOG_WINDOW.total_seconds()
        facts.sent_timeout, _sent, facts.timed_out = self._ledger.timeout_facts(
            facts.name, since, _TIMEOUT_WORDS)

    def _quota_facts(self, facts: _Facts) -> None:
        if self._quota_cache is None:
            self._quota_cache = self._service_quotas()
        for variant in facts.variants:
            kind = variant.get("InstanceType")
            if not kind:
                continue
            if kind in self._quota_cache:
                facts.quotas[kind] = self._quota_cache[kind]
            elif kind in DEFAULT_QUOTAS:
                facts.quotas[kind] = (DEFAULT_QUOTAS[kind], "the default quota")

    def _service_quotas(self) -> dict[str, tuple[int, str]]:
        """Endpoint-usage quotas from Service Quotas; none when it cannot be reached."""
        if self._session.endpoint_url is not None:
            return {}  # emulators do not serve SageMaker quotas: the known defaults apply
        found: dict[str, tuple[int, str]] = {}
        try:
            client = self._session.client("service-quotas")
            kwargs: dict[str, Any] = {"ServiceCode": "sagemaker", "MaxResults": 100}
            for _ in range(20):
                page = client.list_service_quotas(**kwargs)
                for quota in page.get("Quotas", []):
                    match = re.match(r"^(ml\.\S+) for endpoint usage$", quota.get("QuotaName", ""))
                    if match:
                        found[match.group(1)] = (int(quota.get("Value", 0)), "Service Quotas")
                if not page.get("NextToken"):
                    break
                kwargs["NextToken"] = page["NextToken"]
        except errors.SmconsoleError:
            return found
        return found

    # ---- the checks ---------------------------------------------------------------------

    def _scaling_findings(self, facts: _Facts) -> list[Finding]:
        found: list[Finding] = []
        for variant, state in facts.scaling.items():
            target = state.target
            if target is None:
                found.append(Finding(
                    facts.name, "no-scalable-target", "warning",
                    f"{variant}: no scalable target",
                    "its instances run, and are billed, around the clock, even with no requests",
                    Fix("scaling", "register 0..N with AWS's scale-to-zero pair (backlog "
                                   "tracking + a step policy on HasBacklogWithoutCapacity)"),
                    variant=variant))
                continue
            tracking = [p for p in state.policies if p.policy_type == "TargetTrackingScaling"]
            if target.min_capacity == 0 and not self._wakes(facts, state):
                found.append(Finding(
                    facts.name, "min-zero-never-wakes", "error",
                    f"{variant}: MinCapacity 0 without the HasBacklogWithoutCapacity step policy",
                    "at zero instances target tracking has nothing to divide the backlog by: "
                    "the endpoint never wakes up (or only past the target)",
                    Fix("scaling", "add the +1 step policy and its alarm on "
                                   "HasBacklogWithoutCapacity >= 1"), variant=variant))
            for policy in tracking:
                if policy.metric == "InvocationsPerInstance":
                    found.append(Finding(
                        facts.name, "tracks-invocations-per-instance", "error",
                        f"{variant}: target tracking on InvocationsPerInstance",
                        "async endpoints do not publish InvocationsPerInstance, so the policy "
                        "never scales",
                        Fix("scaling", "track ApproximateBacklogSizePerInstance (target 5) "
                                       "instead"), variant=variant,
                        facts=(("policy", policy.name),)))
            load = facts.load_seconds
            short = [p for p in tracking if p.scale_in_cooldown is not None and load
                     and p.scale_in_cooldown < load]
            if short:
                wanted = _cooldown_for(load or 0)
                found.append(Finding(
                    facts.name, "scale-in-cooldown-short", "warning",
                    f"{variant}: ScaleIn cooldown {short[0].scale_in_cooldown}s is shorter than "
                    f"the model's load time ({load:.0f}s)",
                    "instances are removed before a new one could even load: capacity flaps "
                    "and requests wait for reloads",
                    Fix("scaling", f"set ScaleInCooldown to {wanted}s"), variant=variant,
                    facts=(("load_seconds", f"{load:.1f}"),
                           ("scale_in_cooldown", str(short[0].scale_in_cooldown)))))
        if facts.load_seconds is None and facts.scaling:
            facts.skipped.append("ScaleIn cooldown vs load time: "
                                 + (facts.container_missing or "no model load time in the logs"))
        return found

    @staticmethod
    def _wakes(facts: _Facts, state: ScalingState) -> bool:
        """A step policy of this variant fired by an alarm on HasBacklogWithoutCapacity."""
        step_arns = {p.arn for p in state.policies if p.policy_type == "StepScaling" and p.arn}
        step_names = {p.name for p in state.policies if p.policy_type == "StepScaling"}
        alarms = list(facts.wake_alarms) + [
            {"AlarmActions": list(a.actions), "MetricName": a.metric} for a in state.alarms]
        for alarm in alarms:
            if alarm.get("MetricName", STEP_METRIC) != STEP_METRIC:
                continue
            actions = alarm.get("AlarmActions") or []
            if any(a in step_arns or a.rsplit("/", 1)[-1] in step_names for a in actions):
                return True
        return False

    def _output_findings(self, facts: _Facts) -> list[Finding]:
        found: list[Finding] = []
        output, notify = facts.output, facts.notifications
        if not output.get("S3FailurePath"):
            found.append(Finding(
                facts.name, "no-failure-path", "warning", "no S3FailurePath",
                "failures land among the outputs in S3OutputPath: nothing lists or alarms on "
                "errors apart",
                Fix("deploy", f"set S3FailurePath to {_failure_path(output)}")))
        if not notify.get("ErrorTopic"):
            topic = f"{facts.name}-errors"
            account = _account(facts.endpoint.get("EndpointArn", ""))
            arn = f"arn:aws:sns:{facts.region}:{account}:{topic}"
            found.append(Finding(
                facts.name, "no-error-topic", "warning", "no ErrorTopic",
                "nobody is told when a request fails: clients must poll S3 to find out",
                Fix("manual", "create an SNS topic and name it as the ErrorTopic", (
                    f"aws sns create-topic --name {topic}",
                    f"deploy spec: async.notifications.error_topic: {arn}",
                    "smconsole deploy SPEC.yaml   # with update: true"))))
        topics = {"SUCCESS_NOTIFICATION_TOPIC": notify.get("SuccessTopic"),
                  "ERROR_NOTIFICATION_TOPIC": notify.get("ErrorTopic")}
        dangling = [t for t in notify.get("IncludeInferenceResponseIn") or [] if not topics.get(t)]
        if dangling:
            found.append(Finding(
                facts.name, "include-response-without-topic", "error",
                f"IncludeInferenceResponseIn names {', '.join(dangling)} with no such topic",
                "no notification can carry the response: the setting asks for a topic "
                "the config does not have",
                Fix("deploy", f"drop {', '.join(dangling)} from IncludeInferenceResponseIn"),
                facts=(("dangling", ",".join(dangling)),)))
        return found

    def _container_findings(self, facts: _Facts) -> list[Finding]:
        found: list[Finding] = []
        batch, concurrent = facts.batch_size, facts.max_concurrent
        if batch is None:
            facts.skipped.append("MaxConcurrentInvocationsPerInstance vs batch size: "
                                 + (facts.container_missing or "no batch size in the logs"))
        elif concurrent is not None and batch > 1 and (
                concurrent == 1 or concurrent * 4 < batch or concurrent > batch * 4):
            if concurrent < batch:
                why = (f"{concurrent} in flight per instance feeds a batcher of up to {batch}: "
                       "its batches stay small and the instance idles between them")
            else:
                why = (f"{concurrent} in flight per instance against batches of {batch}: "
                       "requests wait inside the container, out of the backlog autoscaling sees")
            found.append(Finding(
                facts.name, "concurrency-vs-batch", "warning",
                f"MaxConcurrentInvocationsPerInstance {concurrent} far from the container's "
                f"batch size {batch}", why,
                Fix("deploy", f"set MaxConcurrentInvocationsPerInstance to {min(batch, 1000)}"),
                facts=(("max_concurrent", str(concurrent)), ("batch_size", str(batch)))))
        load = facts.load_seconds
        for variant in facts.variants:
            timeout = variant.get("ContainerStartupHealthCheckTimeoutInSeconds")
            limit = int(timeout) if timeout else DEFAULT_STARTUP_TIMEOUT_S
            if load is None:
                continue
            if load > limit * 0.8:
                wanted = min(3600, max(60, math.ceil(load * 2)))
                found.append(Finding(
                    facts.name, "startup-timeout-below-load",
                    "error" if load >= limit else "warning",
                    f"{variant['VariantName']}: ContainerStartupHealthCheckTimeoutInSeconds "
                    f"{limit}s against a model load of {load:.0f}s",
                    "a new instance fails its ping health check before the model is loaded "
                    "(every scale-out and update can fail)",
                    Fix("deploy", f"set ContainerStartupHealthCheckTimeoutInSeconds to {wanted}"),
                    variant=variant["VariantName"],
                    facts=(("load_seconds", f"{load:.1f}"), ("timeout", str(limit)))))
        if load is None:
            facts.skipped.append("startup health-check timeout vs load time: "
                                 + (facts.container_missing or "no model load time in the logs"))
        return found

    def _timeout_findings(self, facts: _Facts) -> list[Finding]:
        sent = facts.sent_timeout or DEFAULT_INVOCATION_TIMEOUT_S
        worst = max(facts.p99_ms.values(), default=None)
        found: list[Finding] = []
        over = worst is not None and worst[0] / 1000 > sent
        if facts.timed_out or over:
            wanted = min(3600, max(sent + 1, math.ceil((worst[0] / 1000 if worst else sent) * 2)))
            measured = (f"{worst[1]} processing time {worst[0] / 1000:.1f}s"
                        if worst else "processing time unknown")
            found.append(Finding(
                facts.name, "invocation-timeout-below-processing", "warning",
                f"InvocationTimeoutSeconds {sent}s below the observed {measured}"
                + (f"; {facts.timed_out} request(s) timed out" if facts.timed_out else ""),
                "requests that take longer fail as timeouts and are never retried",
                Fix("manual", f"send requests with InvocationTimeoutSeconds {wanted}", (
                    f"batch YAML: defaults: {{invocation_timeout_seconds: {wanted}}}",
                    "smconsole submit BATCH.yaml --again   # or --retry-failed BATCH_ID")),
                facts=(("invocation_timeout", str(sent)),
                       ("timed_out", str(facts.timed_out)))))
        if worst is None and not facts.timed_out:
            facts.skipped.append(f"InvocationTimeoutSeconds vs processing time: "
                                 f"{facts.p99_missing or 'no processing time'}")
        return found

    def _gpu_findings(self, facts: _Facts) -> list[Finding]:
        image = _image(facts.model)
        found: list[Finding] = []
        for variant in facts.variants:
            kind = str(variant.get("InstanceType") or "")
            if variant.get("InferenceAmiVersion") or not kind.startswith(
                    DRIVER_470_FAMILIES + OTHER_GPU_FAMILIES):
                continue
            needs_12 = bool(CUDA12_IMAGE.search(image or ""))
            if kind.startswith(DRIVER_470_FAMILIES):
                severity = "error" if needs_12 else "warning"
                why = (f"{kind} defaults to NVIDIA driver 470 (CUDA 11.4); "
                       + ("this image needs CUDA 12 (driver >= 525): its container cannot "
                          "start on the GPU" if needs_12 else
                          "an image built for CUDA >= 11.5 cannot use the GPU"))
            else:
                severity = "info"
                why = f"{kind} runs the default inference AMI: pin one that matches the image"
            found.append(Finding(
                facts.name, "gpu-driver-too-old", severity,
                f"{variant['VariantName']}: {kind} with no InferenceAmiVersion", why,
                Fix("deploy", f"set InferenceAmiVersion to {RECOMMENDED_AMI} (NVIDIA 550, "
                              "CUDA 12.4)"),
                variant=variant["VariantName"], facts=(("image", image or "?"),)))
        return found

    def _quota_findings(self, facts: _Facts) -> list[Finding]:
        found: list[Finding] = []
        for variant in facts.variants:
            name, kind = variant["VariantName"], variant.get("InstanceType")
            state = facts.scaling.get(name)
            if not kind or kind not in facts.quotas or state is None or state.target is None:
                continue
            quota, source = facts.quotas[kind]
            if state.target.max_capacity <= quota:
                continue
            fix = (Fix("scaling", f"lower MaxCapacity to {quota}") if quota >= 1 else
                   Fix("manual", f"request an endpoint-usage quota for {kind}", (
                       (f"aws service-quotas request-service-quota-increase --service-code "
                       f"sagemaker --quota-code <code of '{kind} for endpoint usage'> "
                       f"--desired-value {state.target.max_capacity}"),)))
            found.append(Finding(
                facts.name, "max-capacity-over-quota", "warning",
                f"{name}: MaxCapacity {state.target.max_capacity} above the {kind} quota "
                f"({quota}, {source})",
                "scale-out stops at the account's quota: the extra capacity is never there",
                fix, variant=name, facts=(("quota", str(quota)), ("source", source))))
        return found

    # ---- fixing -------------------------------------------------------------------------

    def plan_fix(self, finding: Finding) -> FixPlan:
        """The fix as a diff (nothing changed yet). SmconsoleError for a manual fix."""
        if not finding.fix.applicable:
            raise errors.SmconsoleError(
                f"{finding.code}: the console cannot make this fix; do this instead:\n  "
                + "\n  ".join(finding.fix.steps))
        if finding.fix.kind == "scaling":
            plan = self._scaling_plan(finding)
            return FixPlan(finding, tuple(plan.diff_lines()), tuple(plan.warnings), plan)
        deploy_plan = self._deploy_plan(finding)
        return FixPlan(finding, tuple(deploy_plan.diff_lines()), tuple(deploy_plan.warnings),
                       deploy_plan)

    def apply_fix(self, plan: FixPlan,
                  progress: Callable[[Any], None] | None = None) -> FixResult:
        """Apply a planned fix; a failure half-way puts back what was there."""
        finding = plan.finding
        if finding.fix.kind == "scaling":
            result = self._autoscaling.apply(plan.detail)
            return FixResult(finding, result.applied, result.message(), result.rolled_back)
        service = self._deploy_service()
        result = service.deploy(plan.detail, progress)
        if result.ok:
            return FixResult(finding, True, result.summary())
        # The endpoint stays on (or went back to) its old config: remove what was added.
        leftovers = [r for r in result.created if r.kind != "endpoint"]
        cleanup = service.cleanup(leftovers) if leftovers else None
        tail = ("; the new model and config were removed" if cleanup and cleanup.ok else
                f"; could not remove {[r.label() for r, _ in cleanup.failed]}" if cleanup else "")
        return FixResult(finding, False, result.summary() + tail, rolled_back=True)

    def _scaling_plan(self, finding: Finding) -> Any:
        endpoint, variant = finding.endpoint, finding.variant
        state = self._autoscaling.describe(endpoint, variant)
        if finding.code == "no-scalable-target":
            count = max(1, state.desired_instances or state.current_instances or 1)
            quota = DEFAULT_QUOTAS.get(state.instance_type or "")
            top = min(count, quota) if quota else count
            spec = SCALE_TO_ZERO.model_copy(update={"max_capacity": max(1, top)})
            return self._autoscaling.plan(endpoint, spec, variant=variant, replace_policies=True)
        if finding.code == "max-capacity-over-quota":
            quota = int(dict(finding.facts)["quota"])
            return self._autoscaling.plan(endpoint, ScalingSpec(max_capacity=quota),
                                          variant=variant, replace_policies=False)
        spec = spec_from_state(state)
        if finding.code == "min-zero-never-wakes":
            spec = spec.model_copy(update={"scale_out_from_zero": ScaleOutFromZeroSpec()})
        elif finding.code == "tracks-invocations-per-instance":
            kept = [t for t in spec.target_tracking if t.metric != "InvocationsPerInstance"]
            old = next(t for t in spec.target_tracking if t.metric == "InvocationsPerInstance")
            if not any(t.metric == "ApproximateBacklogSizePerInstance" for t in kept):
                kept.append(TargetTrackingSpec(
                    metric="ApproximateBacklogSizePerInstance", target=5,
                    scale_in_cooldown=old.scale_in_cooldown,
                    scale_out_cooldown=old.scale_out_cooldown))
            spec = spec.model_copy(update={"target_tracking": kept})
        elif finding.code == "scale-in-cooldown-short":
            wanted = _cooldown_for(float(dict(finding.facts)["load_seconds"]))
            spec = spec.model_copy(update={"target_tracking": [
                t.model_copy(update={"scale_in_cooldown": max(t.scale_in_cooldown, wanted)})
                for t in spec.target_tracking]})
        else:
            raise errors.SmconsoleError(f"{finding.code}: no scaling fix")
        return self._autoscaling.plan(endpoint, spec, variant=variant, replace_policies=True)

    def _deploy_plan(self, finding: Finding) -> Any:
        name = finding.endpoint
        endpoint = dict(self._sm.describe_endpoint(EndpointName=name))
        config = dict(self._sm.describe_endpoint_config(
            EndpointConfigName=endpoint["EndpointConfigName"]))
        variants = config.get("ProductionVariants") or [{}]
        model = dict(self._sm.describe_model(ModelName=variants[0].get("ModelName", "")))
        fields = spec_fields(name, model, config)
        async_fields, variant = fields["async"], fields["variant"]
        output = (config.get("AsyncInferenceConfig") or {}).get("OutputConfig") or {}
        if finding.code == "no-failure-path":
            async_fields["failure_path"] = _failure_path(output)
        elif finding.code == "include-response-without-topic":
            notes = async_fields.get("notifications") or {}
            dangling = set(dict(finding.facts)["dangling"].split(","))
            notes["include_inference_response_in"] = [
                t for t in notes.get("include_inference_response_in", []) if t not in dangling]
            async_fields["notifications"] = notes
        elif finding.code == "concurrency-vs-batch":
            async_fields["max_concurrent_invocations_per_instance"] = min(
                1000, int(dict(finding.facts)["batch_size"]))
        elif finding.code == "startup-timeout-below-load":
            load = float(dict(finding.facts)["load_seconds"])
            variant["container_startup_health_check_timeout"] = min(
                3600, max(60, math.ceil(load * 2)))
        elif finding.code == "gpu-driver-too-old":
            variant["inference_ami_version"] = RECOMMENDED_AMI
        else:
            raise errors.SmconsoleError(f"{finding.code}: no deploy fix")
        try:
            spec = DeploySpec.model_validate(fields)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                                 for e in exc.errors())
            raise errors.SmconsoleError(
                f"{name}: its deployment cannot be expressed as a deploy spec ({problems}); "
                f"make the change by hand: {finding.fix.summary}") from None
        return self._deploy_service().plan(spec)


# ---- specs rebuilt from what is deployed -------------------------------------------------

def spec_from_state(state: ScalingState) -> ScalingSpec:
    """The variant's current autoscaling as a spec (tracking policies and the wake-up step)."""
    tracking = []
    for policy in state.policies:
        if policy.policy_type != "TargetTrackingScaling":
            continue
        try:
            tracking.append(TargetTrackingSpec(
                metric=policy.metric, target=policy.target or 5,  # type: ignore[arg-type]
                statistic=policy.statistic if policy.metric != "InvocationsPerInstance" else None,
                scale_in_cooldown=policy.scale_in_cooldown or 0,
                scale_out_cooldown=policy.scale_out_cooldown or 0, name=policy.name))
        except ValidationError as exc:
            raise errors.SmconsoleError(
                f"policy {policy.name} cannot be rebuilt as a spec ({exc.errors()[0]['msg']}): "
                "edit it with `smconsole scale`") from None
    step = next((p for p in state.policies if p.policy_type == "StepScaling"), None)
    wake = None
    if step is not None:
        alarm = next((a for a in state.alarms if a.metric == STEP_METRIC), None)
        wake = ScaleOutFromZeroSpec(
            adjustment=max(1, step.adjustment or 1), cooldown=step.cooldown or 300,
            period=alarm.period if alarm and alarm.period >= 10 else 60,
            evaluation_periods=alarm.evaluation_periods if alarm else 2, name=step.name)
    target = state.target
    return ScalingSpec(
        min_capacity=target.min_capacity if target else None,
        max_capacity=target.max_capacity if target else None,
        target_tracking=tracking, scale_out_from_zero=wake)


def spec_fields(name: str, model: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """A deploy spec's fields (update: true) that re-create what is deployed."""
    if len(name) > MAX_BASE_NAME:
        raise errors.SmconsoleError(
            f"{name}: longer than {MAX_BASE_NAME} characters, so a timestamped model name "
            "does not fit; change the endpoint config by hand")
    container = model.get("PrimaryContainer") or (model.get("Containers") or [{}])[0]
    source = (container.get("ModelDataSource") or {}).get("S3DataSource") or {}
    variants = config.get("ProductionVariants") or []
    if len(variants) != 1:
        raise errors.SmconsoleError(f"{name}: {len(variants)} variants; deploy specs hold one")
    v = variants[0]
    variant: dict[str, Any] = {
        "name": v["VariantName"], "instance_type": v.get("InstanceType"),
        "instance_count": v.get("InitialInstanceCount") or 1,
    }
    for key, spec_key in (("InferenceAmiVersion", "inference_ami_version"),
                          ("ContainerStartupHealthCheckTimeoutInSeconds",
                           "container_startup_health_check_timeout"),
                          ("ModelDataDownloadTimeoutInSeconds", "model_data_download_timeout"),
                          ("VolumeSizeInGB", "volume_size_gb")):
        if v.get(key) is not None:
            variant[spec_key] = v[key]
    async_config = config.get("AsyncInferenceConfig") or {}
    output = async_config.get("OutputConfig") or {}
    async_fields: dict[str, Any] = {"output_path": output.get("S3OutputPath")}
    if output.get("S3FailurePath"):
        async_fields["failure_path"] = output["S3FailurePath"]
    if output.get("KmsKeyId"):
        async_fields["kms_key"] = output["KmsKeyId"]
    concurrent = (async_config.get("ClientConfig") or {}).get("MaxConcurrentInvocationsPerInstance")
    if concurrent:
        async_fields["max_concurrent_invocations_per_instance"] = concurrent
    note = output.get("NotificationConfig") or {}
    if note:
        async_fields["notifications"] = {
            "success_topic": note.get("SuccessTopic"), "error_topic": note.get("ErrorTopic"),
            "include_inference_response_in": list(note.get("IncludeInferenceResponseIn") or []),
        }
    return {
        "name": name, "update": True,
        "model": {"image": container.get("Image", ""),
                  "data": source.get("S3Uri") or container.get("ModelDataUrl", ""),
                  "environment": dict(container.get("Environment") or {}),
                  "execution_role_arn": model.get("ExecutionRoleArn", "")},
        "variant": variant, "async": async_fields,
    }


def _failure_path(output: dict[str, Any]) -> str:
    """A failures prefix beside the outputs, in the same bucket: s3://b/x/output -> s3://b/x/failures."""
    out = str(output.get("S3OutputPath") or "")
    bucket, key = split_s3_uri(out)
    parent = key.strip("/").rpartition("/")[0]
    return f"s3://{bucket}/{parent + '/' if parent else ''}failures"


def _cooldown_for(load_seconds: float) -> int:
    return max(300, math.ceil(load_seconds * 2))


def _image(model: dict[str, Any] | None) -> str | None:
    if not model:
        return None
    container = model.get("PrimaryContainer") or (model.get("Containers") or [{}])[0]
    return container.get("Image")


def _account(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 and parts[4] else "<account>"
