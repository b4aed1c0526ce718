"""`smconsole deploy` and `smconsole scale` end to end against moto over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from smconsole.cli import main
from smconsole.session import AwsSession


def cli(capsys: pytest.CaptureFixture[str], url: str, *args: str) -> tuple[int, str, str]:
    code = main([*args, "--endpoint-url", url])
    out, err = capsys.readouterr()
    return code, out, err


def test_deploy_dry_run_then_deploy_then_scale(capsys: pytest.CaptureFixture[str], moto_url: str,
                                               moto_session: AwsSession,
                                               demo_spec_path: Path) -> None:
    code, out, _ = cli(capsys, moto_url, "deploy", str(demo_spec_path), "--dry-run")
    assert code == 0 and out.startswith("create endpoint smconsole-demo")
    assert moto_session.client("sagemaker").list_endpoints()["Endpoints"] == []

    code, out, err = cli(capsys, moto_url, "deploy", str(demo_spec_path), "--json")
    assert code == 0, err
    answer = json.loads(out)
    assert answer["ok"] and answer["result"]["status"] == "InService"

    code, out, _ = cli(capsys, moto_url, "scale", "smconsole-demo", "--min", "1", "--max", "3",
                       "--dry-run")
    assert out.splitlines()[0] == (
        "~ target endpoint/smconsole-demo/variant/AllTraffic: 0..2 -> 1..3")

    code, out, _ = cli(capsys, moto_url, "scale", "smconsole-demo", "--min", "1", "--max", "3",
                       "--json")
    answer = json.loads(out)
    assert code == 0 and answer["applied"]
    assert answer["after"]["target"]["min_capacity"] == 1

    code, out, _ = cli(capsys, moto_url, "scale", "smconsole-demo", "--show")
    assert "target: 1..3" in out and "policy scale-out-from-zero" in out
    assert "alarm smconsole-demo-AllTraffic-HasBacklogWithoutCapacity" in out


def test_bad_edit_is_one_line_and_changes_nothing(capsys: pytest.CaptureFixture[str],
                                                  moto_url: str, demo_spec_path: Path) -> None:
    cli(capsys, moto_url, "deploy", str(demo_spec_path), "--json")
    code, out, err = cli(capsys, moto_url, "scale", "smconsole-demo", "--min", "3", "--max", "2")
    assert code == 2 and err == "smconsole: min capacity 3 exceeds max capacity 2\n"
    code, out, _ = cli(capsys, moto_url, "scale", "smconsole-demo", "--show")
    assert "target: 0..2" in out


def test_scale_with_policy_file(capsys: pytest.CaptureFixture[str], moto_url: str,
                                demo_spec_path: Path, tmp_path: Path) -> None:
    cli(capsys, moto_url, "deploy", str(demo_spec_path), "--json")
    policy = tmp_path / "p.yaml"
    policy.write_text("target_tracking:\n  - metric: ApproximateAgeOfOldestRequest\n"
                      "    target: 60\n")
    code, out, _ = cli(capsys, moto_url, "scale", "smconsole-demo", "--policy", str(policy))
    assert code == 0
    assert "+ policy track-ApproximateAgeOfOldestRequest" in out
    assert "- policy scale-out-from-zero" in out and "applied" in out


def test_bad_spec_is_located_and_nothing_is_called(capsys: pytest.CaptureFixture[str],
                                                   moto_url: str, tmp_path: Path) -> None:
    spec = tmp_path / "d.yaml"
    spec.write_text("name: x\nmodel: {}\n")
    code, _, err = cli(capsys, moto_url, "deploy", str(spec))
    assert code == 2
    assert f"{spec}:2: model.image:" in err


def test_connection_options_before_the_subcommand(capsys: pytest.CaptureFixture[str],
                                                  moto_url: str, demo_spec_path: Path) -> None:
    assert main(["--endpoint-url", moto_url, "deploy", str(demo_spec_path), "--dry-run"]) == 0
    assert capsys.readouterr().out.startswith("create endpoint smconsole-demo")


def test_read_only_scale_and_deploy_say_read_only_and_change_nothing(
        capsys: pytest.CaptureFixture[str], moto_url: str, demo_spec_path: Path) -> None:
    cli(capsys, moto_url, "deploy", str(demo_spec_path), "--json")
    code, out, err = cli(capsys, moto_url, "--read-only", "scale", "smconsole-demo",
                         "--min", "1", "--max", "3")
    assert code == 2, out + err
    assert err == ("smconsole: read-only: scale smconsole-demo refused; nothing was changed\n")
    assert "also failed" not in out + err and "rolled back" not in out + err
    code, out, _ = cli(capsys, moto_url, "scale", "smconsole-demo", "--show")
    assert "target: 0..2" in out
    code, out, err = cli(capsys, moto_url, "--read-only", "deploy", str(demo_spec_path))
    assert code == 2 and "read-only: deploy smconsole-demo refused" in err
    # The dry run reads only: still allowed.
    code, out, _ = cli(capsys, moto_url, "--read-only", "scale", "smconsole-demo",
                       "--min", "1", "--max", "3", "--dry-run")
    assert code == 0 and "0..2 -> 1..3" in out


def test_delete_an_endpoint_with_or_without_its_config_and_model(
        capsys: pytest.CaptureFixture[str], moto_url: str, moto_session: AwsSession,
        demo_spec_path: Path) -> None:
    sm = moto_session.client("sagemaker")
    cli(capsys, moto_url, "deploy", str(demo_spec_path), "--json")
    config = sm.describe_endpoint(EndpointName="smconsole-demo")["EndpointConfigName"]
    # Not on a terminal and no --yes: nothing is deleted.
    code, _, err = cli(capsys, moto_url, "delete", "smconsole-demo")
    assert code == 2 and "pass --yes" in err
    assert sm.describe_endpoint(EndpointName="smconsole-demo")["EndpointName"]
    code, out, err = cli(capsys, moto_url, "--read-only", "delete", "smconsole-demo", "--yes")
    assert code == 2 and err.startswith("smconsole: read-only: delete smconsole-demo refused")

    code, out, err = cli(capsys, moto_url, "delete", "smconsole-demo", "--all", "--yes",
                         "--json")
    assert code == 0, err
    answer = json.loads(out)
    assert sorted((r["kind"], r["name"]) for r in answer["deleted"]) == sorted(
        [("endpoint", "smconsole-demo"), ("endpoint-config", config), ("model", config)])
    assert answer["failed"] == [] and answer["kept"] == []
    assert sm.list_endpoints()["Endpoints"] == []
    assert sm.list_endpoint_configs()["EndpointConfigs"] == []
    assert sm.list_models()["Models"] == []
    targets = moto_session.client("application-autoscaling").describe_scalable_targets(
        ServiceNamespace="sagemaker")["ScalableTargets"]
    assert targets == []

    cli(capsys, moto_url, "deploy", str(demo_spec_path), "--json")
    code, out, _ = cli(capsys, moto_url, "delete", "smconsole-demo", "--yes")
    assert code == 0 and out.splitlines()[0] == "deleted endpoint smconsole-demo"
    assert "kept endpoint-config" in out
    assert len(sm.list_endpoint_configs()["EndpointConfigs"]) == 1
    code, _, err = cli(capsys, moto_url, "delete", "smconsole-demo", "--yes")
    assert code == 2 and err.count("\n") == 1 and "smconsole-demo" in err


def _delete_on_a_terminal(url: str, name: str, typed: str) -> tuple[int, str]:
    """`smconsole delete NAME` with stdin on a pseudo-terminal, as a person runs it."""
    import os
    import pty
    import subprocess
    import sys

    leader, follower = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "smconsole", "delete", name, "--all", "--endpoint-url", url],
            stdin=follower, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        os.write(leader, typed.encode() + b"\n")
        out, err = process.communicate(timeout=60)
    finally:
        os.close(leader)
        os.close(follower)
    return process.returncode, out + err


def test_delete_on_a_terminal_asks_for_the_name(
        capsys: pytest.CaptureFixture[str], moto_url: str, moto_session: AwsSession,
        demo_spec_path: Path) -> None:
    cli(capsys, moto_url, "deploy", str(demo_spec_path), "--json")
    code, text = _delete_on_a_terminal(moto_url, "smconsole-demo", "smconsole-dem")
    assert code == 2 and "not confirmed; nothing was deleted" in text
    assert "about to delete:\n  endpoint smconsole-demo\n  endpoint-config" in text
    sm = moto_session.client("sagemaker")
    assert len(sm.list_endpoints()["Endpoints"]) == 1
    code, text = _delete_on_a_terminal(moto_url, "smconsole-demo", "smconsole-demo")
    assert code == 0 and "deleted endpoint smconsole-demo" in text
    assert sm.list_endpoints()["Endpoints"] == [] and sm.list_models()["Models"] == []
