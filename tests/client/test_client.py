"""RiversClient: typed results, error mapping, bounded retries, and watches that resume."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import grpc
import pytest

import rivers as rs
from rivers.client import (
    AssetSummary,
    ClientError,
    CodeLocationInfo,
    InvalidRequestError,
    NotFoundError,
    RiversClient,
    UnavailableError,
)
from rivers.client._convert import (
    asset_summary_from_proto,
    asset_summary_to_proto,
    location_info_from_proto,
    location_info_to_proto,
)
from rivers.execution.events import EventKind, RunEvent
from rivers.storage import BackfillState, RunStatus
from tests.fixtures.code_locations import basic, failing, partitioned
from tests.gateway.harness import Stack, collect, in_thread, wait_until
from tests.ports import free_port

K = EventKind


def test_importing_rivers_does_not_import_the_client() -> None:
    """`import rivers` stays free of grpc and of rivers.client."""
    code = (
        "import sys, rivers; "
        "assert 'grpc' not in sys.modules and 'rivers.client' not in sys.modules"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_models_round_trip_through_the_wire() -> None:
    """Location infos and asset summaries survive to_proto / from_proto unchanged."""
    info = CodeLocationInfo(
        identity="i",
        name="n",
        endpoint="h:1",
        last_heartbeat=1.5,
        snapshot_id="s",
        status="available",
    )
    assert location_info_from_proto(location_info_to_proto(info)) == info
    bare = CodeLocationInfo(identity="i", name="n", status="unavailable")
    assert location_info_from_proto(location_info_to_proto(bare)) == bare
    for asset in partitioned.repo.snapshot.assets:
        summary = AssetSummary(location="p", asset=asset, last_materialized_at=2.0, last_run_id="r")
        assert asset_summary_from_proto(asset_summary_to_proto(summary)) == summary


def test_typed_results(stack: Stack) -> None:
    """Locations, assets, runs, backfills and pools come back as SDK models."""
    stack.register(basic.repo)
    with stack.client() as client:
        (location,) = client.list_code_locations()
        assert isinstance(location, CodeLocationInfo) and location.available
        assert {a.key for a in client.list_assets()} == {"numbers", "scaled", "total", "report"}
        run = client.launch_run(["scaled"], config={"scaled": basic.ScaleConfig(factor=5)})
        assert isinstance(run, rs.RunRecord)
        assert run.config == {"scaled": {"factor": 5}}
        assert client.get_run(run.run_id).status is RunStatus.QUEUED
        assert client.set_pool_limit("db", 3).limit == 3
        assert [p.name for p in client.list_pools()] == ["db"]
        assert client.get_pool("db").info.manual_limit == 3


def test_error_mapping(stack: Stack) -> None:
    """Status codes become NotFoundError / InvalidRequestError, never a raw grpc.RpcError."""
    stack.register(basic.repo)
    client = stack.client()
    with pytest.raises(NotFoundError, match="no run 'nope'") as not_found:
        client.get_run("nope")
    assert not_found.value.code == "NOT_FOUND"
    assert not isinstance(not_found.value, grpc.RpcError)
    assert not_found.value.__cause__ is None and not_found.value.__suppress_context__
    with pytest.raises(NotFoundError):
        list(client.watch_run("nope"))
    with pytest.raises(InvalidRequestError, match="nope"):
        client.launch_run(["nope"])
    with pytest.raises(InvalidRequestError, match="not an asset selected"):
        client.launch_run(["numbers"], config={"total": {}})
    with pytest.raises(NotFoundError):
        client.get_backfill("nope")
    with pytest.raises(rs.RiversError):  # the base class catches client errors too
        client.get_asset("nope")


def test_planner_down_is_unavailable(stack: Stack) -> None:
    """A launch while the planner is down raises UnavailableError naming the planner."""
    stack.register(basic.repo)
    stack.stop_planner()
    stack.stop_gateway()
    stack.start_gateway(planner_timeout=2.0)
    client = stack.client(retries=1)
    with pytest.raises(UnavailableError, match="planner unreachable") as info:
        client.launch_run(["numbers"])
    assert info.value.code == "UNAVAILABLE"
    assert stack.address in str(info.value)


def test_nothing_listening_is_unavailable_after_bounded_retries() -> None:
    """With no gateway at the address, calls fail with UnavailableError after a few retries."""
    address = f"127.0.0.1:{free_port()}"
    with RiversClient(address, timeout=1.0, retries=2) as client:
        started = time.perf_counter()
        with pytest.raises(UnavailableError, match=f"gateway unreachable at {address}"):
            client.list_code_locations()
        assert time.perf_counter() - started < 10
        with pytest.raises(UnavailableError):
            list(client.watch_run("r"))


def test_calls_retry_until_the_gateway_comes_up(stack: Stack) -> None:
    """A call made while the gateway is down succeeds once it is back (retried UNAVAILABLE)."""
    stack.register(basic.repo)
    stack.stop_gateway()
    client = stack.client(retries=8)
    timer = threading.Timer(0.5, stack.start_gateway)
    timer.start()
    try:
        assert [loc.name for loc in client.list_code_locations()] == ["basic"]
    finally:
        timer.join()


def test_watch_resumes_across_a_gateway_restart(stack: Stack) -> None:
    """A watch survives a gateway restart: every event once, in order, to the final one."""
    run = stack.add_run(stack.register(basic.repo))
    first = stack.emit(run, K.RUN_STARTED, K.STEP_STARTED)
    received: list[tuple[float, RunEvent]] = []
    watcher = in_thread(lambda: collect(stack.client().watch_run(run.run_id), received))
    wait_until(lambda: len(received) == 2, what="the first events")
    stack.stop_gateway()
    while_down = stack.emit(run, K.LOG, K.STEP_SUCCESS)
    time.sleep(0.3)
    stack.start_gateway()
    wait_until(lambda: len(received) == 4, what="the events written while down")
    last = stack.emit(run, K.RUN_SUCCESS, finish=RunStatus.SUCCESS)
    watcher.join(10)
    assert not watcher.is_alive()
    assert [e for _, e in received] == first + while_down + last


def test_wait_for_run(stack: Stack) -> None:
    """wait_for_run returns the finished run, or raises TimeoutError in time."""
    run = stack.add_run(stack.register(basic.repo))
    client = stack.client()
    started = time.perf_counter()
    with pytest.raises(TimeoutError):
        client.wait_for_run(run.run_id, timeout=0.5)
    assert time.perf_counter() - started < 2.0
    threading.Timer(0.2, lambda: stack.emit(run, K.RUN_SUCCESS, finish=RunStatus.SUCCESS)).start()
    assert client.wait_for_run(run.run_id, timeout=10).status is RunStatus.SUCCESS


def test_list_runs_iterates_pages(stack: Stack) -> None:
    """list_runs follows page tokens transparently and honours limit."""
    location = stack.register(basic.repo)
    ids = [stack.add_run(location, created_at=1000.0 + i).run_id for i in range(7)]
    client = stack.client()
    assert [r.run_id for r in client.list_runs(page_size=3)] == ids[::-1]
    assert [r.run_id for r in client.list_runs(page_size=3, limit=4)] == ids[::-1][:4]


def test_backfills_launch_and_wait(stack: Stack) -> None:
    """launch_backfill returns the REQUESTED backfill; wait_for_backfill returns it finished."""
    stack.register(partitioned.repo)
    client = stack.client()
    backfill = client.launch_backfill(["daily_events"], ["2024-01-01", "2024-01-02"])
    assert backfill.status is BackfillState.REQUESTED
    assert (backfill.requested, backfill.runs_total) == (2, 2)
    assert backfill.partitions == {"keys": ["2024-01-01", "2024-01-02"]}
    with pytest.raises(TimeoutError, match=backfill.backfill_id):
        client.wait_for_backfill(backfill.backfill_id, timeout=0.3, poll=0.05)
    stack.storage.update_backfill(backfill.backfill_id, status=BackfillState.COMPLETED)
    done = client.wait_for_backfill(backfill.backfill_id, timeout=5, poll=0.05)
    assert done.status is BackfillState.COMPLETED
    with pytest.raises(InvalidRequestError):
        client.launch_backfill(["daily_events"], ["1999-01-01"])


def test_a_closed_client_refuses_calls(stack: Stack) -> None:
    """After close (or the with block), calls raise ClientError, not a grpc error."""
    with stack.client() as client:
        client.list_code_locations()
    with pytest.raises(ClientError, match="closed"):
        client.list_code_locations()
    with pytest.raises(ClientError, match="closed"):
        list(client.watch_run("r"))
    client.close()


def test_wait_for_run_reraises_the_user_error(stack: Stack) -> None:
    """raise_on_failure re-raises a failed step's error as UserCodeError with its traceback."""
    repo = rs.CodeRepository(
        name="failing",
        assets=[failing.source, failing.broken, failing.after_broken, failing.healthy],
    )
    stack.register(repo)
    client = stack.client()
    run = client.launch_run()
    stack.run_worker("tests.fixtures.code_locations.failing", run.run_id)
    assert client.wait_for_run(run.run_id, timeout=10).status is RunStatus.FAILURE
    with pytest.raises(rs.UserCodeError, match="ValueError: cannot handle 1") as caught:
        client.wait_for_run(run.run_id, timeout=10, raise_on_failure=True)
    assert caught.value.error_type == "ValueError"
    assert "raise ValueError" in caught.value.user_traceback
    ok = client.launch_run(["healthy"])
    stack.run_worker("tests.fixtures.code_locations.failing", ok.run_id)
    done = client.wait_for_run(ok.run_id, timeout=10, raise_on_failure=True)
    assert done.status is RunStatus.SUCCESS
