"""Acceptance on the local stack: a request's timeline for a success and a failure, and replay.

Real daemon over HTTP, the bundled container with a tiny summarizer that fails (a real 500 from
its forward pass) for long texts, SNS → SQS read by the watcher.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fixtures.local_stack import LocalStack, deploy_async_endpoint, unique, wait_for
from smconsole.ledger import Ledger
from smconsole.models.requests import Status
from smconsole.services.requests import AlreadyResent, RequestService
from smconsole.services.timeline import TimelineService
from smconsole.services.watcher import OutputWatcher

pytestmark = [pytest.mark.local_stack, pytest.mark.slow]

EVERY_STEP = ("recorded", "accepted", "queued", "started", "container", "finished", "written",
              "notified", "detected")


@pytest.fixture(scope="module")
def failing_endpoint(local_stack: LocalStack, failing_summarizer: Path) -> dict[str, Any]:
    return deploy_async_endpoint(local_stack.session(), unique("tl-fail"),
                                 model=failing_summarizer, sns=True)


@pytest.fixture(scope="module")
def good_endpoint(local_stack: LocalStack, summarizer: Path) -> dict[str, Any]:
    return deploy_async_endpoint(local_stack.session(), unique("tl-good"),
                                 model=summarizer, sns=True)


def send_batch(local_stack: LocalStack, ledger: Ledger, tmp_path: Path, endpoint: str,
               texts: list[str], *, subscribe_first: bool = True) -> str:
    if subscribe_first:
        # As a running console's watcher does: its queue is subscribed to the endpoint's
        # topics before these requests finish, so their notifications are read, not lost.
        send_batch(local_stack, ledger, tmp_path / "warm-up", endpoint, ["warm up"],
                   subscribe_first=False)
    tmp_path.mkdir(parents=True, exist_ok=True)
    entries = "\n".join(f"  - body: {{text: {json.dumps(t)}, max_length: 8, min_length: 2}}"
                        for t in texts)
    path = tmp_path / "batch.yaml"
    path.write_text(f"endpoint: {endpoint}\nrequests:\n{entries}\n")
    service = RequestService(local_stack.session(), ledger)
    result = service.submit(service.plan(path))
    assert result.sent == len(texts)
    watch(local_stack, ledger, result.batch.batch_id)
    return result.batch.batch_id


def watch(local_stack: LocalStack, ledger: Ledger, batch_id: str) -> None:
    OutputWatcher(local_stack.session(), ledger, tick=0.5).run(batch_ids=[batch_id],
                                                               until_done=True)


def assert_complete(timeline: Any) -> None:
    names = [s.name for s in timeline.steps]
    missing = {s.name: s.missing for s in timeline.steps if not s.present}
    # The local stack writes the platform's data-log lines: every step has its time.
    assert set(EVERY_STEP) <= set(names)
    assert not missing, missing
    assert {line.kind for line in timeline.lines} == {"data-log", "container"}
    assert all(s.source for s in timeline.steps), "every step names its source"
    assert timeline.ordered, [(s.name, s.at) for s in timeline.steps]
    for span in timeline.spans:
        assert span.seconds is not None, span
        assert span.seconds >= 0
    assert timeline.instance and timeline.instance.startswith("AllTraffic/")
    queued, started, finished = (timeline.step(n) for n in ("queued", "started", "finished"))
    assert queued.source.endswith("/data-log") and queued.source == started.source == finished.source
    assert timeline.span("processing").basis == "started → finished"


def test_the_timeline_of_a_success_and_of_a_failure_has_every_step(
    local_stack: LocalStack, failing_endpoint: dict[str, Any], ledger: Ledger, tmp_path: Path,
    failing_text: str,
) -> None:
    batch_id = send_batch(local_stack, ledger, tmp_path, failing_endpoint["endpoint"],
                          ["the cat sat on the mat", failing_text])
    ok, bad = ledger.requests(batch_id=batch_id)[-2:]
    assert (ok.status, bad.status) == (Status.SUCCEEDED, Status.FAILED)
    def complete(ref: str) -> tuple[TimelineService, Any] | None:
        # Log lines reach CloudWatch a second or so after they are written (the outcome may
        # be seen sooner): open the request as a person would, once they are there.
        service = TimelineService(local_stack.session(), ledger)
        timeline = service.timeline(ref)
        return (service, timeline) if all(s.present for s in timeline.steps) else None

    service, good = wait_for(lambda: complete(ok.inference_id), timeout_s=30)
    assert_complete(good)
    assert good.output is not None and good.output.location == ok.output_location
    assert good.output.content_type == "application/json"
    assert good.output.size == len(good.output.preview.encode()) and "summary" in good.output.preview
    assert good.notification and good.notification["invocationStatus"] == "Completed"
    container = [s for s in good.steps if s.name == "container"]
    assert container[0].detail.count(ok.inference_id) == 1 and '" 200 ' in container[0].detail

    _, failed = wait_for(lambda: complete(f"{batch_id}/1"), timeout_s=30)  # the view's name
    assert_complete(failed)
    assert failed.request.inference_id == bad.inference_id
    assert failed.output is not None and failed.output.location == bad.failure_location
    assert "model_error" in failed.output.preview
    assert failed.notification and failed.notification["invocationStatus"] == "Failed"
    assert "failureReason" in failed.notification
    assert "Failed: " in failed.step("notified").detail
    assert '" 500 ' in next(s for s in failed.steps if s.name == "container").detail

    # One FilterLogEvents per request opened; opening it again within moments costs none.
    assert good.log_calls == 1 and failed.log_calls == 1
    assert service.timeline(ok.inference_id).log_calls == 0

    # The CLI's JSON form carries the same steps.
    out = subprocess.run(
        [sys.executable, "-m", "smconsole", "request", bad.inference_id, "--json",
         "--endpoint-url", local_stack.url],
        capture_output=True, text=True, timeout=120, check=True)
    data = json.loads(out.stdout)
    assert data["request"]["inference_id"] == bad.inference_id
    assert [s["name"] for s in data["steps"]][:2] == ["recorded", "accepted"]
    assert data["output"]["location"] == bad.failure_location
    assert data["notification"]["invocationStatus"] == "Failed"


def test_an_unknown_request_is_a_clear_error(local_stack: LocalStack) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "smconsole", "request", "no-such-id", "--endpoint-url",
         local_stack.url], check=False, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "no request 'no-such-id'" in out.stderr and "Traceback" not in out.stderr


def test_replay_sends_the_failed_ones_once_to_another_endpoint(
    local_stack: LocalStack, failing_endpoint: dict[str, Any], good_endpoint: dict[str, Any],
    ledger: Ledger, tmp_path: Path, failing_text: str,
) -> None:
    texts = ["a short one", failing_text, "another short one", failing_text + " again"]
    batch_id = send_batch(local_stack, ledger, tmp_path, failing_endpoint["endpoint"], texts)
    before = {r.index: r for r in ledger.requests(batch_id=batch_id)}
    assert [r.status for r in before.values()] == [
        Status.SUCCEEDED, Status.FAILED, Status.SUCCEEDED, Status.FAILED]

    # The long texts fail on the small model; the other endpoint takes them.
    out = subprocess.run(
        [sys.executable, "-m", "smconsole", "submit", "--retry-failed", batch_id,
         "--endpoint", good_endpoint["endpoint"], "--wait", "--json",
         "--endpoint-url", local_stack.url],
        check=False, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["original"] == batch_id and summary["sent"] == 2
    assert summary["endpoint"] == good_endpoint["endpoint"]
    assert summary["counts"]["succeeded"] == 2
    retry = summary["batch_id"]
    assert ledger.copies_of(batch_id) == {1: [(retry, 0)], 3: [(retry, 1)]}
    assert ledger.copied_from(retry) == batch_id
    # The originals keep their history.
    assert {r.index: r for r in ledger.requests(batch_id=batch_id)} == before

    # Asked again by accident: nothing is sent.
    with pytest.raises(AlreadyResent, match="pass --again"):
        RequestService(local_stack.session(), ledger).resubmit_failed(batch_id)
    again = subprocess.run(
        [sys.executable, "-m", "smconsole", "submit", "--retry-failed", batch_id,
         "--endpoint-url", local_stack.url], check=False, capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and "re-sent already" in again.stderr
    assert len(ledger.batches()) == 3  # the warm-up, the batch, its one retry
