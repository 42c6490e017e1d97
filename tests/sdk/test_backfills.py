"""Backfills: strategies, BackfillStatus, failed partitions, stored progress, re-runs."""

from __future__ import annotations

import pytest

import rivers as rs
from tests.fixtures.code_locations import partitioned as loc


@pytest.fixture
def repo():
    """The partitioned fixture location with a fresh memory store."""
    repo = rs.CodeRepository(
        name="backfill-test", assets=[loc.daily_events, loc.two_day_total, loc.regional]
    )
    yield repo
    repo.storage.close()


def test_multi_run_backfill_runs_each_partition(repo):
    """multi_run makes one run per partition; every partition succeeds and is stored."""
    seen = []
    status = repo.backfill(
        ["daily_events", "two_day_total"],
        rs.PartitionKeyRange.single("2024-01-01", "2024-01-04"),
        on_progress=seen.append,
    )
    assert (status.requested, status.succeeded, status.failed, status.in_progress) == (4, 4, 0, 0)
    assert status.status is rs.BackfillState.COMPLETED
    assert len(status.run_ids) == 4
    assert [s.runs_done for s in seen] == [0, 1, 2, 3, 4]
    runs = [repo.storage.get_run(r) for r in status.run_ids]
    assert [r.tags["rivers/partition"] for r in runs if r] == [
        "2024-01-01",
        "2024-01-02",
        "2024-01-03",
        "2024-01-04",
    ]
    assert all(r.tags["rivers/backfill"] == status.backfill_id for r in runs if r)
    assert sorted(repo.partition_status("two_day_total").materialized) == [
        "2024-01-01",
        "2024-01-02",
        "2024-01-03",
        "2024-01-04",
    ]
    stored = repo.get_backfill(status.backfill_id)
    assert (stored.succeeded, stored.runs_done, stored.runs_total) == (4, 4, 4)


def test_failed_partitions_are_reported_and_can_be_rerun(repo, monkeypatch):
    """A raising partition fails (downstream too); re-running the failures completes it."""
    monkeypatch.setenv("RIVERS_TEST_FAIL_DAY", "2024-01-02")
    status = repo.backfill(
        ["daily_events"], rs.PartitionKeyRange.single("2024-01-01", "2024-01-03")
    )
    assert (status.succeeded, status.failed) == (2, 1)
    assert status.status is rs.BackfillState.FAILED
    assert list(status.failed_partitions) == ["2024-01-02"]
    assert "source unavailable" in status.failed_partitions["2024-01-02"]
    monkeypatch.delenv("RIVERS_TEST_FAIL_DAY")
    rerun = repo.rerun_backfill_failures(status.backfill_id)
    assert (rerun.requested, rerun.succeeded, rerun.failed) == (1, 1, 0)
    assert rerun.record.parent_backfill_id == status.backfill_id
    assert repo.partition_status("daily_events").failed == {}
    with pytest.raises(rs.PartitionError, match="no failed partitions"):
        repo.rerun_backfill_failures(rerun.backfill_id)


def test_single_run_with_mark_partition_failed(make_repo):
    """single_run gives the step every key; marked keys fail, the rest succeed."""
    days = rs.PartitionsDefinition.daily(start="2024-01-01", end="2024-01-06")

    @rs.Asset(partitions_def=days, backfill_strategy=rs.BackfillStrategy.single_run())
    def daily_events(context: rs.AssetExecutionContext) -> dict[str, int]:
        out = {}
        for key in context.partition.keys:
            if key.endswith("03"):
                context.mark_partition_failed(key, "bad upstream file")
                continue
            out[key] = 1
        return out

    repo = make_repo(daily_events)
    status = repo.backfill([daily_events], None)
    assert len(status.run_ids) == 1
    assert (status.requested, status.succeeded, status.failed) == (5, 4, 1)
    assert status.failed_partitions == {"2024-01-03": "daily_events: bad upstream file"}
    partition_status = repo.partition_status(daily_events)
    assert partition_status.failed == {"2024-01-03": "bad upstream file"}
    assert len(partition_status.materialized) == 4


def test_per_dimension_runs_one_date_per_run_with_every_region(repo):
    """per_dimension(multi_run=[date], single_run=[region]): a run per date, all regions in it."""
    keys_seen: list[list[str]] = []

    @rs.Asset(partitions_def=loc.DAY_REGION, name="regional")
    def regional(context: rs.AssetExecutionContext) -> dict[str, str]:
        keys_seen.append(list(context.partition.keys))
        return {k: k for k in context.partition.keys}

    local = rs.CodeRepository(assets=[regional])
    try:
        status = local.backfill(
            ["regional"],
            rs.PartitionKeyRange.multi({"date": ("2024-01-01", "2024-01-03")}),
            rs.BackfillStrategy.per_dimension(multi_run=["date"], single_run=["region"]),
        )
        assert (status.requested, status.succeeded, len(status.run_ids)) == (6, 6, 3)
        assert keys_seen == [
            ["2024-01-01|eu", "2024-01-01|us"],
            ["2024-01-02|eu", "2024-01-02|us"],
            ["2024-01-03|eu", "2024-01-03|us"],
        ]
    finally:
        local.storage.close()


@pytest.mark.parametrize(
    ("assets", "message"),
    [
        (["daily_events", "regional"], "differ"),
        (["nope"], "nope"),
    ],
)
def test_backfill_input_errors(repo, assets, message):
    """Assets with different definitions or unknown assets are refused before anything runs."""
    with pytest.raises(rs.RiversError, match=message):
        repo.backfill(assets, None)
    assert repo.storage.get_backfills() == []


def test_backfill_of_unpartitioned_assets_is_refused(make_repo):
    """Backfills cover partitioned assets; unpartitioned ones are named in the error."""

    @rs.Asset
    def plain() -> int:
        return 1

    with pytest.raises(rs.PartitionError, match="plain"):
        make_repo(plain).backfill(["plain"], None)


def test_backfill_survives_the_process(tmp_path):
    """A backfill stored in an embedded store is read back by a new repository object."""
    store = tmp_path / "store"
    first = rs.CodeRepository(
        name="persist", assets=[loc.daily_events], storage=rs.Storage.embedded(store)
    )
    status = first.backfill(["daily_events"], ["2024-01-01", "2024-01-05"])
    first.storage.close()
    second = rs.CodeRepository(
        name="persist", assets=[loc.daily_events], storage=rs.Storage.embedded(store)
    )
    try:
        again = second.get_backfill(status.backfill_id)
        assert (again.requested, again.succeeded) == (2, 2)
        assert again.record.partitions == {"keys": ["2024-01-01", "2024-01-05"]}
    finally:
        second.storage.close()
