"""The price book: shipped table, user overrides, and the Pricing API refresh (botocore Stubber
with GetProducts answers shaped as AWS sends them: PriceList items are JSON strings)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from smconsole import errors
from smconsole.services.prices import PriceBook, pricing_filters, shipped_table
from smconsole.session import AwsSession


def book(tmp_path: Path, **kwargs) -> PriceBook:
    return PriceBook(cache_dir=tmp_path / "cache", config_dir=tmp_path / "config",
                     clock=lambda: datetime(2026, 12, 1, 12, tzinfo=UTC), **kwargs)


def price_item(instance: str, usd: str, *, family: str = "ML Instance",
               component: str = "Hosting", location_type: str = "AWS Region") -> str:
    """One GetProducts PriceList entry for AmazonSageMaker, as the API returns it."""
    sku = "ABCDEFGH12345678"
    return json.dumps({
        "product": {
            "productFamily": family,
            "attributes": {
                "regionCode": "eu-west-1", "location": "EU (Ireland)",
                "locationType": location_type, "instanceName": instance,
                "instanceType": instance, "platoinstancetype": component,
                "usagetype": f"EU-{component.replace('Hosting', 'Host')}:{instance}",
                "operation": "RunInstance", "servicecode": "AmazonSageMaker",
                "servicename": "Amazon SageMaker", "vCpu": "4", "memory": "16 GiB",
            },
            "sku": sku,
        },
        "serviceCode": "AmazonSageMaker",
        "terms": {"OnDemand": {f"{sku}.JRTCKXETXF": {
            "priceDimensions": {f"{sku}.JRTCKXETXF.6YS6EN2CT7": {
                "unit": "Hrs", "endRange": "Inf", "beginRange": "0", "appliesTo": [],
                "description": f"${usd} per {component} {instance} in EU (Ireland)",
                "rateCode": f"{sku}.JRTCKXETXF.6YS6EN2CT7", "pricePerUnit": {"USD": usd},
            }},
            "sku": sku, "effectiveDate": "2026-11-01T00:00:00Z", "offerTermCode": "JRTCKXETXF",
            "termAttributes": {},
        }}},
        "version": "20261101000000", "publicationDate": "2026-11-01T00:00:00Z",
    })


def test_shipped_table_is_dated_sourced_and_known_types_only(tmp_path: Path) -> None:
    table = shipped_table()
    assert table["compiled"] == "2026-12-01" and "aws.amazon.com/sagemaker/pricing" in table["source"]
    prices = book(tmp_path)
    found = prices.price("ml.g5.xlarge", "us-east-1")
    assert (found.usd_per_hour, found.source) == (1.408, "shipped 2026-12-01")
    # Never a guess: a type or a region the table leaves out is unknown.
    assert prices.price("ml.g6.xlarge", "us-east-1").usd_per_hour is None
    assert prices.price("ml.g5.xlarge", "eu-west-1").source == "unknown"
    assert prices.price(None, "us-east-1").known is False


def test_override_file_wins_and_a_bad_one_says_where(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    path = tmp_path / "config" / "prices.yaml"
    path.write_text('us-east-1:\n  ml.g5.xlarge: 1.1\n"*":\n  ml.g6.xlarge: 0.9\n')
    prices = book(tmp_path)
    assert prices.price("ml.g5.xlarge", "us-east-1").usd_per_hour == 1.1
    assert prices.price("ml.g5.xlarge", "us-east-1").source.startswith("override")
    assert prices.price("ml.g6.xlarge", "ap-south-1").usd_per_hour == 0.9
    path.write_text("us-east-1:\n  ml.g5.xlarge: 1.1\n  ml.g5.2xlarge: -3\n")
    with pytest.raises(errors.SpecError) as caught:
        book(tmp_path)
    assert f"{path}:3: us-east-1.ml.g5.2xlarge" in str(caught.value)
    path.write_text("us-east-1:\n  g5.xlarge: 1.0\n")
    with pytest.raises(errors.SpecError, match=":2: "):
        book(tmp_path)


def test_refresh_reads_every_page_and_keeps_only_hourly_hosting_rates(tmp_path: Path) -> None:
    client = boto3.client("pricing", region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x")
    expected = {"ServiceCode": "AmazonSageMaker", "Filters": pricing_filters("eu-west-1"),
                "FormatVersion": "aws_v1", "MaxResults": 100}
    with Stubber(client) as stub:
        stub.add_response("get_products", {
            "FormatVersion": "aws_v1", "NextToken": "page-2",
            "PriceList": [price_item("ml.g5.xlarge", "1.5750000000"),
                          price_item("ml.g5.xlarge", "1.9000000000", location_type="AWS Outposts"),
                          price_item("ml.m5.large", "0.0000000000")],
        }, expected)
        stub.add_response("get_products", {
            "FormatVersion": "aws_v1",
            "PriceList": [price_item("ml.g6.xlarge", "1.1270000000"),
                          price_item("ml.t3.medium", "0.0580000000", component="Training")],
        }, {**expected, "NextToken": "page-2"})
        prices = book(tmp_path)
        assert prices.refresh(client, "eu-west-1") == 2
        stub.assert_no_pending_responses()
    found = prices.price("ml.g5.xlarge", "eu-west-1")
    assert (found.usd_per_hour, found.source) == (1.575, "pricing-api 2026-12-01")
    assert prices.price("ml.g6.xlarge", "eu-west-1").usd_per_hour == 1.127
    assert prices.price("ml.m5.large", "eu-west-1").known is False  # $0 rows are placeholders
    assert prices.price("ml.t3.medium", "eu-west-1").known is False  # a training rate
    cached = json.loads((tmp_path / "cache" / "prices-eu-west-1.json").read_text())
    assert cached["prices"] == {"ml.g5.xlarge": 1.575, "ml.g6.xlarge": 1.127}
    assert not prices.is_stale("eu-west-1")
    # A fresh book reads the cache; a torn cache falls back to the shipped table.
    assert book(tmp_path).price("ml.g6.xlarge", "eu-west-1").usd_per_hour == 1.127
    (tmp_path / "cache" / "prices-us-east-1.json").write_text('{"prices": {"ml.g5.xl')
    assert book(tmp_path).price("ml.g5.xlarge", "us-east-1").source == "shipped 2026-12-01"


def test_refresh_failure_is_a_named_error_and_changes_nothing(tmp_path: Path) -> None:
    # A client as CostService gets it: AwsSession's clients translate botocore's errors.
    client = AwsSession(region="us-east-1", credentials=("x", "x")).client("pricing")
    with Stubber(client) as stub:
        stub.add_client_error("get_products", "AccessDeniedException", "not authorized", 400)
        prices = book(tmp_path)
        with pytest.raises(errors.AwsError, match="AccessDenied"):
            prices.refresh(client, "us-east-1")
    assert not (tmp_path / "cache" / "prices-us-east-1.json").exists()
    assert prices.price("ml.g5.xlarge", "us-east-1").usd_per_hour == 1.408
