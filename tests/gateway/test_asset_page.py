"""The asset page and its JSON endpoints: definition, history paging, partition status."""

from __future__ import annotations

import time
from typing import Any

import aiohttp

from rivers.definitions.metadata import MetadataValue
from rivers.execution.events import EventKind, RunEvent
from rivers.storage import LocationRecord, RunStatus
from tests.fixtures.code_locations import basic, diamond_chain, partitioned, ui_demo
from tests.gateway.harness import Stack


def _get(stack: Stack, path: str) -> tuple[int, Any]:
    async def fetch() -> tuple[int, Any]:
        async with aiohttp.ClientSession() as session, session.get(stack.http + path) as reply:
            if reply.content_type == "application/json":
                return reply.status, await reply.json()
            return reply.status, await reply.text()

    return stack.loop.run(fetch())


def _post(stack: Stack, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    async def send() -> tuple[int, Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.post(stack.http + path, json=body) as reply,
        ):
            return reply.status, await reply.json()

    return stack.loop.run(send())


def _materialize(
    stack: Stack,
    location: LocationRecord,
    asset: str,
    *,
    partition: str | None = None,
    failed: bool = False,
    version: str | None = None,
) -> RunEvent:
    run = stack.add_run(location, status=RunStatus.SUCCESS, asset_keys=(asset,))
    kind = EventKind.ASSET_FAILED if failed else EventKind.ASSET_MATERIALIZATION
    event = RunEvent.now(
        run.run_id,
        kind,
        asset_key=asset,
        partition_key=partition,
        data_version=version,
        message="boom" if failed else "",
        metadata={"rows": MetadataValue.int(1234), "dash": MetadataValue.url("https://x.test/d")},
    )
    return stack.storage.store_events([event], location_id=location.identity)[0]


def test_unknown_asset_and_location_are_404(stack: Stack) -> None:
    """Every asset endpoint and the page answer 404 with a message for an unknown asset."""
    stack.register(basic.repo)
    for path in (
        "/api/assets/basic/nope",
        "/api/assets/basic/nope/history",
        "/api/assets/basic/nope/partitions",
        "/api/assets/elsewhere/numbers",
        "/assets/basic/nope",
    ):
        status, body = _get(stack, path)
        assert status == 404, path
        assert "nope" in body["error"] or "elsewhere" in body["error"]


def test_asset_definition_fields(stack: Stack) -> None:
    """Description, owners, code version, pools, executor and lineage come from the snapshot."""
    stack.register(ui_demo.repo)
    status, orders = _get(stack, "/api/assets/ui_demo/orders")
    assert status == 200
    assert orders["description"] == "Raw orders, as delivered."
    assert orders["code_version"] == "1"
    assert orders["group"] == "raw"
    assert orders["status"] == "missing"
    assert orders["executor"] == "in_process"
    assert sorted(orders["downstream"]) == ["customer_orders", "order_stats"]
    assert orders["partitions"] is None
    _, customers = _get(stack, "/api/assets/ui_demo/customers")
    assert customers["owners"] == ["data-eng@example.com"]
    assert customers["metadata"][0]["key"] == "owner"
    _, stats = _get(stack, "/api/assets/ui_demo/order_stats")
    assert stats["pools"] == ["warehouse"]
    assert stats["upstream"] == ["orders"]
    _, daily = _get(stack, "/api/assets/ui_demo/daily_events")
    assert daily["partitions"]["count"] == 7
    assert daily["partitions"]["cadence"] == "daily"
    assert daily["backfill_strategy"] == "multi_run"


def test_prefixed_keys_route_to_their_asset(stack: Stack) -> None:
    """A key with '/' reaches its asset on the page and every endpoint."""
    stack.register(diamond_chain.repo)
    _, body = _get(stack, "/api/assets/diamond_chain/shop/orders")
    assert body["key"] == "shop/orders"
    status, history = _get(stack, "/api/assets/diamond_chain/shop/orders/history")
    assert status == 200
    assert history == {"materializations": [], "next_before": None}
    status, html = _get(stack, "/assets/diamond_chain/shop/orders")
    assert status == 200
    assert 'data-key="shop/orders"' in html
    assert "Never materialized" in html


def test_history_pages_newest_first(stack: Stack) -> None:
    """History pages by ``before`` cover every materialization once, newest first."""
    location = stack.register(basic.repo)
    seqs = [_materialize(stack, location, "numbers", version=f"v{i}").seq or 0 for i in range(7)]
    _materialize(stack, location, "total")  # another asset's materialization is not listed
    pages: list[list[int]] = []
    before = ""
    while True:
        status, body = _get(stack, f"/api/assets/basic/numbers/history?limit=3{before}")
        assert status == 200
        pages.append([m["seq"] for m in body["materializations"]])
        if body["next_before"] is None:
            break
        before = f"&before={body['next_before']}"
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [s for page in pages for s in page] == sorted(seqs, reverse=True)
    _, first = _get(stack, "/api/assets/basic/numbers/history?limit=1")
    latest = first["materializations"][0]
    assert latest["data_version"] == "v6"
    assert {m["key"]: m["text"] for m in latest["metadata"]} == {
        "dash": "https://x.test/d",
        "rows": "1,234",
    }
    status, body = _get(stack, "/api/assets/basic/numbers/history?limit=0")
    assert status == 400
    _, html = _get(stack, "/assets/basic/numbers?fragment=history")
    assert html.count("<tr data-seq=") == 7
    assert '<a href="https://x.test/d"' in html
    assert "Older" not in html


def test_partition_status_counts_and_pages(stack: Stack) -> None:
    """Materialized, failed, in-progress and missing partitions, counted and paged."""
    location = stack.register(partitioned.repo)
    _materialize(stack, location, "daily_events", partition="2024-01-01")
    _materialize(stack, location, "daily_events", partition="2024-01-02")
    _materialize(stack, location, "daily_events", partition="2024-01-03", failed=True)
    stack.add_run(
        location,
        status=RunStatus.QUEUED,
        asset_keys=("daily_events",),
        partitions={"keys": ["2024-01-05"]},
    )
    status, body = _get(stack, "/api/assets/partitioned/daily_events/partitions")
    assert status == 200
    assert body["total"] == 10
    assert body["statuses"] == "mmf-r-----"
    assert body["counts"] == {"materialized": 2, "failed": 1, "in_progress": 1, "missing": 6}
    assert body["failures"] == {"2024-01-03": "boom"}
    assert body["row_size"] == 7
    _, page = _get(stack, "/api/assets/partitioned/daily_events/partitions?offset=2&limit=3")
    assert page["keys"] == ["2024-01-03", "2024-01-04", "2024-01-05"]
    assert page["statuses"] == "f-r"
    assert page["counts"] == body["counts"]
    _, compact = _get(stack, "/api/assets/partitioned/daily_events/partitions?keys=0")
    assert compact["keys"] is None
    assert compact["statuses"] == body["statuses"]
    _, multi = _get(stack, "/api/assets/partitioned/regional/partitions")
    assert multi["total"] == 20
    assert multi["row_size"] == 2  # a 2-D grid: a row per date, a column per region
    assert multi["keys"][:2] == ["2024-01-01|eu", "2024-01-01|us"]
    status, _ = _get(stack, "/api/assets/partitioned/daily_events/partitions?limit=0")
    assert status == 400
    _, header = _get(stack, "/assets/partitioned/daily_events?fragment=header")
    assert "running" in header


def test_partition_status_of_an_unpartitioned_asset_is_400(stack: Stack) -> None:
    """Asking an unpartitioned asset for partitions is a client error."""
    stack.register(basic.repo)
    status, body = _get(stack, "/api/assets/basic/numbers/partitions")
    assert status == 400
    assert "not partitioned" in body["error"]


def test_launch_selected_and_backfill_missing_partitions(stack: Stack) -> None:
    """The page's launches (one key as a run, missing keys as a backfill) are accepted."""
    stack.register(ui_demo.repo)
    status, run = _post(
        stack,
        "/api/runs",
        {
            "location": "ui_demo",
            "selection": ["daily_events"],
            "partitions": {"keys": ["2026-11-02"]},
        },
    )
    assert status == 201, run
    _, body = _get(stack, "/api/assets/ui_demo/daily_events/partitions")
    assert body["statuses"] == "-r-----"
    missing = [k for k, s in zip(body["keys"], body["statuses"], strict=True) if s == "-"]
    status, backfill = _post(
        stack,
        "/api/backfills",
        {"location": "ui_demo", "selection": ["daily_events"], "partitions": {"keys": missing}},
    )
    assert status == 201, backfill
    assert backfill["backfill_id"]


def test_history_after_a_real_run(stack: Stack) -> None:
    """A run executed by a real worker shows in the history and turns the status materialized."""
    stack.register(basic.repo)
    status, run = _post(stack, "/api/runs", {"location": "basic", "selection": ["numbers"]})
    assert status == 201, run
    worker = stack.run_worker("tests.fixtures.code_locations.basic", run["run_id"])
    assert worker.returncode == 0, worker.stderr
    deadline = time.monotonic() + 10
    while True:
        _, body = _get(stack, "/api/assets/basic/numbers")
        if body["status"] == "materialized" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert body["status"] == "materialized"
    assert body["last_materialization"]["run_id"] == run["run_id"]
    _, history = _get(stack, "/api/assets/basic/numbers/history")
    assert [m["run_id"] for m in history["materializations"]] == [run["run_id"]]
    _, html = _get(stack, "/assets/basic/numbers?fragment=history")
    assert f"/runs/{run['run_id']}" in html
