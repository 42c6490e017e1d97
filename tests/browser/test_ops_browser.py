"""The operations pages in a browser, against a real ``rivers dev`` of ui_demo, updating live."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.support import Dev, shot, wait_until

pytestmark = pytest.mark.slow

LIVE = '#live[data-state="live"]'


def _instigator(dev: Dev, name: str) -> dict[str, Any]:
    return next(i for i in dev.get("/api/instigators") if i["name"] == name)


def test_automation_toggles_and_sensor_ticks_arrive_live(dev: Dev, page: Any) -> None:
    """Switching nightly and new_orders on is stored; the sensor's skip ticks appear live."""
    page.goto(dev.http + "/automation")
    page.wait_for_selector(LIVE)
    nightly = 'tr[data-instigator="nightly"]'
    sensor = 'tr[data-instigator="new_orders"]'
    assert page.get_attribute(nightly, "data-running") == "false"
    assert page.locator('tr[data-tick][data-status="SKIPPED"]').count() == 0
    shot(page, "ops-automation-stopped")

    page.click(f"{nightly} .ops-switch")
    page.wait_for_selector(f'{nightly}[data-running="true"] .badge.state:text("running")')
    assert _instigator(dev, "nightly")["running"] is True
    page.wait_for_selector(f"{nightly} [data-ago]")  # next tick: "in N h"

    page.click(f"{sensor} .ops-switch")
    page.wait_for_selector(f'{sensor}[data-running="true"]')
    assert _instigator(dev, "new_orders")["running"] is True
    # The daemon evaluates the sensor; its skip ticks arrive without a reload.
    page.wait_for_selector('tr[data-tick][data-status="SKIPPED"]', timeout=30_000)
    assert "no new order files" in page.inner_text('[data-live-block="ticks"]')
    page.wait_for_selector(f"{sensor} .badge.SKIPPED", timeout=15_000)
    shot(page, "ops-automation")

    page.goto(dev.http + "/automation/ui_demo/new_orders")
    page.wait_for_selector('tr[data-tick][data-status="SKIPPED"]')
    shot(page, "ops-instigator")
    page.click(".ops-switch")
    wait_until(lambda: not _instigator(dev, "new_orders")["running"], 10, "the sensor to stop")
    page.wait_for_selector('.badge.state:text("stopped")')


def test_pools_page_sets_the_limit_with_the_form(dev: Dev, page: Any) -> None:
    """The warehouse pool shows its code limit 2; the form sets 3 and the page follows."""
    # The code default is recorded when a run of a pooled asset starts.
    run = dev.post("/api/runs", {"selection": ["orders", "order_stats"]})
    wait_until(lambda: dev.get(f"/api/runs/{run['run_id']}")["status"] == "SUCCESS", 60, "the run")
    page.goto(dev.http + "/pools")
    page.wait_for_selector(LIVE)
    page.wait_for_selector('[data-pool="warehouse"][data-limit="2"]')
    assert "(code)" in page.inner_text('[data-pool="warehouse"]')
    page.fill("#pool-name", "warehouse")
    page.fill("#pool-limit", "3")
    page.click('#pool-limit-form button[type="submit"]')
    page.wait_for_selector('[data-pool="warehouse"][data-limit="3"]')
    assert "(operator)" in page.inner_text('[data-pool="warehouse"]')
    pool = next(p for p in dev.get("/api/pools") if p["name"] == "warehouse")
    assert (pool["limit"], pool["source"]) == (3, "manual")
    shot(page, "ops-pools")
    page.click("#pool-limit-form [data-pool-clear]")
    page.wait_for_selector('[data-pool="warehouse"][data-limit="2"]')


def test_backfill_page_reaches_completed_live(dev: Dev, page: Any) -> None:
    """A backfill of every daily_events partition fills its page's counts up to completed."""
    backfill = dev.post(
        "/api/backfills", {"selection": ["daily_events"], "partitions": {"all": True}}
    )
    page.goto(f"{dev.http}/backfills/{backfill['backfill_id']}")
    page.wait_for_selector(LIVE)
    page.wait_for_selector('#backfill-status[data-status="COMPLETED"]', timeout=90_000)
    assert page.inner_text("#count-succeeded") == "7"
    assert page.inner_text("#count-failed") == "0"
    assert page.locator("#backfill-runs tr[data-run]").count() >= 1
    shot(page, "ops-backfill")

    page.goto(dev.http + "/backfills")
    row = f'tr[data-backfill="{backfill["backfill_id"]}"]'
    page.wait_for_selector(row)
    assert "7 succeeded" in page.inner_text(row)
    shot(page, "ops-backfills")


def test_locations_page_shows_ui_demo_and_requests_a_reload(dev: Dev, page: Any) -> None:
    """ui_demo is available with a ticking heartbeat; Reload is accepted."""
    page.goto(dev.http + "/locations")
    page.wait_for_selector(LIVE)
    row = 'tr[data-location="ui_demo"][data-status="available"]'
    page.wait_for_selector(row)
    assert " ago" in page.inner_text(f"{row} [data-ago]")
    assert "8 assets" in page.inner_text(row)
    page.click(f"{row} button[data-post]")
    page.wait_for_selector(".toast.ok:text('Reload of ui_demo requested')")
    shot(page, "ops-locations")
