"""`smconsole endpoints` and `smconsole logs` against moto, in a subprocess like a script."""

from __future__ import annotations

import json
import subprocess
import sys

from fixtures.moto import make_endpoint, put_logs


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    code = ("import sys; from smconsole.cli import main; rc = main(sys.argv[1:]); "
            "sys.stderr.write('TEXTUAL-LOADED\\n' if 'textual' in sys.modules else ''); "
            "sys.exit(rc)")
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=60, check=False)


def test_endpoints_json(moto_url, moto_session) -> None:
    make_endpoint(moto_session, "cli-one")
    make_endpoint(moto_session, "cli-two", is_async=False)
    result = _run("endpoints", "--json", "--endpoint-url", moto_url, "--region", "us-east-1")
    assert result.returncode == 0, result.stderr
    assert "TEXTUAL-LOADED" not in result.stderr
    rows = json.loads(result.stdout)
    assert [(r["name"], r["kind"], r["instance_type"]) for r in rows] == [
        ("cli-one", "async", "ml.m5.large"), ("cli-two", "real-time", "ml.m5.large")]
    table = _run("--endpoint-url", moto_url, "--region", "us-east-1", "endpoints")
    assert table.stdout.splitlines()[0].split()[:3] == ["NAME", "STATUS", "KIND"]


def test_logs_since_and_filter(moto_url, moto_session) -> None:
    put_logs(moto_session, "cli", "AllTraffic/i-1", ["INFO up", "ERROR broke", "INFO still up"])
    result = _run("logs", "cli", "--since", "1h", "--filter", "ERROR", "--endpoint-url", moto_url,
                  "--region", "us-east-1")
    assert result.returncode == 0, result.stderr
    assert "TEXTUAL-LOADED" not in result.stderr
    (line,) = result.stdout.splitlines()
    assert line.endswith("AllTraffic/i-1 ERROR broke")
    missing = _run("logs", "absent", "--endpoint-url", moto_url, "--region", "us-east-1")
    assert missing.returncode == 2
    assert len(missing.stderr.strip().splitlines()) == 1
    bad = _run("logs", "cli", "--since", "soon", "--endpoint-url", moto_url,
               "--region", "us-east-1")
    assert bad.returncode == 2 and "5m, 1h" in bad.stderr
