"""Acceptance on the local stack: real container, real MiniLM, real S3/SNS/SQS over HTTP."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fixtures.batch_files import write_batch
from fixtures.local_stack import (
    LocalStack,
    deploy_async_endpoint,
    ensure_bucket,
    unique,
    wait_for,
)
from smconsole.cli import main
from smconsole.ledger import Ledger
from smconsole.models.requests import Status
from smconsole.services.requests import RequestService
from smconsole.services.watcher import OutputWatcher

pytestmark = [pytest.mark.local_stack, pytest.mark.slow]

BUCKET = "smconsole-tests"


@pytest.fixture(scope="module")
def sns_endpoint(local_stack: LocalStack) -> dict[str, Any]:
    return deploy_async_endpoint(local_stack.session(), unique("rq-sns"), sns=True,
                                 bucket=BUCKET)


@pytest.fixture(scope="module")
def s3_endpoint(local_stack: LocalStack) -> dict[str, Any]:
    return deploy_async_endpoint(local_stack.session(), unique("rq-s3"), sns=False,
                                 bucket=BUCKET)


def watch(local_stack: LocalStack, ledger: Ledger, batch_id: str, **kw: Any) -> OutputWatcher:
    watcher = OutputWatcher(local_stack.session(), ledger, tick=0.5, **kw)
    watcher.run(batch_ids=[batch_id], until_done=True)
    return watcher


def embedding(watcher: OutputWatcher, location: str | None) -> list[list[float]]:
    assert location
    body = json.loads(watcher.fetch(location).data)
    assert body["dimension"] == 384
    return body["embeddings"]


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def test_mixed_batch_ends_with_real_outputs_and_the_rejected_one_failed(
    local_stack: LocalStack, sns_endpoint: dict[str, Any], ledger: Ledger, tmp_path: Path,
) -> None:
    session = local_stack.session()
    folder = tmp_path / "batch"
    folder.mkdir()
    (folder / "same.json").write_text(json.dumps({"inputs": "The cat sat on the mat."}))
    # Over the inline limit: uploaded and sent by InputLocation.
    (folder / "big.json").write_text(json.dumps({"inputs": "word " * 30_000}))
    key = f"given/{unique('in')}.json"
    session.client("s3").put_object(Bucket=BUCKET, Key=key,
                                    Body=json.dumps({"inputs": "A kitten sat on a rug."}))
    path = write_batch(folder, f"""\
endpoint: {sns_endpoint['endpoint']}
input_prefix: s3://{BUCKET}/inputs/
requests:
  - body: {{inputs: "The cat sat on the mat."}}
  - file: same.json
  - s3: s3://{BUCKET}/{key}
  - body: {{inputs: "Stock markets fell sharply on Monday."}}
  - file: big.json
  - body: {{inputs: "x", colour: red}}
""")
    service = RequestService(session, ledger)
    result = service.submit(service.plan(path))
    assert result.sent == 6
    watcher = watch(local_stack, ledger, result.batch.batch_id)
    rows = ledger.requests(batch_id=result.batch.batch_id)
    assert [r.status for r in rows] == [Status.SUCCEEDED] * 5 + [Status.FAILED]
    assert rows[4].input_location and rows[4].input_location.startswith(f"s3://{BUCKET}/inputs/")
    cat, same, kitten, stocks, big = (embedding(watcher, r.output_location)[0] for r in rows[:5])
    assert cosine(cat, same) > 0.9999  # inline and file bodies are the same request
    assert cosine(cat, kitten) > cosine(cat, stocks) + 0.2
    assert len(big) == 384
    failed = rows[5]
    assert "colour" in (failed.error or "")  # the container's own reason, shown in the list
    body = watcher.fetch(failed.failure_location or "").data.decode()
    assert "colour" in body
    assert "ReceiveMessage" in watcher.stats.calls


def test_bad_yaml_is_located_and_nothing_is_sent(
    local_stack: LocalStack, s3_endpoint: dict[str, Any], ledger: Ledger, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    session = local_stack.session()
    bucket = unique("rq-untouched")
    ensure_bucket(session, bucket)
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "big.json").write_text(json.dumps({"inputs": "word " * 30_000}))
    good = (f"endpoint: {s3_endpoint['endpoint']}\ninput_prefix: s3://{bucket}/in/\n"
            "requests:\n  - file: big.json\n  - body: {inputs: fine}\n")
    cases = {
        "syntax": (good + "  - body: {inputs: [unclosed\n", 7, "flow sequence at line 6"),
        "unknown": (good + "  - body: {}\n    colour: red\n", 7, "requests[2].colour"),
        "missing": (good + "  - file: nowhere.json\n", 6, "requests[2].file"),
        "escape": (good + "  - file: ../../etc/passwd\n", 6, "requests[2].file"),
        "type": (good + "  - body: {}\n    repeat: many\n", 7, "requests[2].repeat"),
    }
    for name, (text, line, field) in cases.items():
        path = write_batch(folder, text, f"{name}.yaml")
        code = main(["submit", str(path), "--endpoint-url", local_stack.url])
        err = capsys.readouterr().err
        assert code == 2, name
        assert f"{path}:{line}:" in err and field in err, (name, err)
        assert "Traceback" not in err
    assert session.client("s3").list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0
    assert ledger.batches() == []


def test_killed_submitter_resumes_without_losing_a_record(
    local_stack: LocalStack, s3_endpoint: dict[str, Any], ledger: Ledger, tmp_path: Path,
    state_dir: Path,
) -> None:
    n = 150
    path = write_batch(tmp_path / "kill", f"""\
endpoint: {s3_endpoint['endpoint']}
requests:
  - body: {{inputs: "sentence number {{{{i}}}}"}}
    repeat: {n}
""")
    env = {**os.environ, "SMCONSOLE_STATE_DIR": str(state_dir)}
    command = [sys.executable, "-m", "smconsole", "submit", "--endpoint-url", local_stack.url,
               str(path), "--concurrency", "1"]
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    try:
        def some_sent() -> bool:
            batches = ledger.batches()
            return bool(batches) and batches[0].count(Status.PENDING) >= 20
        wait_for(some_sent, timeout_s=60, interval_s=0.02)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    (batch,) = ledger.batches()
    assert batch.total == n and sum(batch.counts.values()) == n
    assert batch.unsent > 0, "the submitter finished before it was killed"
    again = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert again.returncode == 2 and "submitted before" in again.stderr  # refused, not doubled
    resumed = subprocess.run([*command, "--resume"], env=env, capture_output=True, text=True,
                             timeout=300, check=False)
    assert resumed.returncode == 0, resumed.stderr
    batch = ledger.batch(batch.batch_id)
    assert batch.unsent == 0 and sum(batch.counts.values()) == n
    rows = ledger.requests(batch_id=batch.batch_id)
    assert [r.index for r in rows] == list(range(n))
    assert len({r.inference_id for r in rows}) == n
    watcher = watch(local_stack, ledger, batch.batch_id)
    assert ledger.batch(batch.batch_id).count(Status.SUCCEEDED) == n
    assert "ReceiveMessage" not in watcher.stats.calls  # no topics: S3 listing
    listed = local_stack.client("s3").list_objects_v2(
        Bucket=BUCKET, Prefix=f"{s3_endpoint['endpoint']}/output/{batch.batch_id}/")
    assert listed["KeyCount"] == n  # one output per request: resent ones overwrote theirs


def test_watch_by_listing_and_by_notifications_via_cli(
    local_stack: LocalStack, s3_endpoint: dict[str, Any], sns_endpoint: dict[str, Any],
    ledger: Ledger, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    ids = []
    for info in (s3_endpoint, sns_endpoint):
        path = write_batch(tmp_path / info["endpoint"], f"""\
endpoint: {info['endpoint']}
requests:
  - body: {{inputs: "watch me {{{{i}}}}"}}
    repeat: 5
""")
        assert main(["submit", str(path), "--json", "--endpoint-url", local_stack.url]) == 0
        ids.append(json.loads(capsys.readouterr().out)["batch_id"])
    for batch_id in ids:
        code = main(["watch", "--batch", batch_id, "--json", "--tick", "0.5",
                     "--endpoint-url", local_stack.url])
        lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
        assert code == 0 and sorted(x["index"] for x in lines) == list(range(5))
        assert {x["status"] for x in lines} == {"succeeded"}
    # submit --wait: send and follow in one command (notifications on this endpoint).
    path = write_batch(tmp_path / "wait", f"""\
endpoint: {sns_endpoint['endpoint']}
requests:
  - body: {{inputs: "wait for me {{{{i}}}}"}}
    repeat: 3
""")
    assert main(["submit", str(path), "--wait", "--json", "--tick", "0.5",
                 "--endpoint-url", local_stack.url]) == 0
    waited = json.loads(capsys.readouterr().out)
    assert waited["counts"]["succeeded"] == 3 and waited["counts"]["pending"] == 0
    assert main(["results", "--batch", ids[1], "--endpoint-url", local_stack.url]) == 0
    exported = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert len(exported) == 5 and all(len(x["output"]["embeddings"][0]) == 384
                                      for x in exported)
    assert OutputWatcher(local_stack.session(), ledger).queue() is not None
    assert main(["watch", "--remove-queue", "--endpoint-url", local_stack.url]) == 0
    assert OutputWatcher(local_stack.session(), ledger).queue() is None



def test_submit_wait_prints_every_result_while_a_console_watches_the_same_ledger(
    local_stack: LocalStack, sns_endpoint: dict[str, Any], ledger: Ledger, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The issue's race: a console's watcher and `submit --wait` read one SQS queue (one per
    ledger), so a notification reaches only one of them. Here the console is made to win two
    requests in three, as it did in the issue: it records them in the ledger as soon as they are
    pending (what it does with a notification it received), and the submitter still prints
    every result."""
    import threading
    import time

    path = write_batch(tmp_path / "race", f"""\
endpoint: {sns_endpoint['endpoint']}
requests:
  - body: {{inputs: "raced {{{{i}}}}"}}
    repeat: 12
""")
    stop = threading.Event()
    taken: list[int] = []

    def console() -> None:
        with Ledger(ledger.path) as mine:
            while not stop.is_set():
                for request in mine.requests(statuses=[Status.PENDING]):
                    if request.index % 3 and mine.mark_finished(
                            request.batch_id, request.index, Status.SUCCEEDED,
                            location=request.output_location, finished_at=time.time(),
                            detected_at=time.time()):
                        taken.append(request.index)
                time.sleep(0.01)

    thread = threading.Thread(target=console)
    thread.start()
    try:
        code = main(["submit", str(path), "--wait", "--tick", "0.5",
                     "--endpoint-url", local_stack.url])
    finally:
        stop.set()
        thread.join(timeout=60)
    out = capsys.readouterr().out.splitlines()
    printed = sorted(int(line.split()[1].rsplit("/", 1)[1]) for line in out
                     if line.startswith("succeeded"))
    assert taken, "the console took no request: the race did not happen"
    assert code == 0 and printed == list(range(12)), out
    assert out[-1].endswith("(12 succeeded)")

async def test_requests_screen_with_real_services(
    local_stack: LocalStack, s3_endpoint: dict[str, Any], ledger: Ledger, tmp_path: Path,
) -> None:
    from types import SimpleNamespace

    from fixtures.fakes import RequestsHost
    from fixtures.screen_host import until
    from smconsole.ui.screens.requests import RequestsScreen
    from textual.widgets import DataTable, Input, Static

    session = local_stack.session()
    services = SimpleNamespace(requests=RequestService(session, ledger),
                               outputs=OutputWatcher(session, ledger, tick=0.5),
                               read_only=False)
    path = write_batch(tmp_path / "tui", f"""\
endpoint: {s3_endpoint['endpoint']}
requests:
  - body: {{inputs: "from the console {{{{i}}}}"}}
    repeat: 4
  - body: {{inputs: "bad", colour: red}}
""")
    from smconsole.ui.settings import ConsoleSettings

    app = RequestsHost(lambda: RequestsScreen(services, ConsoleSettings()))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("s")
        app.screen.query_one("#batch-path", Input).value = str(path)
        await pilot.press("enter")
        screen = app.screen

        def finished() -> bool:
            return len(screen.rows) == 5 and all(r.status.finished for r in screen.rows.values())

        await until(pilot, finished, timeout=120)
        statuses = sorted(r.status.value for r in screen.rows.values())
        assert statuses == ["failed"] + ["succeeded"] * 4
        table = screen.query_one("#requests-table", DataTable)
        table.move_cursor(row=0)
        await pilot.press("enter")
        body = screen.query_one("#preview-body", Static)
        try:
            await until(pilot, lambda: "× 384 numbers" in str(body.render()), timeout=30)
        except AssertionError:
            raise AssertionError(str(body.render()) + repr(app.errors)) from None
        table.move_cursor(row=4)
        await pilot.press("enter")
        await until(pilot, lambda: "colour" in str(body.render()), timeout=30)
        assert app.errors == []
