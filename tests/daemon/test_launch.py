"""launch_requests: what sensors, schedules and automation ask for becomes queued runs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import BaseModel

import rivers as rs
from rivers.automation.launch import Launched, launch_requests
from rivers.definitions.snapshot import DefinitionsSnapshot
from rivers.storage.records import BackfillState, InstigatorType, RunRecord, RunStatus

DAYS = rs.PartitionsDefinition.daily(start="2024-01-01", end="2024-02-01")
FILES = rs.PartitionsDefinition.dynamic("files")


class Scale(BaseModel):
    factor: int = 2


@rs.Asset(partitions_def=DAYS)
def events() -> int:
    return 1


@rs.Asset(partitions_def=DAYS)
def rollup(events: int) -> int:
    return events


@rs.Asset(partitions_def=FILES)
def files() -> int:
    return 1


@rs.Asset(group="reports")
def report(context: rs.AssetExecutionContext[Scale]) -> int:
    return context.config.factor


NIGHTLY = rs.Job("nightly", selection=["report"], tags={"team": "data"})


class Location:
    """A code location's snapshot and store, as the daemon sees them."""

    def __init__(self) -> None:
        self.repo = rs.CodeRepository(
            assets=[events, rollup, files, report], jobs=[NIGHTLY], storage=rs.Storage.memory()
        )
        self.storage = self.repo.storage
        self.snapshot: DefinitionsSnapshot = self.repo.snapshot
        self.location_id = self.repo.location_id()

    def launch(
        self,
        *requests: rs.RunRequest | rs.BackfillRequest,
        dynamic: tuple[
            rs.AddDynamicPartitionsRequest | rs.DeleteDynamicPartitionsRequest, ...
        ] = (),
        instigator: str = "new_files",
        instigator_type: InstigatorType = InstigatorType.SENSOR,
        default_selection: tuple[str, ...] = ("events",),
        default_job: str | None = None,
        now: float | None = None,
    ) -> Launched:
        result = rs.SensorResult(run_requests=requests, dynamic_partitions_requests=dynamic)
        return launch_requests(
            self.storage,
            self.snapshot,
            self.location_id,
            result,
            instigator=instigator,
            instigator_type=instigator_type,
            default_selection=default_selection,
            default_job=default_job,
            now=now,
        )

    def run(self, run_id: str) -> RunRecord:
        run = self.storage.get_run(run_id)
        assert run is not None
        return run


@pytest.fixture
def loc() -> Iterator[Location]:
    """A fresh location over a memory store."""
    location = Location()
    yield location
    location.storage.close()


def test_run_request_becomes_a_queued_run(loc: Location) -> None:
    """A request without a selection runs the default target, tagged with partition and sensor."""
    launched = loc.launch(
        rs.RunRequest(partition="2024-01-03", tags={"file": "a.csv"}, run_key="a.csv")
    )
    (run_id,) = launched.run_ids
    run = loc.run(run_id)
    assert run.status is RunStatus.QUEUED and run.location_id == loc.location_id
    assert run.selection == ("events",) and run.asset_keys == ("events",)
    assert run.snapshot_id == loc.snapshot.snapshot_id
    assert run.partitions == {"key": "2024-01-03"}
    assert run.tags == {
        "file": "a.csv",
        "rivers/partition": "2024-01-03",
        "rivers/sensor": "new_files",
    }
    assert run.run_key == "sensor:new_files:a.csv"
    assert launched.run_keys == ("sensor:new_files:a.csv",) and launched.skipped_keys == ()


def test_requests_plan_their_own_selection_config_and_priority(loc: Location) -> None:
    """A request's selection wins over the default; run config and the priority tag are kept."""
    launched = loc.launch(
        rs.RunRequest(
            selection="report", run_config={"report": {"factor": 5}}, tags={"rivers/priority": "3"}
        ),
        rs.RunRequest(selection=["events+"], partition="2024-01-05"),
    )
    first, second = (loc.run(r) for r in launched.run_ids)
    assert first.selection == ("report",) and first.config == {"report": {"factor": 5}}
    assert first.priority == 3 and first.partitions is None and first.run_key is None
    assert second.asset_keys == ("events", "rollup")
    assert second.tags["rivers/partition"] == "2024-01-05"


def test_run_keys_are_deduplicated_across_calls_and_within_one(loc: Location) -> None:
    """A run key its instigator already launched is skipped, also when one result repeats it."""
    first = loc.launch(
        rs.RunRequest(partition="2024-01-01", run_key="k1"),
        rs.RunRequest(partition="2024-01-02", run_key="k1"),
    )
    assert len(first.run_ids) == 1 and first.skipped_keys == ("sensor:new_files:k1",)
    again = loc.launch(
        rs.RunRequest(partition="2024-01-01", run_key="k1"),
        rs.RunRequest(partition="2024-01-02", run_key="k2"),
    )
    assert again.skipped_keys == ("sensor:new_files:k1",)
    assert again.run_keys == ("sensor:new_files:k2",) and len(again.run_ids) == 1
    other = loc.launch(rs.RunRequest(partition="2024-01-01", run_key="k1"), instigator="other")
    assert other.run_keys == ("sensor:other:k1",)
    assert len(loc.storage.get_runs(location_id=loc.location_id)) == 3


def test_schedule_requests_use_the_default_job(loc: Location) -> None:
    """A schedule targeting a job queues the job's selection with its tags and name."""
    launched = loc.launch(
        rs.RunRequest(run_key="2024-01-02T00:00:00+00:00"),
        instigator="nightly_schedule",
        instigator_type=InstigatorType.SCHEDULE,
        default_selection=("report",),
        default_job="nightly",
        now=1_700_000_000.0,
    )
    run = loc.run(launched.run_ids[0])
    assert run.job_name == "nightly" and run.selection == ("report",)
    assert run.tags == {"team": "data", "rivers/schedule": "nightly_schedule"}
    assert run.run_key == "schedule:nightly_schedule:2024-01-02T00:00:00+00:00"
    assert run.created_at == 1_700_000_000.0


def test_dynamic_partitions_are_applied_before_runs(loc: Location) -> None:
    """Keys added in the same result can be requested; deletions are applied too."""
    launched = loc.launch(
        rs.RunRequest(selection="files", partition="b.csv"),
        dynamic=(
            rs.AddDynamicPartitionsRequest(
                partitions_def_name="files", partition_keys=("a.csv", "b.csv")
            ),
        ),
    )
    assert loc.run(launched.run_ids[0]).tags["rivers/partition"] == "b.csv"
    loc.launch(
        dynamic=(
            rs.DeleteDynamicPartitionsRequest(
                partitions_def_name="files", partition_keys=("a.csv",)
            ),
        )
    )
    assert loc.storage.get_dynamic_partitions("files") == ["b.csv"]
    with pytest.raises(rs.PartitionError, match="sensor 'new_files'"):
        loc.launch(rs.RunRequest(selection="files", partition="a.csv"))


def test_backfill_requests_are_stored_requested(loc: Location) -> None:
    """A BackfillRequest becomes a REQUESTED backfill for the backfill daemon, runs planned."""
    launched = loc.launch(
        rs.BackfillRequest(
            partitions=rs.PartitionKeyRange(start="2024-01-01", end="2024-01-10"),
            tags={"reason": "late data"},
        ),
        rs.BackfillRequest(
            selection=["events", "rollup"],
            partitions=["2024-01-02", "2024-01-03"],
            strategy=rs.BackfillStrategy.single_run(),
        ),
    )
    assert launched.run_ids == () and len(launched.backfill_ids) == 2
    ranged, listed = (loc.storage.get_backfill(b) for b in launched.backfill_ids)
    assert ranged is not None and listed is not None
    assert ranged.status is BackfillState.REQUESTED and ranged.location_id == loc.location_id
    assert ranged.requested == 10 and ranged.runs_total == 10
    assert ranged.asset_selection == ("events",)
    assert ranged.tags == {"reason": "late data", "rivers/sensor": "new_files"}
    assert listed.partitions == {"keys": ["2024-01-02", "2024-01-03"]}
    assert listed.runs_total == 1 and listed.strategy["kind"] == "single_run"


@pytest.mark.parametrize(
    ("request_", "error", "message"),
    [
        (rs.RunRequest(selection="nope"), rs.SelectionError, "no asset 'nope'"),
        (rs.RunRequest(), rs.PartitionError, "are partitioned"),
        (rs.RunRequest(partition="1999-01-01"), rs.PartitionError, "1999-01-01"),
        (rs.RunRequest(selection="report", partition="x"), rs.PartitionError, "none of the"),
        (rs.RunRequest(job="weekly"), rs.SelectionError, "no job 'weekly'"),
        (
            rs.RunRequest(selection="events", partition="2024-01-01", run_config={"report": {}}),
            rs.RunConfigError,
            "not an asset selected",
        ),
        (
            rs.BackfillRequest(selection="report", partitions=["2024-01-01"]),
            rs.PartitionError,
            "not partitioned",
        ),
    ],
)
def test_invalid_requests_raise_naming_the_instigator(
    loc: Location,
    request_: rs.RunRequest | rs.BackfillRequest,
    error: type[Exception],
    message: str,
) -> None:
    """An invalid request raises a rivers error naming the sensor; nothing of it is stored."""
    valid = rs.RunRequest(partition="2024-01-01", run_key="valid")
    with pytest.raises(error, match=message) as caught:
        loc.launch(valid, request_)
    assert "sensor 'new_files'" in str(caught.value)
    assert isinstance(caught.value, rs.RiversError)
    assert loc.storage.get_runs(location_id=loc.location_id) == []
    assert loc.storage.get_backfills(location_id=loc.location_id) == []


def test_a_request_with_no_target_is_refused(loc: Location) -> None:
    """A request naming nothing, from an instigator without a target, is a SelectionError."""
    with pytest.raises(rs.SelectionError, match=r"automation 'automation'.*no selection"):
        loc.launch(
            rs.RunRequest(),
            instigator="automation",
            instigator_type=InstigatorType.AUTOMATION,
            default_selection=(),
        )


def test_nothing_requested_launches_nothing(loc: Location) -> None:
    """An empty result stores nothing and reports nothing."""
    assert loc.launch() == Launched()
