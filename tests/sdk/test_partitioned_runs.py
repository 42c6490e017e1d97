"""Partitioned runs: context.partition, mapped inputs, per-partition outputs and records."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import rivers as rs
from tests.fixtures.code_locations import partitioned as loc


@pytest.fixture
def repo(tmp_path):
    """The partitioned fixture location with a fresh store and a filesystem IO handler."""
    repo = rs.CodeRepository(
        name="partitioned-test",
        assets=[loc.daily_events, loc.two_day_total, loc.regional],
        io_handler=rs.IOHandler.filesystem(tmp_path / "io"),
    )
    yield repo
    repo.storage.close()


def test_context_partition_and_one_file_per_partition(repo, tmp_path):
    """A one-partition run sees its key and window; the handler stores one file per key."""
    seen = {}

    @rs.Asset(partitions_def=loc.DAYS, name="probe")
    def probe(context: rs.AssetExecutionContext) -> str:
        seen["key"] = context.partition.key
        seen["keys"] = list(context.partition.keys)
        seen["window"] = context.partition.time_window
        return context.partition.key

    probe_repo = rs.CodeRepository(assets=[probe], io_handler=rs.IOHandler.filesystem(tmp_path))
    try:
        result = probe_repo.materialize(partition="2024-01-03")
        assert result.output_for("probe") == "2024-01-03"
        assert seen["keys"] == ["2024-01-03"]
        assert seen["window"].start == datetime(2024, 1, 3, tzinfo=UTC)
        assert seen["window"].end == datetime(2024, 1, 4, tzinfo=UTC)
        assert (tmp_path / "probe" / "2024-01-03.pkl").exists()
        (event,) = result.materializations
        assert event.partition_key == "2024-01-03"
        run = probe_repo.storage.get_run(result.run_id)
        assert run is not None and run.tags["rivers/partition"] == "2024-01-03"
    finally:
        probe_repo.storage.close()


def test_time_window_mapping_loads_the_mapped_partitions(repo):
    """start_offset=-1 loads yesterday and today (a dict), and only today on the first day."""
    repo.materialize("daily_events", partition="2024-01-01")
    repo.materialize("daily_events", partition="2024-01-02")
    first = repo.materialize("two_day_total", partition="2024-01-01")
    assert first.output_for("two_day_total") == 3
    second = repo.materialize("two_day_total", partition="2024-01-02")
    assert second.output_for("two_day_total") == 3 + 6


def test_multi_downstream_reads_its_date_from_a_daily_upstream(repo):
    """A date x region asset loads the daily upstream partition of its own date (subset)."""
    repo.materialize("daily_events", partition="2024-01-05")
    key = rs.PartitionKey.multi({"date": "2024-01-05", "region": "us"})
    result = repo.materialize("regional", partition=key)
    assert result.output_for("regional") == "2024-01-05|us:15"


def test_range_in_one_run_needs_a_dict_per_partition(make_repo):
    """A step over several partitions returns a dict keyed by partition; anything else fails."""

    @rs.Asset(partitions_def=loc.DAYS)
    def as_dict(context: rs.AssetExecutionContext) -> dict[str, int]:
        return {key: int(key[-2:]) for key in context.partition.keys}

    @rs.Asset(partitions_def=loc.DAYS)
    def as_list(context: rs.AssetExecutionContext) -> list[str]:
        return list(context.partition.keys)

    repo = make_repo(as_dict, as_list)
    days = rs.PartitionKeyRange.single("2024-01-01", "2024-01-02")
    ok = repo.materialize("as_dict", partition=days)
    assert ok.output_for("as_dict") == {"2024-01-01": 1, "2024-01-02": 2}
    bad = repo.materialize("as_list", partition=days)
    assert not bad.success
    assert "dict keyed by partition" in bad.failures[0].message
    failed = {e.partition_key for e in bad.events if e.kind is rs.EventKind.ASSET_FAILED}
    assert failed == {"2024-01-01", "2024-01-02"}


def test_partition_status_counts_materialized_failed_and_missing(repo, monkeypatch):
    """partition_status reports each partition's latest outcome and the missing rest."""
    repo.materialize("daily_events", partition="2024-01-01")
    repo.materialize("daily_events", partition="2024-01-02")
    monkeypatch.setenv("RIVERS_TEST_FAIL_DAY", "2024-01-03")
    repo.materialize("daily_events", partition="2024-01-03")
    status = repo.partition_status("daily_events")
    assert status.total == 10
    assert sorted(status.materialized) == ["2024-01-01", "2024-01-02"]
    assert list(status.failed) == ["2024-01-03"]
    assert "source unavailable" in status.failed["2024-01-03"]
    assert status.missing_count == 7
    assert next(status.missing()) == "2024-01-04"
    monkeypatch.delenv("RIVERS_TEST_FAIL_DAY")
    repo.materialize("daily_events", partition="2024-01-03")
    assert repo.partition_status("daily_events").failed == {}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"selection": "daily_events"}, "pass partition="),
        ({"selection": "daily_events", "partition": "2024-02-30"}, "2024-01-01"),
        ({"selection": "daily_events", "partition": "2030-01-01"}, "2024-01-01"),
        ({"selection": ["daily_events", "regional"], "partition": "2024-01-01"}, "different"),
    ],
)
def test_bad_partitions_are_clear_errors_before_a_run(repo, kwargs, message):
    """Missing, invalid or mixed partitions raise PartitionError (with an example) upfront."""
    with pytest.raises(rs.PartitionError, match=message):
        repo.materialize(**kwargs)
    assert repo.storage.get_runs() == []


def test_partition_for_unpartitioned_assets_is_an_error(make_repo):
    """Passing a partition when nothing selected is partitioned is refused."""

    @rs.Asset
    def plain() -> int:
        return 1

    with pytest.raises(rs.PartitionError, match="none of the selected assets"):
        make_repo(plain).materialize(partition="x")


def test_incompatible_partitions_without_mapping_fail_at_definition_time():
    """Edges between definitions with no default mapping name both assets and ask for one."""
    letters = rs.PartitionsDefinition.static_(["a", "b"])

    @rs.Asset(partitions_def=letters)
    def up() -> int:
        return 1

    @rs.Asset(partitions_def=loc.DAYS)
    def down(up: int) -> int:
        return up

    with pytest.raises(rs.DefinitionError, match=r"'down' depends on 'up'.*partition_mapping"):
        rs.CodeRepository(assets=[up, down])


def test_dynamic_partitions_added_inside_a_run(make_repo):
    """A run can add dynamic partition keys; a dynamic asset then runs for each of them."""
    tenants = rs.PartitionsDefinition.dynamic("tenants")

    @rs.Asset
    def discover(context: rs.AssetExecutionContext) -> list[str]:
        return context.add_dynamic_partitions("tenants", ["acme", "globex"])

    @rs.Asset(partitions_def=tenants, deps=[rs.AssetDef.dep("discover")])
    def tenant_report(context: rs.AssetExecutionContext) -> str:
        return context.partition.key.upper()

    repo = make_repo(discover, tenant_report)
    assert repo.materialize("discover").output_for("discover") == ["acme", "globex"]
    assert tenants.count(repo.storage) == 2
    assert repo.materialize("tenant_report", partition="globex").output_for("tenant_report") == (
        "GLOBEX"
    )
    with pytest.raises(rs.PartitionError, match="acme"):
        repo.materialize("tenant_report", partition="initech")


def test_self_dependency_is_per_partition(make_repo):
    """SelfDependency reads the previous value of the same partition."""
    letters = rs.PartitionsDefinition.static_(["a", "b"])

    @rs.Asset(partitions_def=letters)
    def counter(self: rs.SelfDependency[int]) -> int:
        return (self.get_inner() or 0) + 1

    repo = make_repo(counter)
    assert repo.materialize(partition="a").output_for("counter") == 1
    assert repo.materialize(partition="a").output_for("counter") == 2
    assert repo.materialize(partition="b").output_for("counter") == 1
