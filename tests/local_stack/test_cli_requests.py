"""`smconsole submit/watch/results` on moto: exit codes, JSON, one-line errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from fixtures.batch_files import write_batch
from fixtures.moto import make_async_endpoint
from smconsole.cli import main
from smconsole.cli.requests_cmd import ProgressBar
from smconsole.models.requests import SubmitProgress
from smconsole.session import AwsSession


def test_submit_json_duplicate_again_and_results(
    moto_session: AwsSession, moto_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    make_async_endpoint(moto_session, "demo", sns=False)
    path = write_batch(tmp_path, "endpoint: demo\nrequests:\n  - body: {inputs: a}\n"
                                 "    repeat: 3\n")
    assert main(["submit", str(path), "--json", "--endpoint-url", moto_url]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["total"] == 3 and first["counts"]["pending"] == 3

    assert main(["submit", str(path), "--endpoint-url", moto_url]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and first["batch_id"] in err and "--again" in err

    assert main(["submit", str(path), "--again", "--json", "--endpoint-url", moto_url]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["batch_id"] != first["batch_id"]

    assert main(["results", "--batch", first["batch_id"], "--no-body"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["index"] for x in lines] == [0, 1, 2]
    assert {x["status"] for x in lines} == {"pending"}


def test_resume_with_nothing_to_resume(
    moto_session: AwsSession, moto_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    make_async_endpoint(moto_session, "demo", sns=False)
    path = write_batch(tmp_path, "endpoint: demo\nrequests:\n  - body: {}\n")
    assert main(["submit", str(path), "--json", "--endpoint-url", moto_url]) == 0
    capsys.readouterr()
    assert main(["submit", str(path), "--resume", "--endpoint-url", moto_url]) == 2
    assert "nothing to resume" in capsys.readouterr().err


def test_unknown_batch_and_missing_file_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["results", "--batch", "nope"]) == 2
    assert "no batch 'nope'" in capsys.readouterr().err
    assert main(["submit", str(tmp_path / "missing.yaml"), "--endpoint-url", "http://x"]) == 2
    assert capsys.readouterr().err.strip().endswith("missing.yaml: file not found")


def test_progress_bar_off_a_terminal_prints_only_the_end() -> None:
    stream = io.StringIO()
    bar = ProgressBar(stream)
    for done in range(11):
        bar(SubmitProgress("b-1", done, 10))
    assert stream.getvalue() == f"submit b-1 [{'#' * 30}] 10/10\n"


def test_read_only_submit_refuses_before_the_ledger(
    moto_session: AwsSession, moto_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    from smconsole.ledger import Ledger

    make_async_endpoint(moto_session, "demo", sns=False)
    path = write_batch(tmp_path, "endpoint: demo\nrequests:\n  - body: {inputs: a}\n"
                                 "    repeat: 4\n")
    for extra in ([], ["--again"], ["--resume"]):
        assert main(["--read-only", "submit", str(path), *extra, "--endpoint-url", moto_url]) == 2
        err = capsys.readouterr().err
        assert err.startswith("smconsole: read-only: ") and err.count("\n") == 1
    with Ledger() as ledger:
        assert ledger.batches() == []
    # Nothing was recorded, so the real submit is not taken for a duplicate.
    assert main(["submit", str(path), "--json", "--endpoint-url", moto_url]) == 0
    assert json.loads(capsys.readouterr().out)["counts"]["pending"] == 4


def test_read_only_service_refuses_submit_and_resend_before_the_ledger(
    moto_session: AwsSession, moto_url: str, tmp_path: Path,
) -> None:
    from smconsole import errors
    from smconsole.ledger import Ledger
    from smconsole.services.requests import RequestService

    make_async_endpoint(moto_session, "demo", sns=False)
    path = write_batch(tmp_path, "endpoint: demo\nrequests:\n  - body: {}\n")
    with Ledger() as ledger:
        service = RequestService(AwsSession.local(moto_url, read_only=True), ledger)
        with pytest.raises(errors.ReadOnlyRefused, match="read-only: submit refused"):
            service.submit(service.plan(path), again=True)
        assert ledger.batches() == []
        batch = RequestService(moto_session, ledger).submit(service.plan(path)).batch
        with pytest.raises(errors.ReadOnlyRefused, match="read-only: re-send refused"):
            service.resubmit(batch.batch_id, [0])
        assert [b.batch_id for b in ledger.batches()] == [batch.batch_id]

