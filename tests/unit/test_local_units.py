"""The local stack's pure parts: naming, notification shape, request identification, steps."""

from __future__ import annotations

import base64
import json

from smconsole.local.daemon import notify, queue, scaling, wire


def test_output_locations_follow_sagemaker_naming() -> None:
    config = {"S3OutputPath": "s3://b/out/", "S3FailurePath": "s3://b/fail"}
    assert queue.output_locations(config, "id-1", None, None) == (
        "s3://b/out/id-1.out", "s3://b/fail/id-1-error.out")
    assert queue.output_locations(config, "id-1", "/batch/7/", "x.json") == (
        "s3://b/out/batch/7/x.json", "s3://b/fail/batch/7/x.json")
    # Without a failure path, errors land beside the outputs.
    assert queue.output_locations({"S3OutputPath": "s3://b/o"}, "i", None, None)[1] == \
        "s3://b/o/i-error.out"


def test_notification_shape() -> None:
    body = notify.message(
        region="us-east-1", endpoint="ep", inference_id="i", received=1700000000.25,
        finished=1700000001.5, succeeded=False, input_location="s3://b/in.json",
        request_content_type="application/json", response_content_type="application/json",
        location="s3://b/fail/i-error.out", failure_reason="ClientError: 500",
        response_body=b'{"error": "x"}', accept="application/json")
    assert body["receivedTime"] == "2023-11-14T22:13:20.250Z"
    assert body["invocationStatus"] == "Failed"
    assert body["responseParameters"] == {"contentType": "application/json",
                                          "failureLocation": "s3://b/fail/i-error.out"}
    assert body["requestParameters"]["inputLocation"] == "s3://b/in.json"
    assert body["requestParameters"]["accept"] == "application/json"
    assert body["responseBody"]["encoding"] == "BASE64"  # whatever the content type
    assert json.loads(base64.b64decode(body["responseBody"]["content"])) == {"error": "x"}
    assert notify.inline_body(b"\xff\xfe")["encoding"] == "BASE64"
    assert "content" not in notify.inline_body(b"x" * (notify.MAX_INLINE_RESPONSE + 1))
    test = notify.test_message(region="us-east-1", endpoint="ep", now=1700000000.0)
    assert test["eventName"] == "TestNotification"
    assert test["requestParameters"] == {"endpointName": "ep"}


def _auth(service: str) -> str:
    return (f"AWS4-HMAC-SHA256 Credential=AK/20261125/eu-west-1/{service}/aws4_request, "
            "SignedHeaders=host, Signature=0")


def test_identify_protocols() -> None:
    json_call = wire.identify({"HTTP_AUTHORIZATION": _auth("sagemaker"), "REQUEST_METHOD": "POST",
                               "HTTP_X_AMZ_TARGET": "SageMaker.CreateEndpoint",
                               "PATH_INFO": "/"}, b"{}")
    assert (json_call.service, json_call.region, json_call.action) == (
        "sagemaker", "eu-west-1", "CreateEndpoint")
    assert json_call.mutating
    cbor = wire.identify({"HTTP_AUTHORIZATION": _auth("monitoring"), "REQUEST_METHOD": "POST",
                          "PATH_INFO": "/service/GraniteServiceVersion20100801/operation/"
                                       "PutMetricData"}, b"")
    assert cbor.action == "PutMetricData" and not cbor.mutating  # traffic, not state
    query = wire.identify({"HTTP_AUTHORIZATION": _auth("sns"), "REQUEST_METHOD": "POST",
                           "CONTENT_TYPE": "application/x-www-form-urlencoded",
                           "PATH_INFO": "/"}, b"Action=CreateTopic&Name=t")
    assert query.action == "CreateTopic" and query.mutating
    s3 = wire.identify({"HTTP_AUTHORIZATION": _auth("s3"), "REQUEST_METHOD": "GET",
                        "PATH_INFO": "/b/k"}, b"")
    assert s3.is_s3 and not s3.mutating


def test_step_adjustment_intervals() -> None:
    config = {"StepAdjustments": [
        {"MetricIntervalLowerBound": 0, "MetricIntervalUpperBound": 10, "ScalingAdjustment": 1},
        {"MetricIntervalLowerBound": 10, "ScalingAdjustment": 3},
    ]}
    assert scaling._step_adjustment(config, 0) == 1
    assert scaling._step_adjustment(config, 10) == 3
    assert scaling._step_adjustment(config, -1) is None


def test_policy_arns_match_across_replays() -> None:
    one = ("arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:1111:resource/sagemaker/"
           "endpoint/e/variant/AllTraffic:policyName/wake")
    two = one.replace("1111", "2222")
    assert scaling._same_policy(one, two)
    assert not scaling._same_policy(one, two.replace("wake", "other"))
    assert not scaling._same_policy(one, "arn:aws:sns:us-east-1:123456789012:topic")


def test_journal_compaction_keeps_newest_object_state(tmp_path) -> None:
    from smconsole.local.daemon.journal import INLINE_LIMIT, Journal

    journal = Journal(tmp_path)
    big = b"x" * (INLINE_LIMIT + 1)
    journal._append({"kind": "http", "environ": {"PATH_INFO": "/b"}}, b"")
    journal._append({"kind": "s3put", "bucket": "b", "key": "k", "metadata": {}}, big)
    journal._append({"kind": "s3put", "bucket": "b", "key": "k", "metadata": {}}, big + b"!")
    journal._append({"kind": "s3put", "bucket": "b", "key": "gone", "metadata": {}}, big)
    journal._append({"kind": "s3delete", "bucket": "b", "key": "gone"}, None)
    assert len(list(journal.blobs.glob("*.bin"))) == 3
    assert journal.compact() == 2
    assert journal.compact() == 0
    kinds = [json.loads(line)["kind"] for line in journal.path.read_text().splitlines()]
    assert kinds == ["http", "s3put", "s3delete"]
    (blob,) = journal.blobs.glob("*.bin")
    assert blob.read_bytes() == big + b"!"
    journal._append({"kind": "s3put", "bucket": "b", "key": "new", "metadata": {}}, big)
    assert len(list(journal.blobs.glob("*.bin"))) == 2  # no name reused after compaction


def test_pending_requests_round_trip_in_arrival_order(tmp_path) -> None:
    from smconsole.local.daemon.pending import PendingRequests
    from smconsole.local.daemon.queue import QueuedRequest

    def request(inference_id: str, received: float, body: bytes | None) -> QueuedRequest:
        return QueuedRequest(
            inference_id=inference_id, received=received,
            input_location=None if body else "s3://b/in.json", body=body,
            content_type="application/json", accept=None, custom_attributes="a=1",
            ttl_s=3600, invocation_timeout_s=60, output_location="s3://b/o",
            failure_location="s3://b/f")

    store = PendingRequests(tmp_path / "pending")
    later = request("../../etc/passwd", 200.5, b"\x00\xffbinary")
    earlier = request("first", 100.25, None)
    store.add("us-east-1", "ep", later)
    store.add("us-east-1", "ep", earlier)
    assert store.load("us-east-1", "ep") == [earlier, later]
    assert not (tmp_path / "etc").exists()  # the caller's id never names a file
    assert store.endpoints() == [("us-east-1", "ep")]
    store.remove("us-east-1", "ep", earlier)
    assert store.load("us-east-1", "ep") == [later]
    assert store.drop("us-east-1", "ep") == 1
    assert store.load("us-east-1", "ep") == [] and store.endpoints() == []


def test_journal_compaction_keeps_each_log_streams_newest_batches(tmp_path) -> None:
    import base64

    from smconsole.local.daemon.journal import INLINE_LIMIT, LOG_BATCHES_KEPT, Journal

    journal = Journal(tmp_path)

    def put_logs(stream: str, message: str, pad: int = 0) -> None:
        body = {"logGroupName": "/aws/sagemaker/Endpoints/e", "logStreamName": stream,
                "logEvents": [{"timestamp": 1, "message": message + " " * pad}]}
        journal._append({"kind": "http", "environ": {
            "HTTP_X_AMZ_TARGET": "Logs_20140328.PutLogEvents"}}, json.dumps(body).encode())

    journal._append({"kind": "http", "environ": {
        "HTTP_X_AMZ_TARGET": "Logs_20140328.CreateLogGroup"}}, b"{}")
    put_logs("big", "blob", pad=INLINE_LIMIT)  # stored as a blob; its stream's only batch
    for n in range(LOG_BATCHES_KEPT + 5):
        put_logs("busy", f"line {n}")
    put_logs("quiet", "only line")
    assert journal.compact() == 5
    lines = [json.loads(line) for line in journal.path.read_text().splitlines()]
    messages = [json.loads(base64.b64decode(e["body"]))["logEvents"][0]["message"]
                for e in lines if "body" in e and e["environ"]["HTTP_X_AMZ_TARGET"].endswith(
                    "PutLogEvents")]
    assert messages[0] == "line 5" and messages[-2:] == [f"line {LOG_BATCHES_KEPT + 4}",
                                                           "only line"]
    assert any(e["environ"]["HTTP_X_AMZ_TARGET"].endswith("CreateLogGroup") for e in lines)
    assert any("blob" in e for e in lines)  # the single batch of "big" is its newest
    assert journal.compact() == 0


def test_constraints_follow_botocore_patterns() -> None:
    from smconsole.local.daemon import constraints

    for good in ("a", "A1-b--c", "x" * 63):
        assert constraints.violation(constraints.ENDPOINT_NAME, good) is None
        assert constraints.violation(constraints.MODEL_NAME, good) is None
    for bad in ("", "-a", "a-", "a_b", "../x", "x" * 64, "a.b"):
        assert constraints.violation(constraints.ENDPOINT_NAME, bad), bad
        assert constraints.violation(constraints.MODEL_NAME, bad), bad
    assert constraints.violation(constraints.INFERENCE_ID, "ok id ~!") is None
    for bad in (" lead", "tab\there", "caf\u00e9", "x" * 65, ""):
        assert constraints.violation(constraints.INFERENCE_ID, bad), bad
    assert constraints.violation(constraints.FILENAME, "out.json") is None
    for bad in ("a.b.c", ".hidden", "../x", "a/b", "x" * 33):
        assert constraints.violation(constraints.FILENAME, bad), bad
    assert constraints.violation(constraints.S3_OUTPUT_PATH_EXTENSION, "a/b(1)*!'c'") is None
    for bad in ("s3://b/x", "https://h/x", "a b", "x" * 513):
        assert constraints.violation(constraints.S3_OUTPUT_PATH_EXTENSION, bad), bad
    assert constraints.message(["p", "q"]).startswith("2 validation errors detected: p; q")


def test_journal_keeps_no_credentials_and_survives_a_torn_tail(tmp_path, capsys) -> None:
    from smconsole.local.daemon.journal import Journal

    journal = Journal(tmp_path)
    journal.record_request({
        "REQUEST_METHOD": "POST", "PATH_INFO": "/", "QUERY_STRING":
            "a=1&X-Amz-Credential=AKIASECRET%2F1&X-Amz-Security-Token=TOKEN&X-Amz-Signature=s",
        "HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=AKIASECRET/20261201/eu-west-1/"
                              "sns/aws4_request, SignedHeaders=host, Signature=abc",
        "HTTP_X_AMZ_SECURITY_TOKEN": "TOKEN"}, b"Action=CreateTopic&Name=t")
    text = journal.path.read_text()
    assert "AKIASECRET" not in text and "TOKEN" not in text and "abc" not in text
    environ = json.loads(text)["environ"]
    assert "/20261201/eu-west-1/sns/aws4_request" in environ["HTTP_AUTHORIZATION"]
    assert environ["QUERY_STRING"] == "a=1"
    with journal.path.open("a") as handle:
        handle.write('{"kind": "http", "env')  # a daemon killed mid-write
    again = Journal(tmp_path)  # the next record starts on a line of its own
    again.record_request({"REQUEST_METHOD": "GET", "PATH_INFO": "/after"}, b"")
    assert [e["environ"]["PATH_INFO"] for _, e in again._entries()] == ["/", "/after"]
    assert "journal.jsonl:2: skipped: truncated record" in capsys.readouterr().out


def test_listed_creation_times_are_cut_to_the_millisecond_as_describe_cuts_them() -> None:
    """A listing rounded .077999 up to .078 while DescribeEndpoint said .077, so the two
    disagreed about the same endpoint about half the time."""
    import datetime as dt

    from smconsole.local.daemon.answers import epoch

    for micro, millis in ((77999, 77000), (842999, 842000), (500, 0), (999999, 999000)):
        stamp = epoch(dt.datetime(2026, 12, 2, 14, 34, 26, micro))
        assert dt.datetime.fromtimestamp(stamp, dt.UTC).microsecond == millis
