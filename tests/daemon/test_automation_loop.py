"""AutomationLoop: conditions evaluated per tick, requested runs queued, ticks recorded."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

import rivers as rs
from rivers.definitions.snapshot import DefinitionsSnapshot
from rivers.storage.records import InstigatorType, RunRecord, RunStatus, TickRecord, TickStatus
from rivers_daemon.automation import AUTOMATION, AutomationLoop, state_key

DAYS = rs.PartitionsDefinition.daily(start="2024-01-01", end="2024-01-11")
EAGER = rs.AutomationCondition.eager()


@rs.Asset()
def raw() -> int:
    return 1


@rs.Asset(automation_condition=EAGER)
def clean(raw: int) -> int:
    return raw + 1


@rs.Asset(partitions_def=DAYS)
def daily_raw() -> int:
    return 1


@rs.Asset(partitions_def=DAYS, automation_condition=EAGER)
def daily_clean(daily_raw: int) -> int:
    return daily_raw


class FixedSnapshot:
    """The definitions a code server would serve (the daemon's SnapshotSource, without gRPC)."""

    def __init__(self, snapshot: DefinitionsSnapshot) -> None:
        self.snapshot = snapshot

    async def current(self) -> DefinitionsSnapshot:
        return self.snapshot


class Location:
    """A code location whose assets the test materializes inline, as run workers would."""

    def __init__(self, *assets: rs.Asset) -> None:
        self.repo = rs.CodeRepository(assets=list(assets), storage=rs.Storage.memory())
        self.storage = self.repo.storage
        self.location_id = self.repo.location_id()
        self.snapshots = FixedSnapshot(self.repo.snapshot)
        self.now = 1_704_931_200.0  # 2024-01-11T00:00:00Z

    def loop(self) -> AutomationLoop:
        return AutomationLoop(
            self.storage, self.location_id, self.snapshots, clock=lambda: self.now
        )

    def tick(self, loop: AutomationLoop) -> TickRecord | None:
        self.now += 30
        return asyncio.run(loop.tick())

    def queued(self) -> list[RunRecord]:
        return self.storage.get_runs(location_id=self.location_id, statuses=[RunStatus.QUEUED])


@pytest.fixture
def eager() -> Iterator[Location]:
    """Assets raw -> clean (eager)."""
    location = Location(raw, clean)
    yield location
    location.storage.close()


@pytest.fixture
def partitioned() -> Iterator[Location]:
    """Assets daily_raw -> daily_clean (eager), daily partitions."""
    location = Location(daily_raw, daily_clean)
    yield location
    location.storage.close()


def test_eager_asset_is_requested_after_its_upstream_updates(eager: Location) -> None:
    """Once raw is materialized, the next tick queues clean and records a SUCCESS tick."""
    loop = eager.loop()
    first = eager.tick(loop)
    assert first is not None and first.status is TickStatus.SKIPPED
    assert eager.queued() == []
    assert eager.repo.materialize(selection="raw").success
    tick = eager.tick(loop)
    assert tick is not None
    assert tick.status is TickStatus.SUCCESS and tick.requested == 1
    assert tick.type is InstigatorType.AUTOMATION and tick.instigator == AUTOMATION
    (run,) = eager.queued()
    assert tick.run_ids == (run.run_id,) and tick.duration_ms > 0
    assert run.selection == ("clean",) and run.tags["rivers/automation"] == AUTOMATION
    ticks = eager.storage.get_ticks(location_id=eager.location_id, instigator=AUTOMATION)
    assert [t.status for t in ticks] == [TickStatus.SUCCESS, TickStatus.SKIPPED]


def test_state_is_persisted_so_a_restart_requests_nothing_again(eager: Location) -> None:
    """The evaluator's state lives in KV: a new loop does not request clean a second time."""
    loop = eager.loop()
    eager.tick(loop)
    eager.repo.materialize(selection="raw")
    eager.tick(loop)
    assert eager.storage.kv_get(state_key(eager.location_id)) is not None
    restarted = eager.loop()
    again = eager.tick(restarted)
    assert again is not None and again.status is TickStatus.SKIPPED
    assert len(eager.queued()) == 1


def test_partitioned_eager_asset_is_requested_for_the_updated_partition(
    partitioned: Location,
) -> None:
    """The latest upstream partition materialized queues the downstream one (eager's window)."""
    loop = partitioned.loop()
    partitioned.tick(loop)
    assert partitioned.repo.materialize(selection="daily_raw", partition="2024-01-10").success
    tick = partitioned.tick(loop)
    assert tick is not None and tick.status is TickStatus.SUCCESS
    (run,) = partitioned.queued()
    assert run.selection == ("daily_clean",)
    assert run.tags["rivers/partition"] == "2024-01-10"
    assert run.partitions == {"key": "2024-01-10"}


def test_a_stopped_automation_instigator_does_not_tick(eager: Location) -> None:
    """Stopping the "automation" instigator stops evaluation; no tick is recorded."""
    eager.storage.set_instigator_status(
        eager.location_id, AUTOMATION, InstigatorType.AUTOMATION, running=False
    )
    eager.repo.materialize(selection="raw")
    assert eager.tick(eager.loop()) is None
    assert eager.storage.get_ticks(location_id=eager.location_id) == []


def test_a_location_without_conditions_does_not_tick() -> None:
    """Without any automation condition in the snapshot, the loop records nothing."""
    location = Location(raw)
    try:
        assert location.tick(location.loop()) is None
        assert location.storage.get_ticks(location_id=location.location_id) == []
    finally:
        location.storage.close()


def test_the_loop_ticks_in_the_background_until_stopped(eager: Location) -> None:
    """start() ticks at once and then every interval; stop() ends the task."""

    async def main() -> int:
        loop = AutomationLoop(eager.storage, eager.location_id, eager.snapshots, interval=0.05)
        await loop.start()
        await asyncio.sleep(0.3)
        await loop.stop()
        return len(eager.storage.get_ticks(location_id=eager.location_id))

    assert asyncio.run(main()) >= 2
