"""The bundled example code location: a small shop-analytics pipeline."""

import rivers as rs
from examples.analytics.assets import (
    customers,
    daily_revenue,
    lifetime_orders,
    orders,
    publish_report,
    raw_orders,
    revenue_by_customer,
    top_customers,
)

nightly = rs.Job(
    "nightly",
    selection=["group:reporting", "+daily_revenue"],
    tags={"schedule": "nightly"},
    description="Everything the morning report needs.",
)

# Off until switched on (UI, API or `client.start_instigator("nightly_report")`), as in Dagster.
nightly_report = rs.Schedule(
    name="nightly_report",
    cron="0 2 * * *",
    target=nightly,
    timezone="Europe/Amsterdam",
    description="Run the nightly job at 02:00 Amsterdam time.",
)

repo = rs.CodeRepository(
    name="analytics",
    assets=[
        raw_orders,
        customers,
        orders,
        revenue_by_customer,
        daily_revenue,
        top_customers,
        lifetime_orders,
        publish_report,
    ],
    jobs=[nightly],
    schedules=[nightly_report],
)
