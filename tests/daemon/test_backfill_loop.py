"""BackfillLoop: requested backfills become chunks of queued runs; run outcomes its progress."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import pytest

import rivers as rs
from rivers.definitions.snapshot import DefinitionsSnapshot
from rivers.execution.events import EventKind, RunEvent
from rivers.partitions.spec import selection_from_json
from rivers.planning import plan_backfill
from rivers.storage.records import BackfillRecord, BackfillState, RunRecord, RunStatus
from rivers_daemon.backfills import BackfillLoop, backfill_run_key

# 2,000 daily partitions: 2019-01-01 up to (excluding) 2024-06-23
LONG = rs.PartitionsDefinition.daily(start="2019-01-01", end="2024-06-23")


@rs.Asset(partitions_def=LONG)
def events() -> int:
    return 1


@rs.Asset(partitions_def=LONG)
def rollup(events: int) -> int:
    return events


class FixedSnapshot:
    """The definitions a code server would serve (the daemon's SnapshotSource, without gRPC)."""

    def __init__(self, snapshot: DefinitionsSnapshot) -> None:
        self.snapshot = snapshot

    async def current(self) -> DefinitionsSnapshot:
        return self.snapshot


class Location:
    """A location's store and snapshot, and helpers to play the run workers' part."""

    def __init__(self) -> None:
        self.repo = rs.CodeRepository(assets=[events, rollup], storage=rs.Storage.memory())
        self.storage = self.repo.storage
        self.location_id = self.repo.location_id()
        self.snapshots = FixedSnapshot(self.repo.snapshot)

    def loop(self, **options: object) -> BackfillLoop:
        return BackfillLoop(self.storage, self.location_id, self.snapshots, **options)  # type: ignore[arg-type]

    def request(
        self,
        partitions: dict[str, object],
        *,
        strategy: rs.BackfillStrategy | None = None,
        selection: tuple[str, ...] = ("events", "rollup"),
    ) -> str:
        """Store a REQUESTED backfill, as the API and sensors do."""
        backfill_id = uuid.uuid4().hex[:12]
        spec = None if partitions.get("all") else selection_from_json(partitions)
        try:
            planned = plan_backfill(self.repo.snapshot, list(selection), spec, strategy).requested
        except rs.RiversError:
            planned = 0
        self.storage.add_backfill(
            BackfillRecord(
                backfill_id=backfill_id,
                location_id=self.location_id,
                status=BackfillState.REQUESTED,
                created_at=time.time(),
                asset_selection=selection,
                partitions=partitions,
                strategy=(strategy or rs.BackfillStrategy.multi_run()).model_dump(mode="json"),
                tags={"by": "test"},
                requested=planned,
                config=None,
            )
        )
        return backfill_id

    def backfill(self, backfill_id: str) -> BackfillRecord:
        record = self.storage.get_backfill(backfill_id)
        assert record is not None
        return record

    def runs(self, backfill_id: str) -> list[RunRecord]:
        """The backfill's runs in the order they were planned (by run key)."""
        ids = self.storage.get_backfill_run_statuses(backfill_id)
        runs = [self.storage.get_run(r) for r in ids]
        found = [r for r in runs if r is not None]
        return sorted(found, key=lambda r: int((r.run_key or "0").rsplit(":", 1)[-1]))

    def finish(self, run: RunRecord, status: RunStatus, reason: str | None = None) -> None:
        self.storage.update_run(
            run.run_id, status=status, end_time=time.time(), failure_reason=reason
        )

    def fail_partition(self, run: RunRecord, key: str, reason: str) -> None:
        """Record an ASSET_FAILED event for one partition, as a step does."""
        event = RunEvent.now(
            run.run_id,
            EventKind.ASSET_FAILED,
            asset_key="events",
            partition_key=key,
            message=reason,
        )
        self.storage.store_events([event], location_id=self.location_id)


@pytest.fixture
def loc() -> Iterator[Location]:
    """A fresh location over a memory store."""
    location = Location()
    yield location
    location.storage.close()


def tick(loop: BackfillLoop) -> None:
    asyncio.run(loop.tick())


def test_two_thousand_partitions_are_queued_in_chunks_without_duplicates(loc: Location) -> None:
    """A 2,000-run backfill is queued in chunks, throttled; a restarted loop adds no duplicate."""
    backfill_id = loc.request({"all": True})
    first = loc.loop(chunk_size=500, max_queued=1200)
    tick(first)
    assert len(loc.runs(backfill_id)) == 1200
    record = loc.backfill(backfill_id)
    assert record.status is BackfillState.IN_PROGRESS and record.runs_total == 2000
    tick(first)  # nothing dequeued: no room for more
    assert len(loc.runs(backfill_id)) == 1200

    restarted = loc.loop(chunk_size=500, max_queued=None)
    tick(restarted)
    runs = loc.runs(backfill_id)
    assert len(runs) == 2000
    assert [r.run_key for r in runs] == [backfill_run_key(backfill_id, n) for n in range(2000)]
    assert [r.tags["rivers/partition"] for r in runs[:2]] == ["2019-01-01", "2019-01-02"]
    assert runs[-1].partitions == {"keys": ["2024-06-22"]}
    assert {r.status for r in runs} == {RunStatus.QUEUED}
    assert all(r.tags["rivers/backfill"] == backfill_id and r.tags["by"] == "test" for r in runs)
    assert runs[0].asset_keys == ("events", "rollup")
    assert runs[0].snapshot_id == loc.repo.snapshot.snapshot_id

    # A loop that lost count (crashed between its chunk and its bookkeeping) re-adds nothing.
    again = loc.loop(chunk_size=700, max_queued=None)
    tick(again)
    (active,) = again._active.values()
    active.queued = 0
    tick(again)
    assert len(loc.runs(backfill_id)) == 2000


def test_the_queue_throttles_and_refills_as_runs_start(loc: Location) -> None:
    """At most max_queued runs wait; more are queued as the run queue takes them."""
    backfill_id = loc.request({"range": {"start": "2024-01-01", "end": "2024-01-10"}})
    loop = loc.loop(chunk_size=2, max_queued=3)
    tick(loop)
    runs = loc.runs(backfill_id)
    assert len(runs) == 3
    for run in runs[:2]:
        loc.storage.update_run(run.run_id, status=RunStatus.STARTED)
    tick(loop)
    runs = loc.runs(backfill_id)
    assert len(runs) == 5
    assert sum(r.status is RunStatus.QUEUED for r in runs) == 3


def test_progress_and_failed_partitions_follow_the_runs(loc: Location) -> None:
    """Succeeded and failed partitions (with reasons) follow runs; any failure ends FAILED."""
    backfill_id = loc.request({"keys": [f"2024-01-0{d}" for d in range(1, 6)]})
    loop = loc.loop()
    tick(loop)
    r1, r2, r3, r4, r5 = loc.runs(backfill_id)
    loc.finish(r1, RunStatus.SUCCESS)
    loc.finish(r2, RunStatus.SUCCESS)
    loc.fail_partition(r3, "2024-01-03", "source unavailable")
    loc.finish(r3, RunStatus.FAILURE, "1 step(s) failed: events")
    loc.finish(r4, RunStatus.FAILURE, "the run worker stopped heartbeating")
    loc.storage.update_run(r5.run_id, status=RunStatus.STARTED)
    tick(loop)
    record = loc.backfill(backfill_id)
    assert record.status is BackfillState.IN_PROGRESS
    assert (record.requested, record.succeeded, record.failed, record.in_progress) == (5, 2, 2, 1)
    assert record.failed_partitions == {
        "2024-01-03": "events: source unavailable",
        "2024-01-04": "the run worker stopped heartbeating",
    }
    assert record.runs_done == 4
    tick(loop)  # nothing new: counted once
    assert loc.backfill(backfill_id).runs_done == 4
    loc.finish(r5, RunStatus.SUCCESS)
    tick(loop)
    record = loc.backfill(backfill_id)
    assert record.status is BackfillState.FAILED and record.end_time is not None
    assert (record.succeeded, record.failed, record.runs_done) == (3, 2, 5)
    assert not loop.active


def test_a_backfill_whose_runs_all_succeed_completes(loc: Location) -> None:
    """A single-run backfill completes; a failure its run marks counts, even when it succeeded."""
    done = loc.request({"keys": ["2024-01-01", "2024-01-02"]})
    marked = loc.request(
        {"keys": ["2024-02-01", "2024-02-02", "2024-02-03"]},
        strategy=rs.BackfillStrategy.single_run(),
    )
    loop = loc.loop()
    tick(loop)
    for run in loc.runs(done):
        loc.finish(run, RunStatus.SUCCESS)
    (single,) = loc.runs(marked)
    assert single.partitions == {"keys": ["2024-02-01", "2024-02-02", "2024-02-03"]}
    assert single.tags["rivers/partition_range_start"] == "2024-02-01"
    loc.fail_partition(single, "2024-02-02", "bad file")
    loc.finish(single, RunStatus.SUCCESS)
    tick(loop)
    completed, failed = loc.backfill(done), loc.backfill(marked)
    assert completed.status is BackfillState.COMPLETED and completed.succeeded == 2
    assert failed.status is BackfillState.FAILED
    assert (failed.succeeded, failed.failed) == (2, 1)
    assert failed.failed_partitions == {"2024-02-02": "events: bad file"}


def test_cancel_stops_queueing_and_waits_for_running_runs(loc: Location) -> None:
    """A canceled backfill queues nothing more; its loop follows its running run to the end."""
    backfill_id = loc.request({"range": {"start": "2024-01-01", "end": "2024-01-10"}})
    loop = loc.loop(max_queued=4)
    tick(loop)
    running, *_ = loc.runs(backfill_id)
    loc.storage.update_run(running.run_id, status=RunStatus.STARTED)
    loc.storage.cancel_backfill(backfill_id)
    tick(loop)
    runs = loc.runs(backfill_id)
    assert len(runs) == 4
    assert [r.status for r in runs] == [RunStatus.CANCELING] + [RunStatus.CANCELED] * 3
    assert list(loop.active) == [backfill_id]
    loc.finish(running, RunStatus.CANCELED)
    tick(loop)
    assert not loop.active
    record = loc.backfill(backfill_id)
    assert record.status is BackfillState.CANCELED and record.failed == 0
    assert len(loc.runs(backfill_id)) == 4


def test_runs_queued_as_the_backfill_is_canceled_never_start(loc: Location) -> None:
    """Runs the loop queues after a cancel (it read the backfill before) are canceled at once."""
    backfill_id = loc.request({"keys": ["2024-01-01", "2024-01-02"]})
    loop = loc.loop()
    tick(loop)  # claimed, two runs queued
    loc.storage.cancel_backfill(backfill_id)
    (active,) = loop._active.values()
    active.queued = 0  # as if the cancel came between the loop's read and its add_runs
    for run in loc.runs(backfill_id):
        loc.storage.update_run(run.run_id, status=RunStatus.QUEUED)
    tick(loop)
    assert {r.status for r in loc.runs(backfill_id)} == {RunStatus.CANCELED}
    assert not loop.active


def test_a_backfill_that_no_longer_plans_fails(loc: Location) -> None:
    """A stored backfill naming assets the definitions no longer have ends FAILED."""
    backfill_id = loc.request({"all": True}, selection=("renamed",))
    tick(loc.loop())
    assert loc.backfill(backfill_id).status is BackfillState.FAILED
    assert loc.runs(backfill_id) == []


def test_the_loop_ticks_in_the_background_until_stopped(loc: Location) -> None:
    """start() ticks every interval; stop() ends the task."""
    backfill_id = loc.request({"keys": ["2024-01-01"]})

    async def main() -> int:
        loop = loc.loop(interval=0.02)
        await loop.start()
        for _ in range(200):
            if loc.storage.get_backfill_run_statuses(backfill_id):
                break
            await asyncio.sleep(0.02)
        await loop.stop()
        return loop.ticks

    assert asyncio.run(main()) >= 1
    assert len(loc.runs(backfill_id)) == 1
