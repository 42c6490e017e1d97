"""ListRuns paging and filters, code locations, assets, pools and backfills through the API."""

from __future__ import annotations

import time

import grpc
import pytest

import rivers as rs
from rivers._proto.rivers.v1 import api_pb2 as pb
from rivers.storage import BackfillState, RunStatus
from tests.fixtures.code_locations import basic, e2e, partitioned
from tests.gateway.harness import Stack


def _code(call: object) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as info:
        call()  # type: ignore[operator]
    return info.value.code(), info.value.details()


def _pages(stack: Stack, page_size: int, **fields: object) -> list[list[str]]:
    stub = stack.stub()
    pages: list[list[str]] = []
    token = ""
    while True:
        reply = stub.ListRuns(pb.ListRunsRequest(page_size=page_size, page_token=token, **fields))
        pages.append([r.run_id for r in reply.runs])
        token = reply.next_page_token
        if not token:
            return pages


def test_list_runs_pages_newest_first_including_ties(stack: Stack) -> None:
    """Paging returns every run once, newest first, even runs created at the same instant."""
    location = stack.register(basic.repo)
    ids = []
    for i in range(13):
        # Instants 100, 101, 101, 101, 102, ...: several runs share a created_at.
        created = 100.0 + (i + 2) // 3
        ids.append(stack.add_run(location, created_at=created, run_id=f"run-{i:02d}").run_id)
    expected = sorted(ids, key=lambda r: (100.0 + (int(r[-2:]) + 2) // 3, r), reverse=True)
    pages = _pages(stack, page_size=4)
    assert [len(p) for p in pages] == [4, 4, 4, 1]
    assert [r for page in pages for r in page] == expected
    listed = [r.run_id for r in stack.client().list_runs(page_size=5)]
    assert listed == expected


def test_list_runs_scans_in_small_batches(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """Store batches smaller than a tie group and a scan bound cutting pages short lose no run."""
    import rivers_ui.runs

    monkeypatch.setattr(rivers_ui.runs, "_BATCH", 2)
    monkeypatch.setattr(rivers_ui.runs, "MAX_SCANNED", 3)
    location = stack.register(basic.repo)
    runs = []
    for i in range(10):
        tags = {"pick": "yes"} if i in (0, 7) else {}
        runs.append(stack.add_run(location, created_at=100.0 + i // 4, run_id=f"r{i}", tags=tags))
    pages = _pages(stack, page_size=10, tags=[{"key": "pick", "value": "yes"}])
    assert len(pages) > 2
    assert [r for page in pages for r in page] == ["r7", "r0"]
    everything = [r for page in _pages(stack, page_size=2) for r in page]
    assert everything == [
        r.run_id for r in sorted(runs, key=lambda r: (r.created_at, r.run_id), reverse=True)
    ]


def test_list_runs_filters(stack: Stack) -> None:
    """Location, statuses, tags (all must match) and asset filter the listing."""
    basic_loc = stack.register(basic.repo)
    e2e_loc = stack.register(e2e.repo)
    a = stack.add_run(
        basic_loc, status=RunStatus.SUCCESS, tags={"team": "a", "x": "1"}, asset_keys=("numbers",)
    )
    b = stack.add_run(
        basic_loc, status=RunStatus.FAILURE, tags={"team": "a"}, asset_keys=("total",)
    )
    c = stack.add_run(e2e_loc, status=RunStatus.SUCCESS, tags={"team": "b"}, asset_keys=("seed",))
    client = stack.client()

    def ids(**filters: object) -> set[str]:
        return {r.run_id for r in client.list_runs(**filters)}  # type: ignore[arg-type]

    assert ids() == {a.run_id, b.run_id, c.run_id}
    assert ids(location="basic") == {a.run_id, b.run_id}
    assert ids(statuses=[RunStatus.SUCCESS]) == {a.run_id, c.run_id}
    assert ids(tags={"team": "a"}) == {a.run_id, b.run_id}
    assert ids(tags={"team": "a", "x": "1"}) == {a.run_id}
    assert ids(asset_key="seed") == {c.run_id}
    assert ids(location="basic", statuses=["FAILURE"], asset_key="total") == {b.run_id}
    assert len(list(client.list_runs(limit=2))) == 2


def test_list_runs_rejects_bad_tokens_and_unknown_locations(stack: Stack) -> None:
    """A token the gateway did not make is INVALID_ARGUMENT; an unknown location NOT_FOUND."""
    stub = stack.stub()
    code, details = _code(lambda: stub.ListRuns(pb.ListRunsRequest(page_token="garbage!")))
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert "page_token" in details
    code, _ = _code(lambda: stub.ListRuns(pb.ListRunsRequest(location="nope")))
    assert code is grpc.StatusCode.NOT_FOUND
    code, _ = _code(lambda: stub.ListRuns(pb.ListRunsRequest(page_size=-1)))
    assert code is grpc.StatusCode.INVALID_ARGUMENT


def test_list_code_locations_reports_liveness(stack: Stack) -> None:
    """A heartbeating location is available; one that never heartbeated is not."""
    live = stack.register(basic.repo)
    stack.storage.ensure_location("silent")
    infos = {loc.name: loc for loc in stack.client().list_code_locations()}
    assert infos["basic"].status == "available"
    assert infos["basic"].identity == live.identity
    assert infos["basic"].snapshot_id == live.snapshot_id
    assert infos["silent"].status == "unavailable"
    assert not infos["silent"].available


def test_location_unavailable_after_its_heartbeat_ages(stack: Stack) -> None:
    """Past location_timeout without a heartbeat, a location reads as unavailable."""
    stack.stop_gateway()
    stack.start_gateway(location_timeout=0.2)
    stack.register(basic.repo)
    client = stack.client()
    assert client.list_code_locations()[0].status == "available"
    time.sleep(0.3)
    assert client.list_code_locations()[0].status == "unavailable"


def test_list_and_get_assets(stack: Stack) -> None:
    """Assets come from each location's snapshot; GetAsset finds one, or says why it cannot."""
    stack.register(basic.repo)
    stack.register(partitioned.repo)
    client = stack.client()
    everything = {(a.location, a.key) for a in client.list_assets()}
    assert ("basic", "scaled") in everything
    assert ("partitioned", "regional") in everything
    only = {a.key: a for a in client.list_assets("basic")}
    assert sorted(only) == ["numbers", "report", "scaled", "total"]
    assert only["scaled"].asset.group == "derived"
    assert only["scaled"].asset.config_schema is not None
    assert only["numbers"].last_materialized_at is None
    details = client.get_asset("daily_events")
    assert details.summary.location == "partitioned"
    assert details.summary.asset.partitions_def is not None
    assert details.materializations == ()
    stub = stack.stub()
    code, _ = _code(lambda: stub.GetAsset(pb.GetAssetRequest(asset_key="nope")))
    assert code is grpc.StatusCode.NOT_FOUND
    code, _ = _code(lambda: stub.ListAssets(pb.ListAssetsRequest(location="nope")))
    assert code is grpc.StatusCode.NOT_FOUND


def test_an_asset_in_several_locations_needs_a_location(stack: Stack) -> None:
    """The same key in two locations is ambiguous without a location name."""
    stack.register(basic.repo)
    stack.register(basic.repo, name="basic-copy")
    client = stack.client()
    code, details = _code(lambda: stack.stub().GetAsset(pb.GetAssetRequest(asset_key="total")))
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert "basic, basic-copy" in details
    assert client.get_asset("total", location="basic-copy").summary.location == "basic-copy"


def test_pools(stack: Stack) -> None:
    """Pools are listed, read with their holders, and limited or cleared through the API."""
    stack.storage.ensure_pool_limits({"warehouse": 2})
    assert stack.storage.claim_pool_slots(
        "c1", ["warehouse"], 1, run_id="r", step_key="s", owner="test", lease_duration=60
    )
    client = stack.client()
    (info,) = client.list_pools()
    assert (info.name, info.limit, info.slots_in_use) == ("warehouse", 2, 1)
    details = client.get_pool("warehouse")
    assert [h.claim_id for h in details.holders] == ["c1"]
    assert details.info.holders == 1
    updated = client.set_pool_limit("warehouse", 5)
    assert (updated.limit, updated.manual_limit, updated.code_limit) == (5, 5, 2)
    assert client.set_pool_limit("warehouse", None).limit == 2
    idle = client.get_pool("unknown")
    assert idle.info.limit is None and idle.holders == ()
    stub = stack.stub()
    code, _ = _code(lambda: stub.SetPoolLimit(pb.SetPoolLimitRequest(name="warehouse", limit=-1)))
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    code, _ = _code(lambda: stub.GetPool(pb.GetPoolRequest(name="")))
    assert code is grpc.StatusCode.INVALID_ARGUMENT


def test_launch_backfill_stores_a_requested_backfill(stack: Stack) -> None:
    """A backfill is planned, then stored REQUESTED with strategy, partitions, counts and config."""
    location = stack.register(partitioned.repo)
    client = stack.client()
    days = rs.PartitionKeyRange.single("2024-01-02", "2024-01-05")
    backfill = client.launch_backfill(
        ["daily_events"], days, rs.BackfillStrategy.single_run(), tags={"why": "fix"}
    )
    assert backfill.status is BackfillState.REQUESTED
    assert backfill.location_id == location.identity
    assert backfill.asset_selection == ("daily_events",)
    assert backfill.partitions == {"range": days.model_dump(mode="json")}
    assert backfill.strategy == {
        "kind": "single_run",
        "multi_run_dimensions": [],
        "single_run_dimensions": [],
    }
    assert (backfill.requested, backfill.runs_total) == (4, 1)
    assert backfill.tags == {"why": "fix"}
    stored = stack.storage.get_backfill(backfill.backfill_id)
    assert stored is not None and stored.status is BackfillState.REQUESTED
    assert client.get_backfill(backfill.backfill_id) == backfill
    every = client.launch_backfill(["daily_events"], None)
    assert every.partitions == {"all": True}
    assert (every.requested, every.runs_total) == (10, 10)
    assert every.strategy["kind"] == "multi_run"


def test_backfill_errors(stack: Stack) -> None:
    """Unknown backfill NOT_FOUND; partitions the assets do not have INVALID_ARGUMENT."""
    stack.register(partitioned.repo)
    stub = stack.stub()
    code, _ = _code(lambda: stub.GetBackfill(pb.GetBackfillRequest(backfill_id="nope")))
    assert code is grpc.StatusCode.NOT_FOUND
    request = pb.LaunchBackfillRequest(
        selection=["daily_events"],
        partitions={"keys": {"keys": ["2030-01-01"]}},
    )
    code, details = _code(lambda: stub.LaunchBackfill(request))
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert "2030-01-01" in details
    assert stack.storage.get_backfills() == []
