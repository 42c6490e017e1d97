"""The runs pages (/runs, /runs/{id}) and their endpoints: cancel and re-execute."""

from __future__ import annotations

import html
import re
import time
from typing import Any

import aiohttp

from rivers.execution.events import EventKind, RunEvent
from rivers.storage import LocationRecord, RunRecord, RunStatus
from rivers_ui.reexecute import not_done_assets
from tests.fixtures.code_locations import ui_demo
from tests.gateway.harness import Stack

UI_DEMO = "tests.fixtures.code_locations.ui_demo"
CHAIN = ["orders", "customers", "order_stats", "customer_orders", "report", "slow_report"]


def _call(stack: Stack, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    async def fetch() -> tuple[int, Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, stack.http + path, json=body) as reply,
        ):
            if reply.content_type == "application/json":
                return reply.status, await reply.json()
            return reply.status, await reply.text()

    return stack.loop.run(fetch())


def _rows(page: str) -> list[str]:
    return re.findall(r'<tr data-run-id="([0-9a-f]+)"', page)


def _link(page: str, rel: str) -> str | None:
    found = re.search(rf'rel="{rel}" href="([^"]+)"', page)
    return html.unescape(found.group(1)) if found else None


def _demo_run(stack: Stack, location: LocationRecord, **fields: Any) -> RunRecord:
    return stack.add_run(
        location,
        snapshot_id=location.snapshot_id,
        selection=tuple(CHAIN),
        asset_keys=tuple(CHAIN),
        **fields,
    )


def test_runs_list_shows_status_location_assets_tags_and_duration(stack: Stack) -> None:
    """Each row: status badge, a link to the run, location name, assets, tag chips, duration."""
    location = stack.register(ui_demo.repo)
    now = time.time()
    run = _demo_run(
        stack,
        location,
        status=RunStatus.SUCCESS,
        start_time=now - 12.5,
        end_time=now - 0.5,
        tags={"team": "data"},
    )
    status, page = _call(stack, "GET", "/runs")
    assert status == 200
    assert _rows(page) == [run.run_id]
    assert f'href="/runs/{run.run_id}"' in page
    assert '<span class="badge SUCCESS">SUCCESS</span>' in page
    assert "<td>ui_demo</td>" in page
    assert "<code>orders</code>" in page and "+3 more" in page
    assert 'href="/runs?tag=team%3Ddata"' in page
    assert "12.0 s" in page


def test_runs_list_filters_by_status_asset_tag_and_location(stack: Stack) -> None:
    """Filters in the query select runs and are echoed in the filter bar."""
    location = stack.register(ui_demo.repo)
    failed = _demo_run(stack, location, status=RunStatus.FAILURE, tags={"team": "a"})
    stack.add_run(location, status=RunStatus.SUCCESS, asset_keys=("orders",), tags={"team": "b"})
    queued = _demo_run(stack, location, status=RunStatus.QUEUED, tags={"team": "b"})
    _, by_status = _call(stack, "GET", "/runs?status=FAILURE&status=QUEUED")
    assert set(_rows(by_status)) == {failed.run_id, queued.run_id}
    assert 'value="FAILURE" checked' in by_status and 'value="SUCCESS" checked' not in by_status
    _, by_asset = _call(stack, "GET", "/runs?asset_key=report")
    assert set(_rows(by_asset)) == {failed.run_id, queued.run_id}
    _, by_tag = _call(stack, "GET", "/runs?tag=team%3Db&asset_key=report")
    assert _rows(by_tag) == [queued.run_id]
    _, by_location = _call(stack, "GET", "/runs?location=ui_demo&status=FAILURE")
    assert _rows(by_location) == [failed.run_id]
    status, unknown = _call(stack, "GET", "/runs?location=nowhere")
    assert status == 400
    assert "no code location named &#39;nowhere&#39;" in unknown
    assert _rows(unknown) == []


def test_runs_list_pages_forward_and_back_with_the_filters_kept(stack: Stack) -> None:
    """Next follows the page token, Previous returns to the same rows, filters stay on."""
    location = stack.register(ui_demo.repo)
    base = time.time() - 1000
    made = [
        stack.add_run(location, status=RunStatus.SUCCESS, created_at=base + i) for i in range(120)
    ]
    stack.add_run(location, status=RunStatus.FAILURE, created_at=base + 500)
    newest_first = [r.run_id for r in reversed(made)]
    _, first = _call(stack, "GET", "/runs?status=SUCCESS")
    assert _rows(first) == newest_first[:50]
    assert _link(first, "prev") is None
    second_url = _link(first, "next")
    assert second_url is not None and "status=SUCCESS" in second_url
    _, second = _call(stack, "GET", second_url)
    assert _rows(second) == newest_first[50:100]
    third_url = _link(second, "next")
    assert third_url is not None
    _, third = _call(stack, "GET", third_url)
    assert _rows(third) == newest_first[100:]
    assert _link(third, "next") is None
    back_url = _link(third, "prev")
    assert back_url is not None
    _, back = _call(stack, "GET", back_url)
    assert _rows(back) == newest_first[50:100]
    first_url = _link(back, "prev")
    assert first_url is not None
    _, again = _call(stack, "GET", first_url)
    assert _rows(again) == newest_first[:50]
    assert "Page 1" in again


def test_runs_fragment_is_only_the_table_and_shows_new_status(stack: Stack) -> None:
    """?fragment=runs answers the live region alone, with the run's current status."""
    location = stack.register(ui_demo.repo)
    run = _demo_run(stack, location, status=RunStatus.STARTED)
    stack.storage.update_run(run.run_id, status=RunStatus.SUCCESS, end_time=time.time())
    status, fragment = _call(stack, "GET", "/runs?fragment=runs")
    assert status == 200
    assert fragment.lstrip().startswith('<table class="grid runs-table">')
    assert "<html" not in fragment
    assert '<span class="badge SUCCESS">SUCCESS</span>' in fragment


def test_run_page_has_header_steps_and_parent_link(stack: Stack) -> None:
    """The run page names status, location, planned steps, partitions and its parent run."""
    location = stack.register(ui_demo.repo)
    parent = _demo_run(stack, location, status=RunStatus.FAILURE)
    run = _demo_run(
        stack,
        location,
        status=RunStatus.FAILURE,
        failure_reason="step report failed",
        tags={"rivers/parent_run_id": parent.run_id, "rivers/root_run_id": parent.run_id},
    )
    status, page = _call(stack, "GET", f"/runs/{run.run_id}")
    assert status == 200
    assert '<span class="badge FAILURE" id="run-status">FAILURE</span>' in page
    assert "<dd>ui_demo</dd>" in page
    steps = html.unescape(re.search(r'data-steps="([^"]*)"', page).group(1))  # type: ignore[union-attr]
    assert steps == '["orders","customers","order_stats","customer_orders","report","slow_report"]'
    assert f'href="/runs/{parent.run_id}"' in page
    assert "Re-execute from failure" in page and "Re-execute all" in page
    assert 'id="cancel-run"' not in page
    assert "step report failed" in page
    _, header = _call(stack, "GET", f"/runs/{run.run_id}?fragment=header")
    assert header.lstrip().startswith("<section")
    missing, text = _call(stack, "GET", "/runs/nope")
    assert missing == 404
    assert "Run not found" in text


def test_run_page_of_an_active_run_offers_cancel_only(stack: Stack) -> None:
    """A started run has a Cancel button and no re-execute buttons."""
    location = stack.register(ui_demo.repo)
    run = _demo_run(stack, location, status=RunStatus.STARTED, start_time=time.time())
    _, page = _call(stack, "GET", f"/runs/{run.run_id}")
    assert 'id="cancel-run"' in page
    assert "Re-execute" not in page


def test_cancel_endpoint_cancels_a_queued_run_once(stack: Stack) -> None:
    """A queued run is canceled at once; canceling it again says it had finished."""
    location = stack.register(ui_demo.repo)
    run = _demo_run(stack, location, status=RunStatus.QUEUED)
    status, body = _call(stack, "POST", f"/api/runs/{run.run_id}/cancel", {})
    assert status == 200
    assert body["canceled"] is True
    assert body["run"]["status"] == "CANCELED"
    kinds = [e.kind for e in stack.storage.get_run_events(run.run_id)]
    assert kinds == [EventKind.RUN_CANCELED]
    _, again = _call(stack, "POST", f"/api/runs/{run.run_id}/cancel", {})
    assert again["canceled"] is False
    missing, error = _call(stack, "POST", "/api/runs/nope/cancel", {})
    assert missing == 404
    assert error == {"error": "no run 'nope'"}


def test_reexecute_from_failure_after_a_real_failed_run(stack: Stack) -> None:
    """A real failed run re-executes its failed and skipped assets, with config and tags."""
    stack.register(ui_demo.repo)
    status, run = _call(
        stack,
        "POST",
        "/api/runs",
        {"location": "ui_demo", "selection": CHAIN, "config": {"report": {"fail": True}}},
    )
    assert status == 201
    worker = stack.run_worker(UI_DEMO, run["run_id"])
    stored = stack.storage.get_run(run["run_id"])
    assert stored is not None and stored.status is RunStatus.FAILURE, worker.stderr
    status, child = _call(
        stack, "POST", f"/api/runs/{run['run_id']}/reexecute", {"from_failure": True}
    )
    assert status == 201
    assert child["status"] == "QUEUED"
    assert child["asset_keys"] == ["report", "slow_report"]
    assert child["config"] == {"report": {"fail": True}}
    assert child["tags"] == {
        "rivers/parent_run_id": run["run_id"],
        "rivers/root_run_id": run["run_id"],
    }
    assert child["location_id"] == run["location_id"]
    assert child["snapshot_id"] == run["snapshot_id"]
    busy, error = _call(stack, "POST", f"/api/runs/{child['run_id']}/reexecute", {})
    assert busy == 409
    assert "only a finished run can be re-executed" in error["error"]
    _call(stack, "POST", f"/api/runs/{child['run_id']}/cancel", {})
    status, grandchild = _call(
        stack, "POST", f"/api/runs/{child['run_id']}/reexecute", {"from_failure": False}
    )
    assert status == 201
    assert grandchild["asset_keys"] == ["report", "slow_report"]
    assert grandchild["tags"]["rivers/parent_run_id"] == child["run_id"]
    assert grandchild["tags"]["rivers/root_run_id"] == run["run_id"]
    status, everything = _call(
        stack, "POST", f"/api/runs/{run['run_id']}/reexecute", {"from_failure": False}
    )
    assert status == 201
    assert everything["asset_keys"] == run["asset_keys"]
    assert sorted(everything["asset_keys"]) == sorted(CHAIN)


def test_reexecute_from_failure_of_a_partitioned_run_keeps_its_partitions(stack: Stack) -> None:
    """An asset done for only some of the run's partitions is re-executed over all of them."""
    location = stack.register(ui_demo.repo)
    days = ["2026-11-01", "2026-11-02"]
    run = stack.add_run(
        location,
        status=RunStatus.FAILURE,
        snapshot_id=location.snapshot_id,
        selection=("daily_events", "daily_summary"),
        asset_keys=("daily_events", "daily_summary"),
        partitions={"keys": days},
    )
    done = [("daily_events", d) for d in days] + [("daily_summary", days[0])]
    stack.storage.store_events(
        [
            RunEvent.now(
                run.run_id, EventKind.ASSET_MATERIALIZATION, asset_key=key, partition_key=day
            )
            for key, day in done
        ],
        location_id=location.identity,
    )
    status, child = _call(stack, "POST", f"/api/runs/{run.run_id}/reexecute", {"from_failure": 1})
    assert status == 400
    assert child == {"error": "'from_failure' must be true or false"}
    status, child = _call(
        stack, "POST", f"/api/runs/{run.run_id}/reexecute", {"from_failure": True}
    )
    assert status == 201
    assert child["asset_keys"] == ["daily_summary"]
    assert child["partitions"] == {"keys": days}
    assert child["tags"]["rivers/partition_range_start"] == days[0]


def test_reexecute_from_failure_refuses_a_run_that_did_everything(stack: Stack) -> None:
    """A run that materialized all its assets has nothing to re-execute from failure."""
    location = stack.register(ui_demo.repo)
    run = stack.add_run(
        location,
        status=RunStatus.SUCCESS,
        snapshot_id=location.snapshot_id,
        selection=("orders",),
        asset_keys=("orders",),
    )
    stack.storage.store_events(
        [RunEvent.now(run.run_id, EventKind.ASSET_MATERIALIZATION, asset_key="orders")],
        location_id=location.identity,
    )
    status, body = _call(stack, "POST", f"/api/runs/{run.run_id}/reexecute", {"from_failure": True})
    assert status == 409
    assert "nothing to re-execute from failure" in body["error"]


def test_not_done_assets_needs_every_partition() -> None:
    """An asset is done when materialized unpartitioned, or for every partition of the run."""
    materialized: dict[str, set[str | None]] = {"a": {None}, "b": {"1", "2"}, "c": {"1"}}
    assert not_done_assets(["a", "b", "c", "d"], materialized, ["1", "2"]) == ["c", "d"]
    assert not_done_assets(["a", "d"], materialized, None) == ["d"]
