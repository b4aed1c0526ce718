"""The ledger: rows before invokes, guarded transitions, several threads and processes."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from fixtures.batch_files import write_batch
from smconsole.ledger import Ledger
from smconsole.models.requests import Status
from smconsole.specs.batch import load_batch


def planned(tmp_path: Path, n: int = 3):
    return load_batch(write_batch(tmp_path / "b", f"endpoint: e\nrequests:\n"
                                                  f"  - body: {{x: '{{{{i}}}}'}}\n    repeat: {n}\n"))


def test_batch_is_recorded_queued_with_ids_and_files(ledger: Ledger, tmp_path: Path) -> None:
    batch = ledger.create_batch(planned(tmp_path))
    assert batch.total == 3 and batch.count(Status.QUEUED) == 3
    rows = ledger.requests(batch_id=batch.batch_id)
    assert [r.inference_id for r in rows] == [f"{batch.batch_id}-{i:06d}" for i in range(3)]
    unsent = ledger.unsent(batch.batch_id)
    assert [u.filename for u in unsent] == ["000000.out", "000001.out", "000002.out"]
    assert unsent[1].body == b'{"x":1}'
    assert ledger.batches(content_hash=batch.content_hash)[0].batch_id == batch.batch_id


def test_the_same_content_gets_a_new_batch_id(ledger: Ledger, tmp_path: Path) -> None:
    a = ledger.create_batch(planned(tmp_path))
    b = ledger.create_batch(planned(tmp_path))
    assert a.batch_id != b.batch_id and a.content_hash == b.content_hash
    assert {x.batch_id for x in ledger.batches(content_hash=a.content_hash)} == {
        a.batch_id, b.batch_id}


def test_transitions_never_move_a_finished_request_back(ledger: Ledger, tmp_path: Path) -> None:
    batch = ledger.create_batch(planned(tmp_path, 1))
    bid = batch.batch_id
    ledger.mark_submitting(bid, 0)
    assert ledger.request(bid, 0).status is Status.SUBMITTING
    # The notification can arrive before the submitter records the invoke's answer.
    assert ledger.mark_finished(bid, 0, Status.SUCCEEDED, location="s3://b/o/0.out",
                                finished_at=10.0, detected_at=11.0)
    ledger.mark_pending(bid, 0, output_location="s3://b/o/0.out",
                        failure_location="s3://b/f/0.out", submitted_at=9.0)
    row = ledger.request(bid, 0)
    assert row.status is Status.SUCCEEDED and row.failure_location == "s3://b/f/0.out"
    assert row.latency == 1.0
    assert not ledger.mark_finished(bid, 0, Status.FAILED, location=None, finished_at=None,
                                    detected_at=12.0)
    assert ledger.request(bid, 0).status is Status.SUCCEEDED


def test_unsent_and_rejected(ledger: Ledger, tmp_path: Path) -> None:
    batch = ledger.create_batch(planned(tmp_path, 2))
    bid = batch.batch_id
    ledger.mark_submitting(bid, 0)
    ledger.mark_unsent(bid, 0, "Throttled")
    ledger.mark_submitting(bid, 1)
    ledger.mark_rejected(bid, 1, "ValidationError: bad")
    assert [u.index for u in ledger.unsent(bid)] == [0]
    assert ledger.request(bid, 0).error == "Throttled"
    assert ledger.request(bid, 1).status is Status.FAILED
    assert [b.batch_id for b in ledger.unfinished_batches()] == [bid]


def test_copy_requests_makes_a_new_queued_batch(ledger: Ledger, tmp_path: Path) -> None:
    batch = ledger.create_batch(planned(tmp_path, 3))
    copy = ledger.copy_requests(batch.batch_id, [2, 0], origin="retry")
    assert copy.total == 2 and copy.count(Status.QUEUED) == 2
    assert [u.body for u in ledger.unsent(copy.batch_id)] == [b'{"x":0}', b'{"x":2}']
    assert copy.content_hash != batch.content_hash


def test_threads_share_one_ledger(ledger: Ledger, tmp_path: Path) -> None:
    batch = ledger.create_batch(planned(tmp_path, 200))
    bid = batch.batch_id

    def work(indexes: range) -> None:
        for i in indexes:
            ledger.mark_submitting(bid, i)
            ledger.mark_pending(bid, i, output_location=f"s3://b/o/{i}", failure_location=None,
                                submitted_at=1.0)

    threads = [threading.Thread(target=work, args=(range(k, 200, 8),)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ledger.batch(bid).count(Status.PENDING) == 200


def test_another_process_sees_committed_rows(ledger: Ledger, tmp_path: Path) -> None:
    batch = ledger.create_batch(planned(tmp_path, 2))
    code = (f"from smconsole.ledger import Ledger; from smconsole.models.requests import Status;"
            f"l = Ledger({str(ledger.path)!r}); l.mark_submitting({batch.batch_id!r}, 1);"
            f"print(l.batch({batch.batch_id!r}).counts)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert "'submitting': 1" in out
    assert ledger.request(batch.batch_id, 1).status is Status.SUBMITTING


def test_result_feed_reports_what_any_connection_recorded_once_and_late_commits_too(
        ledger: Ledger, tmp_path: Path) -> None:
    from smconsole.services.results import ResultFeed

    batch = ledger.create_batch(planned(tmp_path, 4)).batch_id
    other = ledger.create_batch(planned(tmp_path / "o", 1)).batch_id
    for i in range(4):
        ledger.mark_submitting(batch, i)
        ledger.mark_pending(batch, i, output_location=f"s3://b/{i}", failure_location=None,
                            submitted_at=100.0)

    def finish(by: Ledger, i: int, at: float) -> None:
        assert by.mark_finished(batch, i, Status.SUCCEEDED, location=f"s3://b/{i}",
                                finished_at=at, detected_at=at)

    finish(ledger, 0, 150.0)  # before the watch began: someone else's to report
    feed = ResultFeed(ledger, [batch], since=200.0)
    assert feed.new() == []
    with Ledger(ledger.path) as console:  # another process's connection
        finish(console, 1, 210.0)
        assert [r.index for r in feed.new()] == [1]
        finish(console, 2, 300.0)
        assert [r.index for r in feed.new()] == [2]
        # Stamped before the last one seen, committed after it: still reported.
        finish(console, 3, 290.0)
    ledger.mark_rejected(other, 0, "refused")  # not one of the watched batches
    assert [r.index for r in feed.new()] == [3]
    assert feed.new() == []
    everything = ResultFeed(ledger, [batch])
    assert [r.index for r in everything.new()] == [0, 1, 3, 2]


def test_result_feed_last_read_finds_a_commit_later_than_the_look_back(
        ledger: Ledger, tmp_path: Path) -> None:
    from smconsole.services.results import ResultFeed

    batch = ledger.create_batch(planned(tmp_path, 3)).batch_id
    for i in range(3):
        ledger.mark_submitting(batch, i)
        ledger.mark_pending(batch, i, output_location=f"s3://b/{i}", failure_location=None,
                            submitted_at=100.0)
    feed = ResultFeed(ledger, [batch], since=200.0)
    for i, at in ((0, 210.0), (1, 300.0)):
        ledger.mark_finished(batch, i, Status.SUCCEEDED, location=None, finished_at=at,
                             detected_at=at)
    assert [r.index for r in feed.new()] == [0, 1]
    stamp = 300.0 - ResultFeed.LOOK_BACK_S - 10  # stamped, then committed 40 s later
    ledger.mark_finished(batch, 2, Status.SUCCEEDED, location=None, finished_at=stamp,
                         detected_at=stamp)
    assert feed.new() == []
    assert [r.index for r in feed.new(complete=True)] == [2]
    assert feed.new(complete=True) == []
