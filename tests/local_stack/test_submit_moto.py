"""The submitter over real HTTP (moto): inline vs uploaded payloads, ledger rows, refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from fixtures.batch_files import write_batch
from fixtures.moto import make_async_endpoint
from smconsole import errors
from smconsole.ledger import Ledger
from smconsole.models.requests import Status
from smconsole.services.requests import DuplicateBatch, RequestService
from smconsole.session import AwsSession
from smconsole.specs.batch import INLINE_LIMIT


def capture_invokes(session: AwsSession) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    session.client("sagemaker-runtime").meta.events.register(
        "provide-client-params.sagemaker-runtime.InvokeEndpointAsync",
        lambda params, **_: seen.append(dict(params)),
    )
    return seen


@pytest.fixture
def endpoint(moto_session: AwsSession) -> dict[str, Any]:
    info = make_async_endpoint(moto_session, "demo", sns=False)
    moto_session.client("s3").create_bucket(Bucket="inputs")
    return info


def test_small_inline_large_uploaded_and_all_recorded(
    moto_session: AwsSession, ledger: Ledger, endpoint: dict[str, Any], tmp_path: Path,
) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "big.json").write_text(json.dumps({"inputs": "x" * INLINE_LIMIT}))
    path = write_batch(tmp_path / "b", """\
endpoint: demo
input_prefix: s3://inputs/up
defaults: {custom_attributes: a=1, request_ttl_seconds: 600}
requests:
  - body: {inputs: small}
  - file: big.json
  - s3: s3://inputs/already.json
""")
    invokes = capture_invokes(moto_session)
    service = RequestService(moto_session, ledger, concurrency=4)
    steps = []
    result = service.submit(service.plan(path), progress=steps.append)
    bid = result.batch.batch_id
    assert result.sent == 3 and result.batch.count(Status.PENDING) == 3
    assert [s.done for s in steps] == [0, 1, 2, 3]
    by_id = {p["InferenceId"]: p for p in invokes}
    small, big, s3 = (by_id[f"{bid}-{i:06d}"] for i in range(3))
    assert small["Body"] == b'{"inputs":"small"}' and "InputLocation" not in small
    assert big["InputLocation"] == f"s3://inputs/up/{bid}/000001.json" and "Body" not in big
    assert s3["InputLocation"] == "s3://inputs/already.json"
    assert {p["S3OutputPathExtension"] for p in invokes} == {bid}
    assert sorted(p["Filename"] for p in invokes) == ["000000.out", "000001.out", "000002.out"]
    assert small["CustomAttributes"] == "a=1" and small["RequestTTLSeconds"] == 600
    uploaded = moto_session.client("s3").get_object(Bucket="inputs", Key=f"up/{bid}/000001.json")
    assert len(uploaded["Body"].read()) > INLINE_LIMIT
    rows = ledger.requests(batch_id=bid)
    assert all(r.output_location and r.submitted_at for r in rows)
    assert rows[1].input_location == big["InputLocation"] and rows[0].input_location is None


def test_resubmission_is_refused_unless_again(
    moto_session: AwsSession, ledger: Ledger, endpoint: dict[str, Any], tmp_path: Path,
) -> None:
    path = write_batch(tmp_path, "endpoint: demo\nrequests:\n  - body: {inputs: a}\n")
    service = RequestService(moto_session, ledger)
    first = service.submit(service.plan(path))
    with pytest.raises(DuplicateBatch, match=first.batch.batch_id):
        service.submit(service.plan(path))
    again = service.submit(service.plan(path), again=True)
    assert again.batch.batch_id != first.batch.batch_id
    assert len(ledger.batches()) == 2


def test_missing_endpoint_is_refused_before_recording(
    moto_session: AwsSession, ledger: Ledger, tmp_path: Path,
) -> None:
    path = write_batch(tmp_path, "endpoint: nowhere\nrequests:\n  - body: {}\n")
    service = RequestService(moto_session, ledger)
    with pytest.raises(errors.NotFound):
        service.submit(service.plan(path))
    assert ledger.batches() == []


def test_throttling_backs_off_then_sends(moto_url: str, ledger: Ledger, tmp_path: Path) -> None:
    session = AwsSession.local(moto_url)
    session.max_attempts = 0  # no botocore retries: only our own back-off is counted
    make_async_endpoint(session, "demo", sns=False)
    throttles = {"left": 3}

    def throttle(request: Any, **_: Any) -> AWSResponse | None:
        if throttles["left"] == 0:
            return None
        throttles["left"] -= 1
        body = b'{"__type":"ThrottlingException","message":"Rate exceeded"}'
        return AWSResponse(request.url, 400, {"x-amzn-errortype": "ThrottlingException"},
                           _Raw(body))

    session.client("sagemaker-runtime").meta.events.register(
        "before-send.sagemaker-runtime.InvokeEndpointAsync", throttle)
    slept: list[float] = []
    service = RequestService(session, ledger, concurrency=1, sleep=slept.append,
                             clock=_Clock(slept))
    path = write_batch(tmp_path, "endpoint: demo\nrequests:\n  - body: {}\n")
    result = service.submit(service.plan(path))
    assert result.sent == 1 and throttles["left"] == 0
    assert len(slept) == 3 and slept[0] < slept[-1]


class _Raw:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Any:
        yield self.data


class _Clock:
    """Time that moves only when the code under test sleeps."""

    def __init__(self, slept: list[float]) -> None:
        self.slept = slept

    def __call__(self) -> float:
        return 1000.0 + sum(self.slept)


def test_a_file_gone_before_sending_fails_only_its_request(
    moto_session: AwsSession, ledger: Ledger, endpoint: dict[str, Any], tmp_path: Path,
) -> None:
    folder = tmp_path / "gone"
    folder.mkdir()
    (folder / "small.json").write_text("{}")
    (folder / "big.json").write_text(json.dumps({"inputs": "x" * INLINE_LIMIT}))
    path = write_batch(folder, "endpoint: demo\ninput_prefix: s3://inputs/up/\nrequests:\n"
                               "  - file: small.json\n  - file: big.json\n  - body: {}\n")
    service = RequestService(moto_session, ledger)
    planned = service.plan(path)
    (folder / "small.json").unlink()
    (folder / "big.json").unlink()
    result = service.submit(planned)
    assert (result.sent, result.rejected) == (1, 2)
    rows = ledger.requests(batch_id=result.batch.batch_id)
    assert [r.status for r in rows] == [Status.FAILED, Status.FAILED, Status.PENDING]
    assert all("cannot read" in (r.error or "") for r in rows[:2])


def test_resubmit_failed_covers_the_whole_batch_not_the_rows_a_view_shows(
    moto_session: AwsSession, ledger: Ledger, endpoint: dict[str, Any], tmp_path: Path,
) -> None:
    """Issue 13 (one UI contract): the requests view re-sent the failures among the newest
    5,000 rows it displayed; the service asks the ledger for all of a batch's failures."""
    path = write_batch(tmp_path, "endpoint: demo\nrequests:\n  - body: {inputs: x}\n"
                                 "    repeat: 3\n")
    service = RequestService(moto_session, ledger, concurrency=2)
    old = service.submit(service.plan(path)).batch.batch_id
    for index in (0, 2):
        ledger.mark_finished(old, index, Status.FAILED, location=None, finished_at=None,
                             detected_at=0.0, error="boom")
    # Newer traffic pushes the old batch out of any "newest N" window.
    newer = write_batch(tmp_path / "n", "endpoint: demo\nrequests:\n  - body: {inputs: y}\n"
                                        "    repeat: 5\n")
    service.submit(service.plan(newer))
    assert {r.batch_id for r in service.requests(limit=5)} != {old}
    invokes = capture_invokes(moto_session)
    result = service.resubmit_failed(old)
    assert result is not None and result.sent == 2
    assert len(invokes) == 2
    assert service.resubmit_failed(result.batch.batch_id) is None  # nothing failed there
