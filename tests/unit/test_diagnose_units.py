"""Data-log lines read by the timeline, without a server: by keyword whatever their shape, ids
as whole tokens, a time the line states."""

from __future__ import annotations

import pytest
from smconsole.services.timeline import access_ms, data_log_phase, names_id

# ---- parsing --------------------------------------------------------------------------------


@pytest.mark.parametrize(("line", "phase"), [
    ('{"inferenceId": "abc", "eventName": "RequestQueued", "timestamp": 1700000000123}',
     "queued"),
    ('{"inferenceId": "abc", "status": "Started", "instance": "i-1"}', "started"),
    ('{"inferenceId": "abc", "state": "Completed", "statusCode": 200}', "finished"),
    ("2026-12-01T10:00:00Z abc dequeued and sent to the model container", "started"),
    ("2026-12-01T10:00:00Z request abc received", "queued"),
    ("request abc failed: ClientError 500", "finished"),
    ("abc 42", None),
    # The local stack's own format (docs/local-stack.md).
    ("2026-12-02T00:01:02.123Z queued inference_id=abc", "queued"),
    ("2026-12-02T00:01:02.400Z started inference_id=abc waited_ms=277", "started"),
    (("2026-12-02T00:01:02.950Z finished inference_id=abc processing_ms=550 "
     "output=s3://b/failed-outputs/abc.out"), "finished"),
])
def test_data_log_lines_are_read_by_keyword_whatever_their_shape(line: str,
                                                                 phase: str | None) -> None:
    assert data_log_phase(line)[0] == phase


def test_an_id_or_location_naming_a_phase_does_not_decide_it() -> None:
    rid = "nightly-failed-retry-000003"
    assert data_log_phase(f"2026-12-02T00:01:02Z queued inference_id={rid}", rid)[0] == "queued"
    assert data_log_phase(f"started inference_id={rid} output=s3://b/done/x", rid)[0] == "started"


def test_a_time_the_line_states_wins_and_ids_match_as_whole_tokens() -> None:
    assert data_log_phase('{"eventName": "queued", "timestamp": 1700000000123}')[1] == \
        pytest.approx(1700000000.123)
    assert names_id("inference-id=b-000001 200", "b-000001")
    assert not names_id("inference-id=b-0000012 200", "b-000001")
    assert not names_id("inference-id=xb-000001 200", "b-000001")
    assert access_ms('"POST /invocations HTTP/1.1" 200 12.5ms inference-id=x') == 0.0125
