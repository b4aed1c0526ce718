"""SageMaker hosting prices: the shipped table, the Pricing API's refresh of it, the user's own.

Lookup order: `<config dir>/prices.yaml` (negotiated prices), then the Pricing API cache
(`<cache dir>/prices-REGION.json`, written by `refresh`), then the shipped, dated table. An
instance type none of them knows is "price unknown": never a guess from a neighbouring size.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, RootModel, StringConstraints

from smconsole import errors, locations
from smconsole.models.cost import Price
from smconsole.specs.located import load_spec

SHIPPED_FILE = "sagemaker_hosting_prices.json"
OVERRIDE_FILE = "prices.yaml"
ANY_REGION = "*"
PRICING_REGION = "us-east-1"  # the Pricing API's home; it prices every region from there
SERVICE_CODE = "AmazonSageMaker"
STALE_AFTER_S = 30 * 86400

InstanceType = Annotated[str, StringConstraints(pattern=r"^ml\.[a-z0-9-]+\.[a-z0-9-]+$")]
Region = Annotated[str, StringConstraints(pattern=r"^(\*|[a-z]{2}(-[a-z]+)+-\d)$")]


class PriceOverrides(RootModel[dict[Region, dict[InstanceType, Annotated[float, Field(ge=0)]]]]):
    """`REGION: {INSTANCE_TYPE: USD per hour}`; `"*"` for every region."""


def shipped_table() -> dict[str, Any]:
    return json.loads(resources.files("smconsole.services").joinpath(SHIPPED_FILE).read_text())


class PriceBook:
    """Prices per (instance type, region), from the three sources in order."""

    def __init__(
        self, *, cache_dir: Path | None = None, config_dir: Path | None = None,
        shipped: dict[str, Any] | None = None, clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._cache_dir = cache_dir or locations.cache_dir()
        self._config_dir = config_dir or locations.config_dir()
        self._shipped = shipped if shipped is not None else shipped_table()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._overrides = self._load_overrides()
        self._cached: dict[str, dict[str, Any] | None] = {}

    @property
    def override_path(self) -> Path:
        return self._config_dir / OVERRIDE_FILE

    @property
    def shipped_date(self) -> str:
        return str(self._shipped.get("compiled", "?"))

    def cache_path(self, region: str) -> Path:
        return self._cache_dir / f"prices-{region}.json"

    def _load_overrides(self) -> dict[str, dict[str, float]]:
        """SpecError (file:line: field) for a malformed file: a wrong price must not pass."""
        if not self.override_path.is_file():
            return {}
        return load_spec(self.override_path, PriceOverrides).root

    def _cache(self, region: str) -> dict[str, Any] | None:
        if region not in self._cached:
            try:
                data = json.loads(self.cache_path(region).read_text())
                ok = isinstance(data, dict) and isinstance(data.get("prices"), dict)
                self._cached[region] = data if ok else None
            except (OSError, ValueError):
                self._cached[region] = None  # absent or torn: fall back to the shipped table
        return self._cached[region]

    def price(self, instance_type: str | None, region: str) -> Price:
        if not instance_type:
            return Price("", region, None, "unknown")
        for scope in (region, ANY_REGION):
            value = self._overrides.get(scope, {}).get(instance_type)
            if value is not None:
                return Price(instance_type, region, float(value), f"override ({self.override_path})")
        cache = self._cache(region)
        if cache is not None:
            value = cache["prices"].get(instance_type)
            if isinstance(value, (int, float)):
                return Price(instance_type, region, float(value),
                             f"pricing-api {str(cache.get('fetched', '?'))[:10]}")
        value = self._shipped.get("regions", {}).get(region, {}).get(instance_type)
        if value is not None:
            return Price(instance_type, region, float(value), f"shipped {self.shipped_date}")
        return Price(instance_type, region, None, "unknown")

    def cache_age_s(self, region: str) -> float | None:
        cache = self._cache(region)
        if cache is None:
            return None
        try:
            fetched = datetime.fromisoformat(str(cache["fetched"]))
        except (KeyError, ValueError):
            return None
        return (self._clock() - fetched).total_seconds()

    def is_stale(self, region: str) -> bool:
        age = self.cache_age_s(region)
        return age is None or age > STALE_AFTER_S

    def refresh(self, pricing_client: Any, region: str) -> int:
        """Read every Hosting price of `region` from the Pricing API into the cache; the count."""
        prices = fetch_hosting_prices(pricing_client, region)
        if not prices:
            raise errors.NotFound(f"the Pricing API lists no SageMaker hosting prices for {region}")
        self._cache_dir.mkdir(parents=True, exist_ok=True)
        body = {"region": region, "fetched": self._clock().isoformat(),
                "source": "AWS Pricing API GetProducts (AmazonSageMaker, Hosting, OnDemand)",
                "prices": dict(sorted(prices.items()))}
        # Written whole then renamed: a killed refresh never leaves a torn cache behind.
        fd, tmp = tempfile.mkstemp(dir=self._cache_dir, prefix=".prices-", suffix=".tmp")
        with os.fdopen(fd, "w") as handle:
            json.dump(body, handle, indent=1)
        os.replace(tmp, self.cache_path(region))
        self._cached.pop(region, None)
        return len(prices)


def pricing_filters(region: str) -> list[dict[str, str]]:
    return [
        {"Type": "TERM_MATCH", "Field": "productFamily", "Value": "ML Instance"},
        {"Type": "TERM_MATCH", "Field": "platoinstancetype", "Value": "Hosting"},
        {"Type": "TERM_MATCH", "Field": "regionCode", "Value": region},
    ]


def fetch_hosting_prices(pricing_client: Any, region: str) -> dict[str, float]:
    """instance type → USD per hour, from GetProducts pages (each PriceList item is a JSON string)."""
    prices: dict[str, float] = {}
    kwargs: dict[str, Any] = {"ServiceCode": SERVICE_CODE, "Filters": pricing_filters(region),
                              "FormatVersion": "aws_v1", "MaxResults": 100}
    while True:
        page = pricing_client.get_products(**kwargs)
        for raw in page.get("PriceList", []):
            found = hosting_price(json.loads(raw) if isinstance(raw, str) else raw)
            if found is not None:
                prices[found[0]] = found[1]
        token = page.get("NextToken")
        if not token:
            return prices
        kwargs["NextToken"] = token


def hosting_price(item: dict[str, Any]) -> tuple[str, float] | None:
    """(instance type, USD/h) of one price-list item, or None when it is not an hourly rate."""
    product = item.get("product", {})
    attrs = product.get("attributes", {})
    if product.get("productFamily") != "ML Instance" or attrs.get("platoinstancetype") != "Hosting":
        return None
    if "Outposts" in str(attrs.get("locationType", "")):
        return None
    name = attrs.get("instanceName") or str(attrs.get("instanceType", "")).split("-")[0]
    if not name.startswith("ml."):
        usage = str(attrs.get("usagetype", ""))
        name = usage.split(":", 1)[1] if ":" in usage else ""
    if not name.startswith("ml."):
        return None
    for term in item.get("terms", {}).get("OnDemand", {}).values():
        for dim in term.get("priceDimensions", {}).values():
            usd = dim.get("pricePerUnit", {}).get("USD")
            if dim.get("unit") in ("Hrs", "Hours", "hour") and usd is not None and float(usd) > 0:
                return name, float(usd)
    return None
