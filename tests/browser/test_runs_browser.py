"""The runs pages in a real browser over ``rivers dev``: live timeline and log, re-execution."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.support import Dev, shot

pytestmark = pytest.mark.slow

CHAIN = ["orders", "customers", "order_stats", "customer_orders", "report", "slow_report"]
STATUS = "#run-status"


def _open_live(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_selector('#live[data-state="live"]')
    page.evaluate("window.__sameDocument = true")


def _same_document(page: Any) -> bool:
    return bool(page.evaluate("window.__sameDocument === true"))


def test_run_page_draws_the_timeline_and_log_live_until_success(dev: Dev, page: Any) -> None:
    """Gantt rows run then succeed, the log fills, the badge reads SUCCESS, all without reload."""
    run = dev.post("/api/runs", {"selection": CHAIN, "tags": {"team": "data"}})
    log_reads: list[str] = []

    def note(request: Any) -> None:
        if "/api/runs/" in request.url and "/events?" in request.url:
            log_reads.append(request.url)

    page.on("request", note)
    _open_live(page, f"{dev.http}/runs/{run['run_id']}")
    page.wait_for_selector('.gantt-row[data-step="slow_report"][data-outcome="running"]')
    width = page.eval_on_selector(".gantt-bar.running", "el => el.getBoundingClientRect().width")
    page.wait_for_function(
        "w => document.querySelector('.gantt-bar.running')?.getBoundingClientRect().width > w + 2",
        arg=width,
    )
    page.wait_for_selector(f'{STATUS}:text("SUCCESS")', timeout=30_000)
    page.wait_for_selector("#log tr.RUN_SUCCESS")
    outcomes = page.eval_on_selector_all(
        ".gantt-row", "rows => rows.map(r => [r.dataset.step, r.dataset.outcome])"
    )
    assert sorted(outcomes) == sorted([step, "success"] for step in CHAIN)
    assert page.locator("#log tr.STEP_SUCCESS").count() == len(CHAIN)
    page.click('.gantt-row[data-step="orders"]')
    steps = page.eval_on_selector_all(
        "#log tbody tr:not([hidden])", "rows => [...new Set(rows.map(r => r.dataset.step))]"
    )
    assert steps == ["orders"]
    assert page.input_value("#log-step") == "orders"
    assert _same_document(page)
    assert len(log_reads) == 1  # the stored page once; every later event came from the stream
    page.select_option("#log-step", "")
    shot(page, "run-success")


def test_failed_run_shows_the_traceback_and_reexecutes_from_failure(dev: Dev, page: Any) -> None:
    """A failure shows the user's traceback; Re-execute from failure opens the new run."""
    run = dev.post("/api/runs", {"selection": CHAIN, "config": {"report": {"fail": True}}})
    _open_live(page, f"{dev.http}/runs/{run['run_id']}")
    page.wait_for_selector(f'{STATUS}:text("FAILURE")', timeout=30_000)
    trace = page.inner_text("#errors pre.trace")
    assert "ValueError: the report was asked to fail" in trace
    assert "Traceback" in trace and "ui_demo.py" in trace
    assert page.get_attribute('.gantt-row[data-step="report"]', "data-outcome") == "failure"
    page.select_option("#log-level", "ERROR")
    levels = page.eval_on_selector_all(
        "#log tbody tr:not([hidden])", "rows => [...new Set(rows.map(r => r.dataset.level))]"
    )
    assert levels == ["ERROR"]
    page.select_option("#log-level", "")
    shot(page, "run-failure")
    page.click("text=Re-execute from failure")
    page.wait_for_url(lambda url: "/runs/" in url and run["run_id"] not in url)
    assert page.get_attribute("#parent-run", "href") == f"/runs/{run['run_id']}"
    rows = page.eval_on_selector_all(".gantt-row", "rows => rows.map(r => r.dataset.step)")
    assert sorted(rows) == ["report", "slow_report"]


def test_cancel_stops_a_running_slow_report(dev: Dev, page: Any) -> None:
    """Cancel on a running run's page ends it CANCELED, shown live."""
    run = dev.post("/api/runs", {"selection": CHAIN})
    _open_live(page, f"{dev.http}/runs/{run['run_id']}")
    page.wait_for_selector('.gantt-row[data-step="slow_report"][data-outcome="running"]')
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#cancel-run")
    page.wait_for_selector(f'{STATUS}:text("CANCELED")', timeout=30_000)
    assert page.get_attribute('.gantt-row[data-step="slow_report"]', "data-outcome") != "running"
    assert page.locator("text=Re-execute all").count() == 1
    assert _same_document(page)
    shot(page, "run-canceled")


def test_runs_list_updates_live_and_filters_by_status(dev: Dev, page: Any) -> None:
    """A new run appears and turns SUCCESS without reload; the status chip filters the list."""
    _open_live(page, f"{dev.http}/runs")
    run = dev.post("/api/runs", {"selection": ["orders"]})
    row = f'tr[data-run-id="{run["run_id"]}"]'
    page.wait_for_selector(f'{row} .badge:text("SUCCESS")', timeout=30_000)
    assert _same_document(page)
    shot(page, "runs-list")
    page.check('input[name="status"][value="FAILURE"]')
    page.wait_for_url("**/runs?status=FAILURE")
    badges = page.eval_on_selector_all(
        ".runs-table tbody .badge", "els => [...new Set(els.map(e => e.textContent))]"
    )
    assert set(badges) <= {"FAILURE"}
    assert page.locator(row).count() == 0
    shot(page, "runs-list-failures")
