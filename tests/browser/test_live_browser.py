"""The Live / Reconnecting / Stale indicator over a real gateway restart."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.support import Dev, shot

pytestmark = pytest.mark.slow

INDICATOR = "#live"


def test_indicator_goes_reconnecting_on_restart_and_live_again(dev: Dev, page: Any) -> None:
    """The badge reads Live, Reconnecting… while the gateway is down, then Live again."""
    page.goto(dev.http + "/runs")
    page.wait_for_selector(f'{INDICATOR}[data-state="live"]')
    assert page.inner_text(INDICATOR) == "Live"
    dev.stop()
    page.wait_for_selector(f'{INDICATOR}[data-state="reconnecting"]', timeout=10_000)
    assert page.inner_text(INDICATOR) == "Reconnecting…"
    shot(page, "live-reconnecting")
    dev.start()
    page.wait_for_selector(f'{INDICATOR}[data-state="live"]', timeout=30_000)


def test_after_a_restart_the_stream_resumes_in_order_without_repeats(dev: Dev, page: Any) -> None:
    """After a restart, a new run's events arrive once each, in order, after the last seen."""
    page.goto(dev.http + "/runs")
    page.wait_for_selector(f'{INDICATOR}[data-state="live"]')
    page.evaluate(
        "window.__seen = []; window.rivers.on('run_event', (e) => window.__seen.push(e.seq));"
    )
    last_before = page.evaluate("window.rivers.lastSeq")
    dev.stop()
    page.wait_for_selector(f'{INDICATOR}[data-state="reconnecting"]', timeout=10_000)
    dev.start()
    run = dev.post("/api/runs", {"selection": ["orders"]})
    page.wait_for_selector(f'{INDICATOR}[data-state="live"]', timeout=30_000)
    page.wait_for_function(
        "window.__seen.length >= 2", timeout=30_000
    )  # RUN_STARTED and more of the new run
    seen = page.evaluate("window.__seen")
    assert seen == sorted(seen) and seen[0] > last_before
    assert len(set(seen)) == len(seen)  # resumed, not replayed twice
    assert run["run_id"]
