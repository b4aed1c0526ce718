"""Application Auto Scaling, carried out: moto stores targets and policies, this acts on them."""

from __future__ import annotations

import json
import math
import operator
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from smconsole.local.daemon import backends
from smconsole.local.daemon.metrics import values as metric_values

if TYPE_CHECKING:
    from smconsole.local.daemon.invoke import DataPlane
    from smconsole.local.daemon.lifecycle import EndpointRuntime

DIMENSION = "sagemaker:variant:DesiredInstanceCount"
DEFAULT_COOLDOWN_S = 300.0
_COMPARE = {
    "GreaterThanOrEqualToThreshold": operator.ge,
    "GreaterThanThreshold": operator.gt,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}


class ScalingRecord:
    """Scaling activities (moto answers DescribeScalingActivities with a 500), kept on disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._items: list[dict[str, Any]] = self._load()

    def _load(self) -> list[dict[str, Any]]:
        """The record on disk; a damaged one is set aside (`.damaged`) and the record restarts."""
        if not self.path.is_file():
            return []
        try:
            items = json.loads(self.path.read_text())
            if not isinstance(items, list):
                raise TypeError("not a list of activities")
        except (OSError, ValueError, TypeError) as exc:
            aside = self.path.with_name(self.path.name + ".damaged")
            self.path.replace(aside)
            print(f"smconsole-local: {self.path.name}: skipped: unreadable ({exc}); kept as "
                  f"{aside.name}", flush=True)
            return []
        sound = [i for i in items if isinstance(i, dict) and all(
            isinstance(i.get(k), str) for k in ("ServiceNamespace", "ResourceId",
                                                 "ScalableDimension"))]
        if len(sound) < len(items):
            print(f"smconsole-local: {self.path.name}: skipped: {len(items) - len(sound)} "
                  "damaged activities", flush=True)
        return sound

    def add(self, resource_id: str, description: str, cause: str, *,
            region: str = "us-east-1", in_progress: bool = False) -> dict[str, Any]:
        """`in_progress`: a scale-out, Successful (with its EndTime) once `finish` is called."""
        now = time.time()
        item = {
            "ActivityId": str(uuid.uuid4()), "ServiceNamespace": "sagemaker",
            "ResourceId": resource_id, "ScalableDimension": DIMENSION,
            "Description": description, "Cause": cause, "StartTime": now, "EndTime": now,
            "StatusCode": "Successful", "StatusMessage": "Successfully set desired instance count.",
            "_region": region,
        }
        if in_progress:
            del item["EndTime"]
            item.update(StatusCode="InProgress", StatusMessage="Waiting for the instances.")
        with self._lock:
            self._items.append(item)
            self._items = self._items[-1000:]
            self._save()
        return item

    def finish(self, activity_id: str) -> None:
        """The activity's instances serve: as AWS does, it ends now."""
        with self._lock:
            for item in self._items:
                if item["ActivityId"] == activity_id and item["StatusCode"] == "InProgress":
                    item.update(EndTime=time.time(), StatusCode="Successful",
                                StatusMessage="Successfully set desired instance count.")
                    self._save()

    def _save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._items))
        tmp.replace(self.path)

    def describe(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            items = list(reversed(self._items))
        for field in ("ServiceNamespace", "ResourceId", "ScalableDimension"):
            if params.get(field):
                items = [i for i in items if i[field] == params[field]]
        start = int(params.get("NextToken") or 0)
        size = int(params.get("MaxResults") or 50)
        page = [{k: v for k, v in i.items() if not k.startswith("_")}
                for i in items[start:start + size]]
        out: dict[str, Any] = {"ScalingActivities": page}
        if start + size < len(items):
            out["NextToken"] = str(start + size)
        return out


class Autoscaler:
    """Once a second: each registered variant's capacity from its policies, within Min..Max."""

    def __init__(self, plane: DataPlane, record: ScalingRecord, interval_s: float = 1.0) -> None:
        self.plane = plane
        self.record = record
        self.interval_s = interval_s
        self._last_in: dict[str, float] = {}
        self._last_out: dict[str, float] = {}
        self._policy_fired: dict[str, float] = {}
        # resource -> [(activity id, count it waits for)]: scale-outs not yet serving
        self._scaling_out: dict[str, list[tuple[str, int]]] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="autoscaler", daemon=True)

    def start(self) -> None:
        self.plane.listeners.append(self.tick_soon)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def tick_soon(self) -> None:
        """A request arrived: decide now rather than at the next tick (scale out from 0)."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval_s)
            self._wake.clear()
            try:
                self.tick()
            except Exception as exc:  # noqa: BLE001 - scaling must never stop the daemon
                print(f"smconsole-local: autoscaler: {exc}", flush=True)

    def tick(self) -> None:
        for runtime in self.plane.all_runtimes():
            if runtime.status not in ("InService", "Updating") or runtime.pending_update:
                continue
            for variant in list(runtime.variants.values()):
                self._scale(runtime, variant.name, variant.desired)

    def _scale(self, runtime: EndpointRuntime, variant: str, current: int) -> None:
        resource = f"endpoint/{runtime.name}/variant/{variant}"
        self._fulfil(runtime, variant, resource)
        backend = backends.autoscaling(runtime.region)
        target = backend.targets.get(DIMENSION, {}).get(resource)
        if target is None:
            return
        suspended = target.suspended_state or {}
        now = time.time()
        metrics = metric_values(runtime)
        wanted, causes = current, []
        policies = [p for p in backend.policies.values()
                    if p.resource_id == resource and p.scalable_dimension == DIMENSION]
        tracking = [self._track(p, current, metrics, runtime) for p in policies
                    if p.policy_type == "TargetTrackingScaling"]
        tracking = [t for t in tracking if t is not None]
        if tracking:
            best = max(tracking, key=lambda t: t[0])
            if best[0] > current:
                wanted, causes = best[0], [best[1]]
            elif all(t[0] < current for t in tracking):
                # Scale in only when every tracking policy agrees, after its cooldown.
                cooldown = min(t[2] for t in tracking)
                if now - max(self._last_in.get(resource, 0), self._last_out.get(resource, 0),
                             runtime.last_activity) >= cooldown:
                    wanted, causes = best[0], [best[1]]
        for policy in policies:
            if policy.policy_type != "StepScaling":
                continue
            stepped = self._step(policy, current, runtime, now)
            if stepped is None:
                continue
            # A step policy out-bids tracking upward; downward it acts only on its own.
            if stepped[0] > wanted or (stepped[0] < current and not tracking):
                wanted, causes = stepped[0], [stepped[1]]
            elif stepped[0] == wanted != current:
                causes.append(stepped[1])
        low = int(target.min_capacity or 0)
        high = int(target.max_capacity if target.max_capacity is not None else wanted)
        clamped = max(low, min(high, wanted))
        if clamped != wanted or (clamped == current and wanted != current):
            causes.append(f"capacity held within MinCapacity {low} and MaxCapacity {high}")
        if clamped == current:
            return
        if clamped > current and suspended.get("DynamicScalingOutSuspended"):
            return
        if clamped < current and suspended.get("DynamicScalingInSuspended"):
            return
        (self._last_out if clamped > current else self._last_in)[resource] = now
        runtime.set_desired(variant, clamped)
        item = self.record.add(
            resource, f"Setting desired instance count to {clamped}.",
            "At " + time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)) + " "
            + ("; ".join(causes) or "a scaling decision") + f", changing the desired "
            f"capacity from {current} to {clamped}.", region=runtime.region,
            in_progress=clamped > current,
        )
        if clamped > current:
            self._scaling_out.setdefault(resource, []).append((item["ActivityId"], clamped))
        self._fulfil(runtime, variant, resource, clamped)

    def _fulfil(self, runtime: EndpointRuntime, variant: str, resource: str,
                desired: int | None = None) -> None:
        """A scale-out ends when its instances answer /ping (the cold start a client sees), or
        when a scale-in below its count overrides it."""
        held = runtime.variants.get(variant)
        healthy = len(held.healthy()) if held is not None else None
        waiting = []
        for activity_id, count in self._scaling_out.get(resource, []):
            if healthy is None or healthy >= count or (desired is not None and desired < count):
                self.record.finish(activity_id)
            else:
                waiting.append((activity_id, count))
        if waiting:
            self._scaling_out[resource] = waiting
        else:
            self._scaling_out.pop(resource, None)

    def _track(self, policy: Any, current: int, metrics: dict[str, float],
               runtime: EndpointRuntime) -> tuple[int, str, float] | None:
        config = policy.target_tracking_scaling_policy_configuration or {}
        spec = config.get("CustomizedMetricSpecification") or {}
        name = spec.get("MetricName")
        if name not in metrics:
            return None
        target_value = float(config.get("TargetValue") or 0)
        if target_value <= 0:
            return None
        value = metrics[name]
        if current == 0:
            desired = max(1, math.ceil(value / target_value)) if value > 0 else 0
        else:
            desired = math.ceil(round(current * value / target_value, 6))
        if desired < current and config.get("DisableScaleIn"):
            desired = current
        cooldown = float(config.get("ScaleInCooldown", DEFAULT_COOLDOWN_S))
        cause = (f"target tracking policy {policy.policy_name}: {name} = {value:g} "
                 f"against target {target_value:g}")
        return desired, cause, cooldown

    def _step(self, policy: Any, current: int, runtime: EndpointRuntime,
              now: float) -> tuple[int, str] | None:
        """Evaluate the CloudWatch alarms that name this policy (moto never does)."""
        config = policy.step_scaling_policy_configuration or {}
        cloudwatch = backends.cloudwatch(runtime.region)
        metrics = metric_values(runtime)
        for alarm in list(cloudwatch.alarms.values()):
            if not any(_same_policy(policy.policy_arn, a) for a in alarm.alarm_actions or []):
                continue
            if alarm.metric_name not in metrics or not _names_endpoint(alarm, runtime.name):
                continue
            value = metrics[alarm.metric_name]
            compare = _COMPARE.get(alarm.comparison_operator)
            if compare is None:
                continue
            firing = compare(value, float(alarm.threshold))
            state = "ALARM" if firing else "OK"
            if alarm.state_value != state:
                alarm.update_state(
                    f"Threshold Crossed: {alarm.metric_name} = {value:g} "
                    f"({alarm.comparison_operator} {alarm.threshold:g}) [smconsole local]",
                    json.dumps({"value": value}), state,
                )
            if not firing or not alarm.actions_enabled:
                continue
            cooldown = float(config.get("Cooldown", DEFAULT_COOLDOWN_S))
            if now - self._policy_fired.get(policy.policy_arn, 0) < cooldown:
                return None
            adjustment = _step_adjustment(config, value - float(alarm.threshold))
            if adjustment is None:
                continue
            kind = config.get("AdjustmentType", "ChangeInCapacity")
            if kind == "ExactCapacity":
                desired = adjustment
            elif kind == "PercentChangeInCapacity":
                change = math.ceil(current * adjustment / 100) if adjustment > 0 else \
                    math.floor(current * adjustment / 100)
                minimum = int(config.get("MinAdjustmagnitude")
                              or config.get("MinAdjustmentMagnitude") or 0)
                if minimum and abs(change) < minimum:
                    change = minimum if adjustment > 0 else -minimum
                desired = current + change
            else:
                desired = current + adjustment
            self._policy_fired[policy.policy_arn] = now
            return desired, (f"monitor alarm {alarm.name} in state ALARM triggered policy "
                             f"{policy.policy_name}")
        return None


def _same_policy(arn: str, action: str) -> bool:
    """Policy ARNs carry a random id that a journal replay cannot reproduce: compare the rest."""
    if arn == action:
        return True
    marker = ":resource/"
    return marker in arn and marker in action and (
        arn[arn.index(marker):] == action[action.index(marker):]
        and arn.split(":")[:5] == action.split(":")[:5])


def _names_endpoint(alarm: Any, endpoint: str) -> bool:
    dims = {d.name: d.value for d in alarm.dimensions}
    return dims.get("EndpointName", endpoint) == endpoint


def _step_adjustment(config: dict[str, Any], difference: float) -> int | None:
    for step in config.get("StepAdjustments") or []:
        lower = step.get("MetricIntervalLowerBound")
        upper = step.get("MetricIntervalUpperBound")
        if lower is not None and difference < float(lower):
            continue
        if upper is not None and difference >= float(upper):
            continue
        return int(step["ScalingAdjustment"])
    return None
