"""The asset page in a real browser: the partition heatmap and history update live."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.support import Dev, shot

pytestmark = pytest.mark.slow

STEP = 29  # a cell and its gap, in CSS pixels, for a handful of partitions (asset.js)


def _statuses(page: Any) -> str:
    return str(page.eval_on_selector("#heatmap", "c => c.dataset.statuses"))


def _cell(page: Any, index: int, *, shift: bool = False) -> None:
    modifiers = ["Shift"] if shift else []
    page.click("#heatmap", position={"x": index * STEP + 10, "y": 10}, modifiers=modifiers)


def test_partitions_launch_and_backfill_update_live(dev: Dev, page: Any) -> None:
    """Two selected partitions then 'Backfill missing' turn every cell materialized, live."""
    page.goto(dev.http + "/assets/ui_demo/daily_events")
    page.wait_for_function("document.querySelector('#heatmap').dataset.statuses === '-------'")
    assert page.text_content('#legend [data-status="missing"]') == "7 missing"
    page.evaluate("window.__sameDocument = true")
    _cell(page, 1)
    _cell(page, 2, shift=True)
    assert page.text_content("#launch-selected") == "Launch selected (2)"
    assert page.text_content("#selection-info") == "2 partitions selected"
    page.click("#launch-selected")
    page.wait_for_function(
        "document.querySelector('#heatmap').dataset.statuses === '-mm----'", timeout=60_000
    )
    shot(page, "asset-partitions-selected")
    assert page.text_content("#backfill-missing") == "Backfill missing (5)"
    page.click("#backfill-missing")
    page.wait_for_function(
        "document.querySelector('#heatmap').dataset.statuses === 'mmmmmmm'", timeout=90_000
    )
    assert page.evaluate("window.__sameDocument") is True
    assert page.is_disabled("#backfill-missing")
    page.wait_for_function("document.querySelectorAll('table.history tbody tr').length === 7")
    shot(page, "asset-partitions")


def test_report_definition_and_live_history(dev: Dev, page: Any) -> None:
    """The report's definition shows; its materializations appear in the history live."""
    page.goto(dev.http + "/assets/ui_demo/report")
    assert page.is_visible("#no-history")
    definition = page.text_content(".definition") or ""
    assert "takes run config" in definition
    assert page.is_visible('.definition a.chip[href="/assets/ui_demo/order_stats"]')
    assert page.is_visible('.definition a.chip[href="/assets/ui_demo/slow_report"]')
    page.evaluate("window.__sameDocument = true")
    upstream = ["orders", "customers", "order_stats", "customer_orders", "report"]
    dev.post("/api/runs", {"location": "ui_demo", "selection": upstream})
    page.wait_for_function(
        "document.querySelectorAll('table.history tbody tr').length === 1", timeout=60_000
    )
    page.wait_for_selector("#asset-status.materialized", timeout=30_000)
    page.click("#materialize")
    page.wait_for_function(
        "document.querySelectorAll('table.history tbody tr').length === 2", timeout=60_000
    )
    assert page.evaluate("window.__sameDocument") is True
    shot(page, "asset-report")
