"""Clients from AwsSession translate botocore's errors themselves: plain calls, paginators,
waiters, streaming bodies; named by the API operation, still botocore's class underneath."""

from __future__ import annotations

import io

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError, WaiterError
from botocore.response import StreamingBody
from botocore.stub import Stubber
from smconsole import errors
from smconsole.session import AwsSession, read_body, translate

MISSING = 'Could not find endpoint "gone".'


def session(**kwargs) -> AwsSession:
    return AwsSession(region="us-east-1", credentials=("a", "b"), endpoint_url="http://x",
                      **kwargs)


def test_a_plain_call_raises_the_named_error_with_the_operation() -> None:
    sm = session().client("sagemaker")
    with Stubber(sm) as stub:
        stub.add_client_error("describe_endpoint", "ValidationException", MISSING, 400)
        stub.add_client_error("delete_endpoint", "ThrottlingException", "Rate exceeded", 400)
        stub.add_client_error("list_models", "AccessDeniedException", "not for you", 400)
        with pytest.raises(errors.NotFound, match=f"^DescribeEndpoint: {MISSING}$") as missing:
            sm.describe_endpoint(EndpointName="gone")
        with pytest.raises(errors.Throttled, match="^DeleteEndpoint: Rate exceeded$"):
            sm.delete_endpoint(EndpointName="gone")
        with pytest.raises(errors.AwsError) as denied:
            sm.list_models()
    assert isinstance(missing.value.__cause__, ClientError)
    assert (denied.value.code, denied.value.operation) == ("AccessDeniedException", "ListModels")
    assert str(denied.value) == "ListModels: AccessDeniedException: not for you"


def test_the_named_error_is_still_botocores_class_for_code_holding_the_client() -> None:
    sm = session().client("sagemaker")
    with Stubber(sm) as stub:
        stub.add_client_error("describe_model", "ResourceNotFound", "no model", 400)
        with pytest.raises(sm.exceptions.ResourceNotFound) as caught:
            sm.describe_model(ModelName="gone")
    assert isinstance(caught.value, errors.NotFound)
    assert type(caught.value).__name__ == "NotFound"
    assert caught.value.response["Error"]["Code"] == "ResourceNotFound"
    assert translate(caught.value) is caught.value


def test_paginated_pages_and_full_results_translate() -> None:
    sm = session().client("sagemaker")
    with Stubber(sm) as stub:
        stub.add_response("list_endpoints", {"Endpoints": [], "NextToken": "2"})
        stub.add_client_error("list_endpoints", "ThrottlingException", "Rate exceeded", 400)
        stub.add_client_error("list_endpoints", "ValidationException", MISSING, 400)
        pages = iter(sm.get_paginator("list_endpoints").paginate())
        assert next(pages)["NextToken"] == "2"
        with pytest.raises(errors.Throttled, match="^ListEndpoints: Rate exceeded$"):
            next(pages)
        with pytest.raises(errors.NotFound, match="^ListEndpoints: "):
            sm.get_paginator("list_endpoints").paginate().build_full_result()


def test_a_waiter_translates_the_error_answer_it_did_not_expect() -> None:
    sm = session().client("sagemaker")
    fast = {"Delay": 0, "MaxAttempts": 2}
    with Stubber(sm) as stub:
        stub.add_client_error("describe_endpoint", "ValidationException", MISSING, 400)
        with pytest.raises(errors.NotFound, match=f"^DescribeEndpoint: {MISSING}$") as missing:
            sm.get_waiter("endpoint_in_service").wait(EndpointName="gone", WaiterConfig=fast)
        assert isinstance(missing.value, WaiterError)
        stub.add_response("describe_endpoint", {
            "EndpointName": "e", "EndpointArn": "arn:aws:sagemaker:us-east-1:1:endpoint/e",
            "EndpointConfigName": "c", "EndpointStatus": "Failed", "CreationTime": 0,
            "LastModifiedTime": 0})
        with pytest.raises(errors.SmconsoleError, match="^DescribeEndpoint: Waiter "):
            sm.get_waiter("endpoint_in_service").wait(EndpointName="e", WaiterConfig=fast)


def test_codes_that_mean_not_found_in_sqs_and_ecr() -> None:
    sqs, ecr = session().client("sqs"), session().client("ecr")
    with Stubber(sqs) as stub:
        stub.add_client_error("delete_queue", "AWS.SimpleQueueService.NonExistentQueue",
                              "gone", 400)
        stub.add_client_error("receive_message", "NonExistentQueue", "gone", 400)
        with pytest.raises(errors.NotFound, match="^DeleteQueue: gone$"):
            sqs.delete_queue(QueueUrl="http://x/q")
        with pytest.raises(errors.NotFound, match="^ReceiveMessage: gone$"):
            sqs.receive_message(QueueUrl="http://x/q")
    with Stubber(ecr) as stub:
        stub.add_client_error("describe_repositories", "RepositoryNotFoundException", "gone", 400)
        with pytest.raises(errors.NotFound, match="^DescribeRepositories: gone$"):
            ecr.describe_repositories(repositoryNames=["repo"])


def test_event_handlers_and_stubs_still_reach_the_bare_client() -> None:
    # (Read-only refusal runs on before-call too: test_session checks it over HTTP, where no
    # stub answers first.)
    s3 = session().client("s3")
    seen: list[str] = []
    s3.meta.events.register("before-parameter-build.s3.*",
                            lambda model, **_: seen.append(model.name))
    with Stubber(s3) as stub:
        stub.add_response("list_buckets", {"Buckets": []})
        assert s3.list_buckets()["Buckets"] == []
    assert seen == ["ListBuckets"]
    assert s3.can_paginate("list_objects_v2")


def test_read_body_translates_a_read_that_fails_after_the_call() -> None:
    class Broken(io.RawIOBase):
        def read(self, *_):
            raise ReadTimeoutError(endpoint_url="http://x/b/k")

    reply = {"Body": StreamingBody(Broken(), 10)}
    with pytest.raises(errors.Unreachable, match="Read timeout"):
        read_body(reply)
    assert read_body({"Body": StreamingBody(io.BytesIO(b"ok"), 2)}) == b"ok"
