"""Deploy and autoscaling on the embedded local stack (moto + our data plane, real containers)."""

from __future__ import annotations

import importlib.util
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
from fixtures.local_stack import ensure_bucket, unique, wait_for
from smconsole import locations
from smconsole.local import modelpack
from smconsole.services.autoscaling import AutoscalingService, alarm_name
from smconsole.services.deploy import DeployService
from smconsole.session import AwsSession
from smconsole.specs.common import split_s3_uri
from smconsole.specs.deploy import DeploySpec, load_deploy_spec
from smconsole.specs.scaling import ScalingSpec

pytestmark = [pytest.mark.local_stack, pytest.mark.slow]

BUCKET = "smconsole-ops-tests"


def tiny_classifier(folder: Path) -> Path:
    path = locations.container_dir() / "tools" / "tiny_models.py"
    spec = importlib.util.spec_from_file_location("tiny_models", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return Path(module.build_text_classifier(folder))


def upload(session: AwsSession, archive: Path, uri: str) -> None:
    bucket, key = split_s3_uri(uri)
    ensure_bucket(session, bucket)
    session.client("s3").upload_file(str(archive), bucket, key)


def prepare(session: AwsSession, spec: DeploySpec) -> None:
    """Buckets and topics the spec names (the console's deploy does not create them)."""
    for uri in (spec.async_inference.output_path, spec.async_inference.failure_path):
        ensure_bucket(session, split_s3_uri(uri)[0])
    notes = spec.async_inference.notifications
    for topic in (notes.success_topic, notes.error_topic) if notes else ():
        if topic:
            session.client("sns").create_topic(Name=topic.rsplit(":", 1)[-1])


def variant_of(spec: DeploySpec, name: str, data: str, **changes: Any) -> DeploySpec:
    raw = spec.model_dump(by_alias=True)
    raw.update(name=name, update=False, autoscaling=None, **changes)
    raw["model"]["data"] = data
    raw["model"]["environment"] = {"MODEL_DIR": "/opt/ml/model/model"}  # task from the model
    raw["async"]["output_path"] = f"s3://{BUCKET}/{name}/out"
    raw["async"]["failure_path"] = f"s3://{BUCKET}/{name}/failed"
    raw["async"]["notifications"] = None
    return DeploySpec.model_validate(raw)


@pytest.fixture(scope="module")
def demo() -> DeploySpec:
    return load_deploy_spec(locations.configs_dir() / "deploy-demo.yaml")


def test_demo_spec_deploys_to_in_service(local_stack: Any, demo: DeploySpec) -> None:
    session = local_stack.session()
    archive = modelpack.pack_cached(modelpack.minilm_dir(), local_stack.state_dir / "ops-model")
    upload(session, archive, demo.model.data)
    prepare(session, demo)
    service = DeployService(session)
    plan = service.plan(demo)
    assert not any("not found" in w for w in plan.warnings)
    ticks: list[str] = []
    result = service.deploy(plan, lambda p: ticks.append(p.status))
    assert result.ok, (result.summary(), result.log_lines)
    assert "InService" in ticks
    if plan.action == "create":  # someone else may have deployed the demo first
        assert "Creating" in ticks
    assert result.scaling is not None and result.scaling.applied
    state = AutoscalingService(session).describe(demo.name)
    assert (state.target.min_capacity, state.target.max_capacity) == (0, 2)


def test_container_that_cannot_start_reaches_failed_with_why(local_stack: Any, tmp_path: Path,
                                                             demo: DeploySpec) -> None:
    session = local_stack.session()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "no-such-architecture"}')
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(broken, arcname="model")
    name = unique("ops-broken")
    uri = f"s3://{BUCKET}/{name}/model.tar.gz"
    upload(session, archive, uri)
    spec = variant_of(demo, name, uri)
    prepare(session, spec)
    service = DeployService(session)
    result = service.deploy(spec, timeout=240)
    assert result.status == "Failed" and not result.ok
    print(result.failure_reason)
    assert "ping health check" in (result.failure_reason or ""), result.failure_reason
    assert any("model failed to load" in line for line in result.log_lines), result.log_lines
    assert [r.kind for r in result.created] == ["model", "endpoint-config", "endpoint"]
    cleaned = service.cleanup(result.created)
    assert cleaned.ok, cleaned.failed
    sm = session.client("sagemaker")
    wait_for(lambda: name not in {e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]},
             timeout_s=60)


async def test_scale_to_zero_and_back_on_a_new_request(local_stack: Any, tmp_path: Path,
                                                       demo: DeploySpec) -> None:
    """Through the scaling view: a bad edit changes nothing; 0..2 with the step pair scales the
    endpoint to zero, and a new request brings an instance back; the view shows both."""
    from fixtures.fakes import OpsServices
    from fixtures.screen_host import Host, until
    from smconsole.ui.screens.modals import ConfirmChangesScreen
    from smconsole.ui.screens.scaling import ScalingScreen
    from smconsole.ui.settings import ConsoleSettings
    from textual.widgets import Checkbox, Input, Select, Static

    session = local_stack.session()
    model = tiny_classifier(tmp_path / "tiny")
    archive = modelpack.pack(model, tmp_path / "model.tar.gz")
    name = unique("ops-scale")
    uri = f"s3://{BUCKET}/{name}/model.tar.gz"
    upload(session, archive, uri)
    spec = variant_of(demo, name, uri)
    prepare(session, spec)
    deployed = DeployService(session).deploy(spec, timeout=240)
    assert deployed.ok, (deployed.summary(), deployed.log_lines)
    scaling = AutoscalingService(session)
    app = Host(lambda: ScalingScreen(OpsServices(autoscaling=scaling),
                                     ConsoleSettings(refresh_seconds=0.5), name))

    def title(screen: Any) -> str:
        return str(screen.query_one("#scaling-title", Static).render())

    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        await until(pilot, lambda: screen.state is not None, timeout=30)
        assert "1 current" in title(screen)
        before = scaling.describe(name)

        screen.query_one("#min-input", Input).value = "3"
        screen.query_one("#max-input", Input).value = "2"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "not applied" in str(
            screen.query_one("#scaling-message", Static).render()))
        assert scaling.describe(name) == before  # a bad edit changes nothing

        screen.query_one("#min-input", Input).value = "0"
        screen.query_one("#metric-select", Select).value = "ApproximateBacklogSizePerInstance"
        screen.query_one("#target-input", Input).value = "5"
        screen.query_one("#in-input", Input).value = "1"
        screen.query_one("#out-input", Input).value = "0"
        screen.query_one("#step-checkbox", Checkbox).value = True
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ConfirmChangesScreen), timeout=30)
        await pilot.press("y")
        await until(pilot, lambda: screen.last_result is not None, timeout=30)
        assert screen.last_result.applied, screen.last_result.message()
        await until(pilot, lambda: "0 current" in title(screen), timeout=90)

        key = f"{name}/in/one.json"
        session.client("s3").put_object(Bucket=BUCKET, Key=key,
                                        Body=json.dumps({"inputs": "wake up"}).encode())
        answer = session.client("sagemaker-runtime").invoke_endpoint_async(
            EndpointName=name, InputLocation=f"s3://{BUCKET}/{key}",
            ContentType="application/json")
        await until(pilot, lambda: "1 current" in title(screen), timeout=90)
    assert app.errors == []

    out_bucket, out_key = split_s3_uri(answer["OutputLocation"])
    s3 = session.client("s3")

    def output() -> bytes | None:
        try:
            return s3.get_object(Bucket=out_bucket, Key=out_key)["Body"].read()
        except s3.exceptions.NoSuchKey:
            return None

    assert b"label" in wait_for(output, timeout_s=120, interval_s=0.5)

    state = scaling.describe(name)
    assert (state.target.min_capacity, state.target.max_capacity) == (0, 2)
    step = next(p for p in state.policies if p.policy_type == "StepScaling")
    alarm = next(a for a in state.alarms if a.name == alarm_name(name, "AllTraffic"))
    assert alarm.actions == (step.arn,) and alarm.metric == "HasBacklogWithoutCapacity"
    cw = session.client("cloudwatch").describe_alarms(AlarmNames=[alarm.name])["MetricAlarms"]
    assert cw[0]["AlarmActions"] == [step.arn]
    DeployService(session).cleanup(deployed.created)


async def test_deploy_view_shows_why_a_deploy_failed(local_stack: Any, tmp_path: Path,
                                                     demo: DeploySpec) -> None:
    """The view's path end to end: dry run, apply, Failed with the reason and the log lines."""
    from fixtures.fakes import OpsServices
    from fixtures.screen_host import Host, until
    from smconsole.ui.screens.deploy import DeployScreen
    from smconsole.ui.screens.modals import ConfirmChangesScreen
    from smconsole.ui.settings import ConsoleSettings
    from textual.widgets import Static

    session = local_stack.session()
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        empty = tmp_path / "empty"
        empty.mkdir()
        tar.add(empty, arcname="model")  # no config.json: the container cannot load it
    name = unique("ops-view")
    uri = f"s3://{BUCKET}/{name}/model.tar.gz"
    upload(session, archive, uri)
    spec = variant_of(demo, name, uri)
    prepare(session, spec)
    spec_file = tmp_path / "deploy.yaml"
    import yaml

    spec_file.write_text(yaml.safe_dump(spec.model_dump(by_alias=True, exclude_none=True)))
    service = DeployService(session)
    app = Host(lambda: DeployScreen(OpsServices(deploy=service), ConsoleSettings(), str(spec_file)))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        await pilot.press("enter")
        await until(pilot, lambda: screen.plan is not None, timeout=30)
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ConfirmChangesScreen))
        await pilot.press("y")
        await until(pilot, lambda: screen.result is not None, timeout=240)
        outcome = str(screen.query_one("#deploy-outcome", Static).render())
        assert screen.result.status == "Failed"
        assert "did not pass the ping health check" in outcome
        assert "last container log lines" in outcome, (screen.result.failure_reason, outcome)
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmChangesScreen))
        await pilot.press("y")
        await until(pilot, lambda: screen.result is None, timeout=60)
    assert app.errors == []


def test_update_moves_the_endpoint_to_a_new_config(local_stack: Any, tmp_path: Path,
                                                   demo: DeploySpec) -> None:
    session = local_stack.session()
    archive = modelpack.pack(tiny_classifier(tmp_path / "tiny"), tmp_path / "model.tar.gz")
    name = unique("ops-update")
    uri = f"s3://{BUCKET}/{name}/model.tar.gz"
    upload(session, archive, uri)
    spec = variant_of(demo, name, uri)
    prepare(session, spec)
    service = DeployService(session, now=_stepping())
    first = service.deploy(spec, timeout=240)
    assert first.ok, (first.summary(), first.log_lines)
    changed = spec.model_copy(update={"update": True, "model": spec.model.model_copy(
        update={"environment": {"MODEL_DIR": "/opt/ml/model/model", "BATCH_MAX_SIZE": "8"}})})
    plan = service.plan(changed)
    assert plan.action == "update"
    assert [c.line() for c in plan.changes] == ["+ model.environment.BATCH_MAX_SIZE: 8"]
    ticks: list[str] = []
    second = service.deploy(plan, lambda p: ticks.append(p.status), timeout=240)
    assert second.ok, (second.summary(), second.log_lines)
    assert "Updating" in ticks
    described = session.client("sagemaker").describe_endpoint(EndpointName=name)
    assert described["EndpointConfigName"] == plan.config_name
    service.cleanup(first.created + second.created)


def _stepping() -> Any:
    from datetime import UTC, datetime, timedelta

    start = datetime.now(UTC)
    calls = iter(range(10_000))
    return lambda: start + timedelta(seconds=next(calls))


def test_instance_type_change_re_registers_autoscaling(local_stack: Any, tmp_path: Path,
                                                       demo: DeploySpec) -> None:
    """AWS refuses an update that changes a scaled variant's instance type: deregister first."""
    session = local_stack.session()
    archive = modelpack.pack(tiny_classifier(tmp_path / "tiny"), tmp_path / "model.tar.gz")
    name = unique("ops-retype")
    uri = f"s3://{BUCKET}/{name}/model.tar.gz"
    upload(session, archive, uri)
    scaled = variant_of(demo, name, uri).model_copy(update={"autoscaling": ScalingSpec(
        min_capacity=1, max_capacity=2, target_tracking=[
            {"metric": "ApproximateBacklogSizePerInstance", "target": 5}])})
    prepare(session, scaled)
    service = DeployService(session, now=_stepping())
    first = service.deploy(scaled, timeout=240)
    assert first.ok, (first.summary(), first.log_lines)
    retyped = scaled.model_copy(update={
        "update": True,
        "variant": scaled.variant.model_copy(update={"instance_type": "ml.g4dn.xlarge"})})
    stages: list[tuple[str, str]] = []
    second = service.deploy(retyped, lambda p: stages.append((p.stage, p.status)), timeout=240)
    assert second.ok, (second.summary(), second.log_lines)
    assert ("autoscaling", "deregistering") in stages
    state = AutoscalingService(session).describe(name)
    assert (state.target.min_capacity, state.target.max_capacity) == (1, 2)
    assert [p.name for p in state.policies] == ["track-ApproximateBacklogSizePerInstance"]
    assert state.instance_type == "ml.g4dn.xlarge"
    service.cleanup(first.created + second.created)
