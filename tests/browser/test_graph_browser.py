"""The asset graph page in a real browser against a real ``rivers dev`` (ui_demo)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.support import Dev, shot, wait_until

pytestmark = pytest.mark.slow

DEMO_KEYS = {
    "orders",
    "customers",
    "order_stats",
    "customer_orders",
    "report",
    "slow_report",
    "daily_events",
    "daily_summary",
}


def _open(page: Any, dev: Dev) -> None:
    page.goto(dev.http + "/")
    page.wait_for_function("window.riversGraph && window.riversGraph.ready")
    page.wait_for_selector("#live[data-state=live]")


def _click_node(page: Any, key: str, modifiers: list[str] | None = None) -> None:
    page.evaluate("(key) => window.riversGraph.center(key)", key)
    point = page.evaluate("(key) => window.riversGraph.point(key)", key)
    assert point, f"{key} is on screen"
    page.mouse.move(point["x"], point["y"])
    for modifier in modifiers or []:
        page.keyboard.down(modifier)
    page.mouse.click(point["x"], point["y"])
    for modifier in modifiers or []:
        page.keyboard.up(modifier)


def test_graph_shows_search_filters_and_details(page: Any, dev: Dev) -> None:
    """The demo's nodes are drawn; search, group filter and click-for-details work."""
    _open(page, dev)
    assert set(page.evaluate("window.riversGraph.keys()")) == DEMO_KEYS
    assert page.evaluate("window.riversGraph.status('orders')") == "missing"
    shot(page, "graph")

    page.fill("#graph-search", "order")
    page.wait_for_function("window.riversGraph.matches().length > 0")
    assert set(page.evaluate("window.riversGraph.matches()")) == {
        "orders",
        "order_stats",
        "customer_orders",
    }
    assert page.inner_text("#graph-matches") == "3 matches"
    page.fill("#graph-search", "")

    page.select_option("#graph-group", "reports")
    assert set(page.evaluate("window.riversGraph.keys()")) == {"report", "slow_report"}
    assert page.inner_text("#graph-count") == "2 of 8 assets"
    page.select_option("#graph-group", "")

    _click_node(page, "report")
    assert page.inner_text("#details-key") == "report"
    assert page.inner_text("#details-group") == "reports"
    assert page.get_attribute("#details-open", "href") == "/assets/ui_demo/report"
    upstream = set(page.inner_text("#details-upstream").split("\n"))
    assert upstream == {"customer_orders", "order_stats"}
    shot(page, "graph-details")


def test_materialize_selected_with_config_turns_nodes_green_live(page: Any, dev: Dev) -> None:
    """Shift-select five assets, refuse top_n=0 in the form, launch, watch them turn green."""
    _open(page, dev)
    page.evaluate("window.__notReloaded = true")
    _click_node(page, "orders")
    for key in ("customers", "order_stats", "customer_orders", "report"):
        _click_node(page, key, ["Shift"])
    assert set(page.evaluate("window.riversGraph.selected()")) == {
        "orders",
        "customers",
        "order_stats",
        "customer_orders",
        "report",
    }
    assert page.inner_text("#graph-materialize") == "Materialize selected (5)"
    page.click("#graph-materialize")
    page.wait_for_selector("#launch-dialog[open] fieldset[data-asset=report]")
    assert page.input_value("#launch-dialog input[name=top_n]") == "5"
    assert page.input_value("#launch-dialog input[name=title]") == "Weekly report"

    page.fill("#launch-dialog input[name=top_n]", "0")
    page.click("#launch-submit")
    assert "must be ≥ 1" in page.inner_text("#launch-dialog [data-field=top_n] .field-error")
    assert page.is_visible("#launch-dialog")
    shot(page, "graph-launch-dialog")
    assert dev.get("/api/runs")["runs"] == []

    page.fill("#launch-dialog input[name=top_n]", "3")
    page.click("#launch-submit")
    page.wait_for_selector("#launch-dialog", state="hidden")
    page.wait_for_selector(".toast.ok")
    page.wait_for_function(
        "['orders','customers','order_stats','customer_orders','report']"
        ".every(k => window.riversGraph.status(k) === 'materialized')",
        timeout=30_000,
    )
    assert page.evaluate("window.__notReloaded") is True
    assert page.evaluate("window.riversGraph.status('slow_report')") == "missing"
    runs = wait_until(lambda: dev.get("/api/runs")["runs"], 5, "the run")
    assert runs[0]["config"] == {"report": {"title": "Weekly report", "top_n": 3, "fail": False}}
    shot(page, "graph-materialized")
