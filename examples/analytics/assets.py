"""Assets of the example location. Data is generated, so it runs anywhere offline."""

from __future__ import annotations

import hashlib
import json
import random
from collections import defaultdict
from datetime import date, timedelta

from pydantic import BaseModel

import rivers as rs

_REGIONS = ("eu", "us", "apac")


class TopCustomersConfig(BaseModel):
    """How many customers the report lists."""

    limit: int = 3


@rs.Asset(group="ingest", code_version="1", retry_policy=rs.RetryPolicy(max_retries=2))
def raw_orders() -> list[dict[str, object]]:
    """Orders as exported by the shop (generated here, deterministic)."""
    rng = random.Random(7)  # noqa: S311 - sample data, not cryptography
    start = date(2024, 1, 1)
    return [
        {
            "order_id": i,
            "customer_id": rng.randint(1, 12),
            "amount": round(rng.uniform(5, 250), 2),
            "day": (start + timedelta(days=rng.randint(0, 6))).isoformat(),
        }
        for i in range(200)
    ]


@rs.Asset(group="ingest")
def customers() -> dict[int, dict[str, str]]:
    """The customer directory."""
    return {
        cid: {"name": f"customer-{cid:02d}", "region": _REGIONS[cid % 3]} for cid in range(1, 13)
    }


@rs.Asset(group="staging")
def orders(raw_orders: list[dict[str, object]]) -> rs.Output:
    """Orders with invalid rows removed."""
    valid = [o for o in raw_orders if float(str(o["amount"])) > 0]
    return rs.Output(
        valid,
        metadata={
            "rows": rs.MetadataValue.int(len(valid)),
            "dropped": len(raw_orders) - len(valid),
        },
    )


@rs.Asset(group="reporting", deps=[rs.AssetDef.input("customers")])
def revenue_by_customer(
    orders: list[dict[str, object]], customers: dict[int, dict[str, str]]
) -> dict[str, float]:
    """Total revenue per customer name."""
    totals: dict[str, float] = defaultdict(float)
    for o in orders:
        totals[customers[int(str(o["customer_id"]))]["name"]] += float(str(o["amount"]))
    return {k: round(v, 2) for k, v in sorted(totals.items())}


@rs.Asset(group="reporting")
def daily_revenue(orders: list[dict[str, object]]) -> dict[str, float]:
    """Revenue per day."""
    totals: dict[str, float] = defaultdict(float)
    for o in orders:
        totals[str(o["day"])] += float(str(o["amount"]))
    return {k: round(v, 2) for k, v in sorted(totals.items())}


@rs.Asset(group="reporting")
def top_customers(
    context: rs.AssetExecutionContext[TopCustomersConfig], revenue_by_customer: dict[str, float]
) -> list[str]:
    """The best customers by revenue; how many is run config."""
    ranked = sorted(revenue_by_customer, key=revenue_by_customer.__getitem__, reverse=True)
    context.add_output_metadata({"limit": context.config.limit})
    return ranked[: context.config.limit]


@rs.Asset(group="reporting")
def lifetime_orders(self: rs.SelfDependency[int], orders: list[dict[str, object]]) -> int:
    """Orders counted over every run so far (grows by each run's batch)."""
    return (self.get_inner() or 0) + len(orders)


@rs.Asset(group="reporting", deps=[rs.AssetDef.dep("lifetime_orders")])
def publish_report(daily_revenue: dict[str, float], top_customers: list[str]) -> rs.Materialization:
    """Publishes the report (here: computes what would be sent) - stores nothing."""
    body = json.dumps({"daily": daily_revenue, "top": top_customers}, sort_keys=True)
    return rs.Materialization(
        metadata={
            "days": rs.MetadataValue.int(len(daily_revenue)),
            "top": rs.MetadataValue.json(top_customers),
        },
        data_version=hashlib.sha256(body.encode()).hexdigest()[:12],
    )
