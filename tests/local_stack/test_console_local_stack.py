"""The console against the embedded local stack: a Failed endpoint's detail and its live logs."""

from __future__ import annotations

import pytest
from fixtures.local_stack import ROLE_ARN, unique, upload_broken_model, wait_for
from fixtures.moto import put_logs
from fixtures.screen_host import until
from smconsole.services.registry import Services
from smconsole.ui.app import SMConsole
from smconsole.ui.screens.endpoint_detail import EndpointDetailScreen
from smconsole.ui.screens.logs import LogsScreen
from textual.widgets import Static

pytestmark = pytest.mark.local_stack


def _broken_endpoint(session, name: str) -> None:
    """An endpoint whose model.tar.gz holds no model: its container exits, the stack fails it."""
    model_uri = upload_broken_model(session, "smconsole-console-tests", name)
    sm = session.client("sagemaker")
    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE_ARN, PrimaryContainer={
        "Image": "local", "ModelDataUrl": model_uri,
        "Environment": {"MODEL_DIR": "/opt/ml/model/model"}})
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": name, "InstanceType": "ml.m5.large",
        "InitialInstanceCount": 1}])
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)


async def test_failed_endpoint_detail_and_log_follow(local_stack) -> None:
    session = local_stack.session()
    name = unique("console-broken")
    _broken_endpoint(session, name)
    sm = session.client("sagemaker")
    wait_for(lambda: sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "Failed", 120)

    app = SMConsole(Services.build(session))
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.endpoints_screen
        await until(pilot, lambda: name in table.endpoints and table.endpoints[name].described,
                    timeout=30)
        assert table.endpoints[name].status == "Failed"
        app.open_detail(name)
        detail = app.screen
        assert isinstance(detail, EndpointDetailScreen)
        await until(pilot, lambda: detail.detail is not None, timeout=30)
        reason = str(detail.query_one("#detail-failure", Static).render())
        assert "did not pass the ping health check" in reason

        await pilot.press("l")
        logs = app.screen
        assert isinstance(logs, LogsScreen)
        await until(pilot, lambda: logs.is_mounted and logs.view.event_count > 0, timeout=30)
        assert any("no config.json" in e.message for e in logs.view.events())
        before = logs.view.event_count
        put_logs(session, name, "AllTraffic/console-test", ["ERROR written after the view opened"])
        await until(pilot, lambda: logs.view.event_count > before, timeout=10)
        assert logs.view.events()[-1].message == "ERROR written after the view opened"
    sm.delete_endpoint(EndpointName=name)
