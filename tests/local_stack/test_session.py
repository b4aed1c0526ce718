"""The session against moto over HTTP: read-only refusals, cached clients, endpoint env."""

from __future__ import annotations

import pytest
from smconsole import errors
from smconsole.session import AwsSession


def test_read_only_session_refuses_mutations_over_http(moto_url: str) -> None:
    writable = AwsSession.local(moto_url)
    writable.client("s3").create_bucket(Bucket="bucket-one")
    read_only = AwsSession.local(moto_url, read_only=True)
    s3 = read_only.client("s3")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["bucket-one"]
    with pytest.raises(errors.ReadOnlyRefused):
        s3.delete_bucket(Bucket="bucket-one")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["bucket-one"]


def test_clients_are_cached_and_configured(moto_url: str) -> None:
    session = AwsSession.local(moto_url)
    client = session.client("sagemaker")
    assert session.client("sagemaker") is client
    assert client.meta.config.retries["mode"] == "standard"
    assert client.meta.config.max_pool_connections >= 16
    assert client.meta.endpoint_url == moto_url


def test_service_specific_endpoint_env_is_honoured(moto_url: str, monkeypatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_url)
    session = AwsSession(region="us-east-1")
    assert session.client("s3").meta.endpoint_url == moto_url
