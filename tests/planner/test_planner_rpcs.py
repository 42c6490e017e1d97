"""PlanRun, PlanBackfill and ListPartitionKeys through the generated stub, against the SDK."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest

import rivers as rs
from rivers._proto.rivers.v1 import partitions_pb2, runs_pb2
from rivers._proto.rivers.v1 import planner_pb2 as pb
from rivers.partitions import selection as partition_selection
from rivers.planning import ExecutionPlan, build_plan, plan_backfill
from rivers_planner import planning
from tests.fixtures.code_locations import basic, partitioned
from tests.planner.harness import CENTURY, Planner, Snapshots


def rpc_error(call: Callable[[], Any]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value


def days(start: str, end: str) -> runs_pb2.PartitionSelection:
    return runs_pb2.PartitionSelection(range=partitions_pb2.PartitionKeyRange(start=start, end=end))


# -- PlanRun ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "selection", [[], ["*"], ["report"], ["+report"], ["numbers*"], ["group:derived", "numbers"]]
)
def test_plan_run_equals_build_plan(
    planner: Planner, snapshots: Snapshots, selection: list[str]
) -> None:
    """A planned run is exactly the plan rivers.planning builds for the same selection."""
    reply = planner.stub.PlanRun(
        pb.PlanRunRequest(snapshot_id=snapshots.basic, selection=selection)
    )
    expected = build_plan(basic.repo.snapshot, selection or None)
    assert ExecutionPlan.from_proto(reply.plan) == expected
    assert reply.plan.snapshot_id == snapshots.basic
    assert list(reply.partition_keys) == []


def test_selection_errors_are_invalid_argument_with_rivers_message(
    planner: Planner, snapshots: Snapshots
) -> None:
    """A selection naming nothing is INVALID_ARGUMENT, with the SelectionError's own message."""
    with pytest.raises(rs.SelectionError) as expected:
        build_plan(basic.repo.snapshot, ["reprot"])
    error = rpc_error(
        lambda: planner.stub.PlanRun(
            pb.PlanRunRequest(snapshot_id=snapshots.basic, selection=["reprot"])
        )
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == str(expected.value)
    assert "did you mean 'report'" in error.details()


def test_unknown_snapshot_is_not_found(planner: Planner) -> None:
    """A snapshot id storage does not hold is NOT_FOUND, naming the id."""
    error = rpc_error(lambda: planner.stub.PlanRun(pb.PlanRunRequest(snapshot_id="0" * 24)))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert "0" * 24 in error.details()


def test_missing_snapshot_id_is_invalid_argument(planner: Planner) -> None:
    """A request without a snapshot id is INVALID_ARGUMENT, not a lookup of ''."""
    error = rpc_error(lambda: planner.stub.PlanRun(pb.PlanRunRequest()))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "snapshot_id is required" in error.details()


def test_partition_range_resolves_to_keys(planner: Planner, snapshots: Snapshots) -> None:
    """A range over the selected assets' definition comes back as its validated keys."""
    reply = planner.stub.PlanRun(
        pb.PlanRunRequest(
            snapshot_id=snapshots.partitioned,
            selection=["daily_events", "two_day_total"],
            partitions=days("2024-01-02", "2024-01-04"),
        )
    )
    assert list(reply.partition_keys) == ["2024-01-02", "2024-01-03", "2024-01-04"]
    expected = build_plan(partitioned.repo.snapshot, ["daily_events", "two_day_total"])
    assert ExecutionPlan.from_proto(reply.plan) == expected


@pytest.mark.parametrize(
    ("partitions", "keys"),
    [
        (runs_pb2.PartitionSelection(key="2024-01-05"), ["2024-01-05"]),
        (
            runs_pb2.PartitionSelection(keys=runs_pb2.PartitionKeyList(keys=["2024-01-07"])),
            ["2024-01-07"],
        ),
        (runs_pb2.PartitionSelection(all=True), [f"2024-01-{d:02}" for d in range(1, 11)]),
    ],
    ids=["key", "list", "all"],
)
def test_partition_selections_resolve(
    planner: Planner, snapshots: Snapshots, partitions: runs_pb2.PartitionSelection, keys: list[str]
) -> None:
    """A key, a key list and `all` resolve against the definition like rivers' resolve()."""
    reply = planner.stub.PlanRun(
        pb.PlanRunRequest(
            snapshot_id=snapshots.partitioned, selection=["daily_events"], partitions=partitions
        )
    )
    assert list(reply.partition_keys) == keys


@pytest.mark.parametrize(
    ("selection", "partitions", "message"),
    [
        (["daily_events"], None, "are partitioned: pass partitions (a key such as '2024-01-01'"),
        (
            ["report"],
            runs_pb2.PartitionSelection(key="2024-01-01"),
            "a partition was given but none of the selected assets is partitioned",
        ),
        (
            ["daily_events", "regional"],
            runs_pb2.PartitionSelection(key="2024-01-01"),
            "the selected partitioned assets have different partitions definitions "
            "(daily_events, regional)",
        ),
        (
            ["daily_events"],
            runs_pb2.PartitionSelection(key="2030-01-01"),
            "'2030-01-01' is not a partition key of daily partitions",
        ),
    ],
    ids=["missing", "unpartitioned", "mixed", "bad-key"],
)
def test_partition_errors_are_invalid_argument(
    planner: Planner,
    snapshots: Snapshots,
    selection: list[str],
    partitions: runs_pb2.PartitionSelection | None,
    message: str,
) -> None:
    """Missing, superfluous, mixed or invalid partitions are INVALID_ARGUMENT with the reason."""
    snapshot = snapshots.basic if selection == ["report"] else snapshots.partitioned
    request = pb.PlanRunRequest(snapshot_id=snapshot, selection=selection, partitions=partitions)
    error = rpc_error(lambda: planner.stub.PlanRun(request))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in error.details()


# -- PlanBackfill -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("strategy", "runs"),
    [
        (None, 3),
        (rs.BackfillStrategy.multi_run(), 3),
        (rs.BackfillStrategy.single_run(), 1),
    ],
    ids=["default", "multi_run", "single_run"],
)
def test_backfill_counts(
    planner: Planner, snapshots: Snapshots, strategy: rs.BackfillStrategy | None, runs: int
) -> None:
    """A backfill reports its plan, partitions requested and runs, as plan_backfill does."""
    request = pb.PlanBackfillRequest(
        snapshot_id=snapshots.partitioned,
        selection=["daily_events", "two_day_total"],
        partitions=days("2024-01-03", "2024-01-05"),
        strategy=None if strategy is None else strategy.to_proto(),
    )
    reply = planner.stub.PlanBackfill(request)
    expected = plan_backfill(
        partitioned.repo.snapshot,
        ["daily_events", "two_day_total"],
        rs.PartitionKeyRange.single("2024-01-03", "2024-01-05"),
        strategy,
    )
    assert (reply.requested, reply.run_count) == (3, runs)
    assert (expected.requested, len(expected.runs)) == (3, runs)
    assert ExecutionPlan.from_proto(reply.plan) == expected.plan
    assert rs.BackfillStrategy.from_proto(reply.strategy) == expected.strategy


def test_backfill_defaults_to_every_partition(planner: Planner, snapshots: Snapshots) -> None:
    """Without partitions (or with `all`) a backfill covers every partition."""
    for partitions in (None, runs_pb2.PartitionSelection(all=True)):
        reply = planner.stub.PlanBackfill(
            pb.PlanBackfillRequest(
                snapshot_id=snapshots.partitioned, selection=["regional"], partitions=partitions
            )
        )
        assert (reply.requested, reply.run_count) == (20, 20)


def test_backfill_of_unpartitioned_assets_is_invalid_argument(
    planner: Planner, snapshots: Snapshots
) -> None:
    """Backfilling unpartitioned assets is INVALID_ARGUMENT with rivers' explanation."""
    error = rpc_error(
        lambda: planner.stub.PlanBackfill(
            pb.PlanBackfillRequest(snapshot_id=snapshots.basic, selection=["report"])
        )
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "a backfill runs partitioned assets" in error.details()


def test_backfill_with_unknown_strategy_kind_is_invalid_argument(
    planner: Planner, snapshots: Snapshots
) -> None:
    """A strategy of unspecified kind is INVALID_ARGUMENT, not an internal error."""
    error = rpc_error(
        lambda: planner.stub.PlanBackfill(
            pb.PlanBackfillRequest(
                snapshot_id=snapshots.partitioned,
                selection=["daily_events"],
                strategy=partitions_pb2.BackfillStrategy(),
            )
        )
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "unsupported kind" in error.details()


# -- ListPartitionKeys --------------------------------------------------------------------------


@pytest.fixture
def keys_listed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts every partition key generated by iterating any PartitionKeys."""
    counted = [0]
    iterate = partition_selection.PartitionKeys.__iter__

    def counting(self: partition_selection.PartitionKeys) -> Iterator[str]:
        for key in iterate(self):
            counted[0] += 1
            yield key

    monkeypatch.setattr(partition_selection.PartitionKeys, "__iter__", counting)
    return counted


def test_list_partition_keys_pages_without_enumerating(
    planner: Planner, snapshots: Snapshots, keys_listed: list[int]
) -> None:
    """Pages of a ~46,000-key daily definition come from index arithmetic, not a full listing."""
    all_keys = CENTURY.get_partition_keys()
    first = planner.stub.ListPartitionKeys(
        pb.ListPartitionKeysRequest(snapshot_id=snapshots.century, asset_key="century", page_size=5)
    )
    assert first.total == len(all_keys) > 45_000
    assert list(first.keys) == [
        "1900-01-01",
        "1900-01-02",
        "1900-01-03",
        "1900-01-04",
        "1900-01-05",
    ]
    second = planner.stub.ListPartitionKeys(
        pb.ListPartitionKeysRequest(
            snapshot_id=snapshots.century,
            asset_key="century",
            page_size=5,
            page_token=first.next_page_token,
        )
    )
    assert list(second.keys) == list(all_keys[5:10])
    assert keys_listed[0] == 10 + 5  # two pages served, one compared here


def test_list_partition_keys_walks_to_the_last_page(planner: Planner, snapshots: Snapshots) -> None:
    """Following next_page_token yields every key once; the last page has no token."""
    seen: list[str] = []
    token = ""
    while True:
        reply = planner.stub.ListPartitionKeys(
            pb.ListPartitionKeysRequest(
                snapshot_id=snapshots.partitioned,
                asset_key="regional",
                page_size=6,
                page_token=token,
            )
        )
        assert reply.total == 20
        seen.extend(reply.keys)
        token = reply.next_page_token
        if not token:
            break
    assert seen == list(partitioned.DAY_REGION.get_partition_keys())
    assert len(reply.keys) == 2


@pytest.mark.parametrize(
    ("asset", "size", "token", "code", "message"),
    [
        ("nope", 0, "", grpc.StatusCode.NOT_FOUND, "no asset 'nope'"),
        ("century", 0, "not-a-token", grpc.StatusCode.INVALID_ARGUMENT, "invalid page_token"),
        ("century", -1, "", grpc.StatusCode.INVALID_ARGUMENT, "page_size must not be negative"),
    ],
    ids=["unknown-asset", "bad-token", "negative-size"],
)
def test_list_partition_keys_errors(
    planner: Planner,
    snapshots: Snapshots,
    asset: str,
    size: int,
    token: str,
    code: grpc.StatusCode,
    message: str,
) -> None:
    """Unknown assets are NOT_FOUND; malformed tokens and sizes are INVALID_ARGUMENT."""
    request = pb.ListPartitionKeysRequest(
        snapshot_id=snapshots.century, asset_key=asset, page_size=size, page_token=token
    )
    error = rpc_error(lambda: planner.stub.ListPartitionKeys(request))
    assert error.code() == code
    assert message in error.details()


def test_list_partition_keys_of_unpartitioned_asset(planner: Planner, snapshots: Snapshots) -> None:
    """Listing keys of an unpartitioned asset is INVALID_ARGUMENT, saying so."""
    error = rpc_error(
        lambda: planner.stub.ListPartitionKeys(
            pb.ListPartitionKeysRequest(snapshot_id=snapshots.basic, asset_key="report")
        )
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == "asset 'report' is not partitioned"


# -- unexpected failures ------------------------------------------------------------------------


def test_unexpected_errors_are_internal_without_traceback(
    planner: Planner, snapshots: Snapshots, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A planner bug is INTERNAL naming only the error type; its details stay in the log."""

    def broken(*args: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(planning, "run_target", broken)
    error = rpc_error(
        lambda: planner.stub.PlanRun(
            pb.PlanRunRequest(snapshot_id=snapshots.basic, selection=["numbers+"])
        )
    )
    assert error.code() == grpc.StatusCode.INTERNAL
    assert "RuntimeError" in error.details()
    assert "secret" not in error.details() and "Traceback" not in error.details()


def test_storage_failures_are_unavailable(
    planner: Planner, storage: rs.Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store that fails while reading a snapshot makes the call UNAVAILABLE."""

    def down(snapshot_id: str) -> None:
        raise rs.StorageError("storage query failed: connection reset")

    monkeypatch.setattr(storage, "get_snapshot", down)
    error = rpc_error(lambda: planner.stub.PlanRun(pb.PlanRunRequest(snapshot_id="e" * 24)))
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert "connection reset" in error.details()
