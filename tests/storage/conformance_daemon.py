"""Conformance tests for what the daemon stores: the run queue, ticks, instigators, reads.

Mixed into :class:`tests.storage.conformance.StorageConformance`, so every backend (memory,
embedded, ``ws://``) runs them.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from typing import Any

import pytest

from rivers.errors import StorageError
from rivers.execution.events import ErrorInfo, EventKind, RunEvent
from rivers.storage import (
    BackfillRecord,
    BackfillState,
    InstigatorType,
    RunQueueConfig,
    RunRecord,
    RunStatus,
    Storage,
    TagConcurrencyLimit,
    TickRecord,
    TickStatus,
    split_partition_range,
)

IN_PROGRESS = [RunStatus.STARTING, RunStatus.STARTED, RunStatus.CANCELING]
_CLOCK = [1_000.0]


def queued(
    location: str = "loc",
    *,
    tags: dict[str, str] | None = None,
    run_key: str | None = None,
    status: RunStatus = RunStatus.QUEUED,
    **fields: Any,
) -> RunRecord:
    _CLOCK[0] += 1.0  # strictly increasing creation times: claim order is deterministic
    return RunRecord(
        run_id=uuid.uuid4().hex,
        location_id=location,
        status=status,
        created_at=_CLOCK[0],
        tags=tags or {},
        run_key=run_key,
        **fields,
    )


def tick(
    instigator: str = "s", timestamp: float = 100.0, location: str = "loc", **fields: Any
) -> TickRecord:
    return TickRecord(
        tick_id=uuid.uuid4().hex,
        location_id=location,
        instigator=instigator,
        type=InstigatorType.SENSOR,
        status=TickStatus.STARTED,
        timestamp=timestamp,
        **fields,
    )


def in_progress(storage: Storage) -> list[RunRecord]:
    return storage.get_runs(statuses=IN_PROGRESS, limit=10_000)


class DaemonStorageConformance:
    """The daemon's storage APIs, on every backend."""

    def writer(self, storage: Storage) -> Storage:
        """A handle for one of several concurrent writers (remote: its own connection)."""
        return storage

    # --- runs: keys and priority -----------------------------------------------------------

    def test_priority_comes_from_the_priority_tag(self, storage: Storage) -> None:
        """A run tagged rivers/priority=<int> gets that priority; a bad value leaves 0."""
        tagged = queued(tags={"rivers/priority": "7"})
        assert tagged.priority == 7
        assert queued(tags={"rivers/priority": "high"}).priority == 0
        assert queued(priority=3).priority == 3
        retagged = queued().model_copy(update={"tags": {"rivers/priority": "-2"}})
        storage.add_run(retagged)
        stored = storage.get_run(retagged.run_id)
        assert stored is not None
        assert stored.priority == -2

    def test_run_key_and_priority_round_trip(self, storage: Storage) -> None:
        """run_key and priority are stored and read back with the run."""
        run = queued(run_key="schedule:daily:2024-01-01T00:00:00", priority=4)
        storage.add_run(run)
        assert storage.get_run(run.run_id) == run
        assert storage.get_run_by_key("loc", run.run_key or "") == run
        assert storage.get_run_by_key("other", run.run_key or "") is None
        assert storage.get_run_by_key("loc", "missing") is None

    def test_duplicate_run_key_in_a_location_is_rejected(self, storage: Storage) -> None:
        """add_run refuses a second run with a location's key; other locations may reuse it."""
        storage.add_run(queued(run_key="k"))
        with pytest.raises(StorageError):
            storage.add_run(queued(run_key="k"))
        storage.add_run(queued("elsewhere", run_key="k"))
        storage.add_run(queued())  # runs without a key never collide
        storage.add_run(queued())
        assert len(storage.get_runs(limit=10)) == 4

    def test_add_runs_skips_existing_and_repeated_keys(self, storage: Storage) -> None:
        """add_runs adds new runs in order and skips keys already stored or repeated."""
        first = queued(run_key="a")
        storage.add_run(first)
        batch = [
            queued(run_key="a"),
            queued(run_key="b", tags={"rivers/priority": "2"}),
            queued(),
            queued(run_key="b"),
            queued(run_key="c"),
        ]
        added = storage.add_runs(batch)
        assert [r.run_id for r in added] == [batch[1].run_id, batch[2].run_id, batch[4].run_id]
        assert added[0].priority == 2
        assert storage.get_run(batch[1].run_id) == added[0]
        by_key = storage.get_run_by_key("loc", "a")
        assert by_key is not None
        assert by_key.run_id == first.run_id
        assert storage.add_runs(batch) == []
        assert storage.add_runs([]) == []

    def test_add_runs_is_fast_for_a_backfill(self, storage: Storage) -> None:
        """2,000 queued runs go in as one statement, far above 200 runs/s."""
        runs = [
            queued(run_key=f"backfill:b:{i}", tags={"rivers/backfill": "b"}) for i in range(2000)
        ]
        started = time.perf_counter()
        added = storage.add_runs(runs)
        elapsed = time.perf_counter() - started
        assert len(added) == 2000
        assert len(storage.get_backfill_run_statuses("b")) == 2000
        assert 2000 / elapsed > 200

    def test_concurrent_add_runs_of_one_key_store_one_run(self, storage: Storage) -> None:
        """Two writers adding the same keys at once: each key is stored and returned once."""
        storage.open()
        handles = [self.writer(storage) for _ in range(2)]
        rounds, size = 5, 20
        results: list[list[RunRecord]] = [[], []]
        errors: list[BaseException] = []
        barrier = threading.Barrier(2)

        def add(worker: int) -> None:
            try:
                for r in range(rounds):
                    batch = [queued(run_key=f"race:{r}:{i}") for i in range(size)]
                    barrier.wait(timeout=30)
                    results[worker] += handles[worker].add_runs(batch)
            except BaseException as exc:  # reported by the main thread
                errors.append(exc)

        threads = [threading.Thread(target=add, args=(w,)) for w in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for handle in handles:
            if handle is not storage:
                handle.close()
        assert errors == []
        returned = Counter(r.run_key for r in results[0] + results[1])
        assert len(returned) == rounds * size
        assert set(returned.values()) == {1}
        stored = Counter(r.run_key for r in storage.get_runs(limit=10_000))
        assert stored == returned

    # --- queue configuration and claims ----------------------------------------------------

    def test_queue_config_round_trips(self, storage: Storage) -> None:
        """The queue config is unlimited until set and reads back as set."""
        assert storage.get_run_queue_config() == RunQueueConfig()
        config = RunQueueConfig(
            max_concurrent_runs=5,
            tag_concurrency_limits=(
                TagConcurrencyLimit(key="db", limit=2),
                TagConcurrencyLimit(key="db", value="prod", limit=1),
                TagConcurrencyLimit(key="team", limit=1, per_value=True),
            ),
        )
        storage.set_run_queue_config(config)
        assert storage.get_run_queue_config() == config
        storage.set_run_queue_config(RunQueueConfig())
        assert storage.get_run_queue_config() == RunQueueConfig()

    def test_claim_takes_priority_then_age(self, storage: Storage) -> None:
        """Claims take the highest priority first, then the oldest, of their location only."""
        old, low, high, mid, other = (
            queued(),
            queued(tags={"rivers/priority": "-1"}),
            queued(tags={"rivers/priority": "10"}),
            queued(tags={"rivers/priority": "5"}),
            queued("other", tags={"rivers/priority": "99"}),
        )
        young = queued()
        storage.add_runs([old, low, high, mid, other, young])
        claimed = storage.claim_queued_runs("loc", limit=4, worker="w1")
        assert [r.run_id for r in claimed] == [high.run_id, mid.run_id, old.run_id, young.run_id]
        assert {(r.status, r.worker) for r in claimed} == {(RunStatus.STARTING, "w1")}
        assert all(r.heartbeat_at is not None for r in claimed)
        assert [r.run_id for r in storage.claim_queued_runs("loc", limit=5)] == [low.run_id]
        assert storage.claim_queued_runs("loc", limit=5) == []
        assert storage.claim_queued_runs("loc", limit=0) == []

    def test_global_limit_counts_every_location(self, storage: Storage) -> None:
        """max_concurrent_runs counts starting, started and canceling runs of all locations."""
        storage.add_runs(
            [
                queued("other", status=RunStatus.STARTED),
                queued("other", status=RunStatus.CANCELING),
                queued("other", status=RunStatus.SUCCESS),
                queued("other", status=RunStatus.FAILURE),
            ]
        )
        mine = [queued() for _ in range(4)]
        storage.add_runs(mine)
        storage.set_run_queue_config(RunQueueConfig(max_concurrent_runs=3))
        assert [r.run_id for r in storage.claim_queued_runs("loc", limit=4)] == [mine[0].run_id]
        assert storage.claim_queued_runs("loc", limit=4) == []
        storage.update_run(mine[0].run_id, status=RunStatus.SUCCESS)
        assert [r.run_id for r in storage.claim_queued_runs("loc", limit=4)] == [mine[1].run_id]
        unlimited = RunQueueConfig()  # an explicit config wins over the stored one
        claimed = storage.claim_queued_runs("loc", limit=4, config=unlimited)
        assert [r.run_id for r in claimed] == [mine[2].run_id, mine[3].run_id]

    def test_tag_limit_on_a_key_holds_back_only_its_runs(self, storage: Storage) -> None:
        """A run held back by a tag limit does not hold back later runs that fit."""
        storage.set_run_queue_config(
            RunQueueConfig(tag_concurrency_limits=(TagConcurrencyLimit(key="db", limit=1),))
        )
        a, b, free, c = (
            queued(tags={"db": "x"}),
            queued(tags={"db": "y"}),
            queued(),
            queued(tags={"db": "x"}),
        )
        storage.add_runs([a, b, free, c])
        assert [r.run_id for r in storage.claim_queued_runs("loc", limit=5)] == [
            a.run_id,
            free.run_id,
        ]
        assert storage.claim_queued_runs("loc", limit=5) == []
        storage.update_run(a.run_id, status=RunStatus.SUCCESS)
        assert [r.run_id for r in storage.claim_queued_runs("loc", limit=5)] == [b.run_id]

    def test_tag_limit_on_a_value_and_per_value(self, storage: Storage) -> None:
        """key=value limits count only that value; per_value limits each value separately."""
        storage.set_run_queue_config(
            RunQueueConfig(
                tag_concurrency_limits=(
                    TagConcurrencyLimit(key="db", value="prod", limit=1),
                    TagConcurrencyLimit(key="team", limit=2, per_value=True),
                    TagConcurrencyLimit(key="paused", limit=0),
                )
            )
        )
        runs = [
            queued(tags={"db": "prod"}),
            queued(tags={"db": "prod"}),
            queued(tags={"db": "dev"}),
            queued(tags={"db": "dev"}),
            queued(tags={"team": "a"}),
            queued(tags={"team": "a"}),
            queued(tags={"team": "a"}),
            queued(tags={"team": "b"}),
            queued(tags={"paused": "yes"}),
            queued(tags={"team": "b"}),
        ]
        storage.add_runs(runs)
        claimed = {r.run_id for r in storage.claim_queued_runs("loc", limit=20)}
        expected = {runs[i].run_id for i in (0, 2, 3, 4, 5, 7, 9)}
        assert claimed == expected
        assert storage.claim_queued_runs("loc", limit=20) == []

    def test_tag_limits_count_runs_of_other_locations(self, storage: Storage) -> None:
        """A tag limit is global: another location's running run with the tag counts."""
        storage.add_run(queued("other", status=RunStatus.STARTED, tags={"db": "x"}))
        mine = queued(tags={"db": "x"})
        storage.add_run(mine)
        limits = (TagConcurrencyLimit(key="db", limit=1),)
        config = RunQueueConfig(tag_concurrency_limits=limits)
        assert storage.claim_queued_runs("loc", limit=1, config=config) == []
        assert [r.run_id for r in storage.claim_queued_runs("loc", limit=1)] == [mine.run_id]

    def test_a_long_held_back_queue_does_not_hide_runs_that_fit(self, storage: Storage) -> None:
        """Hundreds of held-back runs ahead of one that fits: the claim still finds it."""
        storage.set_run_queue_config(
            RunQueueConfig(tag_concurrency_limits=(TagConcurrencyLimit(key="db", limit=1),))
        )
        storage.add_run(queued("other", status=RunStatus.STARTED, tags={"db": "x"}))
        blocked = [queued(tags={"db": "x", "rivers/priority": "1"}) for _ in range(300)]
        last = queued()
        storage.add_runs([*blocked, last])
        assert [r.run_id for r in storage.claim_queued_runs("loc", limit=2)] == [last.run_id]

    def test_concurrent_claimers_never_exceed_the_queue_limits(self, storage: Storage) -> None:
        """Two claimers on separate connections never exceed max_concurrent_runs or a tag limit."""
        storage.open()
        storage.set_run_queue_config(
            RunQueueConfig(
                max_concurrent_runs=3,
                tag_concurrency_limits=(TagConcurrencyLimit(key="db", limit=1, per_value=True),),
            )
        )
        values = ["x", "y", None]
        runs = [queued(tags={"db": v} if (v := values[i % 3]) else {}) for i in range(36)]
        storage.add_runs(runs)
        handles = [self.writer(storage) for _ in range(2)]
        errors: list[BaseException] = []
        violations: list[str] = []
        claimed: list[str] = []
        lock = threading.Lock()

        def check(store: Storage) -> None:
            active = in_progress(store)
            per_db = Counter(r.tags.get("db") for r in active if "db" in r.tags)
            if len(active) > 3 or any(n > 1 for n in per_db.values()):
                violations.append(f"{len(active)} in progress, per db {dict(per_db)}")

        def work(worker: int) -> None:
            store = handles[worker]
            mine: list[RunRecord] = []
            try:
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    got = store.claim_queued_runs("loc", limit=2, worker=f"w{worker}")
                    check(store)
                    with lock:
                        claimed.extend(r.run_id for r in got)
                        if len(claimed) == len(runs):
                            break
                    mine += got
                    if mine:  # finish the oldest run this worker holds
                        done = mine.pop(0)
                        store.update_run(done.run_id, status=RunStatus.SUCCESS)
                    else:
                        time.sleep(0.001)
                for run in mine:
                    store.update_run(run.run_id, status=RunStatus.SUCCESS)
            except BaseException as exc:  # reported by the main thread
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(w,)) for w in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for handle in handles:
            if handle is not storage:
                handle.close()
        assert errors == []
        assert violations == []
        assert sorted(claimed) == sorted(r.run_id for r in runs)  # each claimed exactly once

    # --- ticks -----------------------------------------------------------------------------

    def test_tick_round_trips_and_updates(self, storage: Storage) -> None:
        """A tick reads back as stored; update_tick changes only the fields named."""
        original = tick(scheduled_time=90.0, cursor="c0")
        storage.add_tick(original)
        assert storage.get_ticks() == [original]
        error = ErrorInfo(error_type="ValueError", message="bad", traceback="Traceback ...")
        updated = storage.update_tick(
            original.tick_id,
            status=TickStatus.FAILURE,
            error=error,
            run_ids=["r1", "r2"],
            run_keys=("k1",),
            duration_ms=12.5,
            requested=2,
            cursor=None,
        )
        assert updated == original.model_copy(
            update={
                "status": TickStatus.FAILURE,
                "error": error,
                "run_ids": ("r1", "r2"),
                "run_keys": ("k1",),
                "duration_ms": 12.5,
                "requested": 2,
                "cursor": None,
            }
        )
        assert storage.get_tick(original.tick_id) == updated
        with pytest.raises(StorageError, match="no tick"):
            storage.update_tick("missing", status=TickStatus.SUCCESS)
        with pytest.raises(StorageError, match="cannot set"):
            storage.update_tick(original.tick_id, instigator="other")
        with pytest.raises(StorageError):
            storage.add_tick(original)

    def test_get_ticks_filters_and_pages_newest_first(self, storage: Storage) -> None:
        """get_ticks narrows by location, instigator and status, newest first, paged by before."""
        ticks = [tick("s1" if i % 2 else "s2", timestamp=100.0 + i) for i in range(7)]
        ticks.append(tick("s1", timestamp=50.0, location="other"))
        for t in ticks:
            storage.add_tick(t)
        storage.update_tick(ticks[3].tick_id, status=TickStatus.SKIPPED, skip_reason="nothing")
        mine = storage.get_ticks(location_id="loc", instigator="s1")
        assert [t.timestamp for t in mine] == [105.0, 103.0, 101.0]
        skipped = storage.get_ticks(statuses=[TickStatus.SKIPPED])
        assert [(t.tick_id, t.skip_reason) for t in skipped] == [(ticks[3].tick_id, "nothing")]
        seen: list[float] = []
        before: float | None = None
        while page := storage.get_ticks(location_id="loc", limit=3, before=before):
            seen += [t.timestamp for t in page]
            before = page[-1].timestamp
        assert seen == [106.0 - i for i in range(7)]
        assert storage.get_ticks(location_id="nowhere") == []

    def test_purge_ticks_keeps_recent_ones(self, storage: Storage) -> None:
        """purge_ticks deletes ticks older than a time and says how many."""
        for ts in (10.0, 20.0, 30.0, 40.0):
            storage.add_tick(tick(timestamp=ts))
        assert storage.purge_ticks(30.0) == 2
        assert [t.timestamp for t in storage.get_ticks()] == [40.0, 30.0]
        assert storage.purge_ticks(30.0) == 0

    def test_record_tick_stores_the_tick_and_moves_its_instigator(self, storage: Storage) -> None:
        """record_tick writes a tick whole (replacing a STARTED one) and its instigator at once."""
        sensor = InstigatorType.SENSOR
        started = tick("s", timestamp=100.0, skip_reason="stale", cursor="c0")
        storage.add_tick(started)
        storage.set_instigator_status("loc", "s", sensor, running=True)
        storage.update_instigator("loc", "s", sensor, cursor="c0", last_tick_time=90.0)
        final = started.model_copy(
            update={
                "status": TickStatus.SUCCESS,
                "skip_reason": None,
                "cursor": "c1",
                "run_ids": ("r1",),
                "duration_ms": 3.5,
                "requested": 1,
            }
        )
        storage.record_tick(
            final, cursor="c1", last_tick_time=100.0, last_tick_status=TickStatus.SUCCESS
        )
        assert storage.get_ticks() == [final]
        state = storage.get_instigator_state("loc", "s")
        assert state is not None
        assert (state.status, state.cursor, state.last_tick_time, state.last_tick_status) == (
            "RUNNING",
            "c1",
            100.0,
            TickStatus.SUCCESS,
        )
        # No STARTED row: the tick is created; a cursor not given is left alone.
        fresh = tick("s", timestamp=101.0).model_copy(
            update={"status": TickStatus.SKIPPED, "skip_reason": "nothing new"}
        )
        storage.record_tick(fresh, last_tick_time=101.0, last_tick_status=TickStatus.SKIPPED)
        assert storage.get_tick(fresh.tick_id) == fresh
        state = storage.get_instigator_state("loc", "s")
        assert state is not None
        assert (state.cursor, state.last_tick_time, state.last_tick_status) == (
            "c1",
            101.0,
            TickStatus.SKIPPED,
        )
        storage.record_tick(fresh, cursor=None)
        cleared = storage.get_instigator_state("loc", "s")
        assert cleared is not None and (cleared.cursor, cleared.last_tick_time) == (None, 101.0)

    def test_record_tick_moves_the_cursor_only_from_the_expected_one(
        self, storage: Storage
    ) -> None:
        """With expected_cursor, a cursor changed meanwhile (a reset) is kept; the rest moves."""
        sensor = InstigatorType.SENSOR
        first = tick("s", timestamp=1.0).model_copy(update={"status": TickStatus.SUCCESS})
        storage.record_tick(first, cursor="1", expected_cursor=None, last_tick_time=1.0)
        state = storage.get_instigator_state("loc", "s")
        assert state is not None and state.cursor == "1"
        second = tick("s", timestamp=2.0).model_copy(update={"status": TickStatus.SUCCESS})
        storage.record_tick(second, cursor="2", expected_cursor="1", last_tick_time=2.0)
        state = storage.get_instigator_state("loc", "s")
        assert state is not None and state.cursor == "2"
        storage.update_instigator("loc", "s", sensor, cursor="reset")
        stale = tick("s", timestamp=3.0).model_copy(update={"status": TickStatus.SKIPPED})
        storage.record_tick(stale, cursor="3", expected_cursor="2", last_tick_time=3.0)
        state = storage.get_instigator_state("loc", "s")
        assert state is not None and (state.cursor, state.last_tick_time) == ("reset", 3.0)
        assert storage.get_tick(stale.tick_id) == stale
        storage.update_instigator("loc", "s", sensor, cursor=None)
        storage.record_tick(stale, cursor=None, expected_cursor="reset")
        storage.record_tick(stale, cursor="4", expected_cursor="3")
        state = storage.get_instigator_state("loc", "s")
        assert state is not None and state.cursor is None
        storage.record_tick(stale, cursor="5", expected_cursor=None)
        state = storage.get_instigator_state("loc", "s")
        assert state is not None and state.cursor == "5"

    def test_record_tick_without_instigator_fields_writes_only_the_tick(
        self, storage: Storage
    ) -> None:
        """record_tick with no cursor or last tick leaves the instigator alone (none is created)."""
        failed = tick("t", timestamp=5.0).model_copy(
            update={
                "status": TickStatus.FAILURE,
                "error": ErrorInfo(error_type="SensorStopped", message="stopped"),
            }
        )
        storage.record_tick(failed)
        storage.record_tick(failed)  # idempotent
        assert storage.get_ticks() == [failed]
        assert storage.get_instigator_state("loc", "t") is None

    # --- instigators -----------------------------------------------------------------------

    def test_instigator_status_and_cursor(self, storage: Storage) -> None:
        """Status and cursor are stored per location and name; updates touch only what is given."""
        assert storage.get_instigator_state("loc", "s") is None
        state = storage.update_instigator(
            "loc", "s", InstigatorType.SENSOR, cursor="c1", last_tick_time=5.0
        )
        assert (state.status, state.cursor, state.last_tick_time) == (None, "c1", 5.0)
        assert state.last_tick_status is None
        started = storage.set_instigator_status("loc", "s", InstigatorType.SENSOR, running=True)
        assert (started.status, started.cursor) == ("RUNNING", "c1")
        after = storage.update_instigator(
            "loc", "s", InstigatorType.SENSOR, last_tick_status=TickStatus.SKIPPED
        )
        assert (after.status, after.cursor, after.last_tick_time, after.last_tick_status) == (
            "RUNNING",
            "c1",
            5.0,
            TickStatus.SKIPPED,
        )
        cleared = storage.update_instigator("loc", "s", InstigatorType.SENSOR, cursor=None)
        assert (cleared.cursor, cleared.last_tick_time) == (None, 5.0)
        stopped = storage.set_instigator_status("loc", "s", InstigatorType.SENSOR, running=False)
        assert stopped.status == "STOPPED"
        assert storage.get_instigator_state("loc", "s") == stopped
        assert stopped.updated_at >= state.updated_at

    def test_instigator_states_by_location(self, storage: Storage) -> None:
        """get_instigator_states lists a location's instigators by name, or every location's."""
        storage.set_instigator_status("loc", "b", InstigatorType.SCHEDULE, running=True)
        storage.set_instigator_status("loc", "a", InstigatorType.SENSOR, running=False)
        storage.update_instigator("other", "c", InstigatorType.AUTOMATION, cursor="x")
        states = storage.get_instigator_states("loc")
        assert [(s.name, s.type, s.status) for s in states] == [
            ("a", InstigatorType.SENSOR, "STOPPED"),
            ("b", InstigatorType.SCHEDULE, "RUNNING"),
        ]
        assert len(storage.get_instigator_states()) == 3
        assert storage.get_instigator_states("nowhere") == []

    # --- automation reads ------------------------------------------------------------------

    def test_asset_records_after_a_seq(self, storage: Storage) -> None:
        """get_asset_records_after returns a location's records newer than a seq, in order."""

        def mat(run: str, asset: str, partition: str | None = None) -> RunEvent:
            return RunEvent.now(
                run, EventKind.ASSET_MATERIALIZATION, asset_key=asset, partition_key=partition
            )

        first = storage.store_events([mat("r1", "a"), mat("r1", "b", "1")], location_id="loc")
        storage.store_events([mat("r9", "z")], location_id="other")
        cursor = first[-1].seq or 0
        later = storage.store_events([mat("r2", "b", "2"), mat("r2", "a")], location_id="loc")
        records = storage.get_asset_records_after("loc", cursor)
        assert [(r.asset_key, r.partition_key, r.event_seq) for r in records] == [
            ("b", "2", later[0].seq),
            ("a", None, later[1].seq),
        ]
        assert len(storage.get_asset_records_after("loc", 0)) == 3
        assert len(storage.get_asset_records_after("loc", 0, limit=1)) == 1
        assert storage.get_asset_records_after("loc", later[-1].seq or 0) == []

    def test_asset_record_stamps(self, storage: Storage) -> None:
        """get_asset_record_stamps: four fields of all records, by asset bounds, or after a seq."""

        def mat(run: str, asset: str, partition: str | None = None) -> RunEvent:
            return RunEvent.now(
                run, EventKind.ASSET_MATERIALIZATION, asset_key=asset, partition_key=partition
            )

        assert storage.get_asset_record_stamps("loc") == []
        assert storage.get_last_asset_record_seq("loc") == 0
        first = storage.store_events(
            [mat("r1", "b", "1"), mat("r1", "a"), mat("r1", "c", "x")], location_id="loc"
        )
        storage.store_events([mat("r9", "z")], location_id="other")
        later = storage.store_events([mat("r2", "b", "2"), mat("r2", "a")], location_id="loc")
        seq = {(e.asset_key, e.partition_key): e.seq for e in [*first, *later]}
        stamps = storage.get_asset_record_stamps("loc")
        assert [(k, p, s) for k, p, s, _ in stamps] == [
            ("a", None, seq[("a", None)]),
            ("b", "1", seq[("b", "1")]),
            ("b", "2", seq[("b", "2")]),
            ("c", "x", seq[("c", "x")]),
        ]
        record = storage.get_asset_record("loc", "b", "2")
        assert record is not None and stamps[2][3] == record.timestamp
        assert all(isinstance(s, int) and isinstance(t, float) for _, _, s, t in stamps)
        # Consecutive asset bounds (known keys or not) cover every record exactly once.
        pages = [(None, "a"), ("a", "b"), ("b", "bb"), ("bb", None)]
        paged = [
            stamp
            for lo, hi in pages
            for stamp in storage.get_asset_record_stamps("loc", from_asset=lo, to_asset=hi)
        ]
        assert paged == stamps
        assert [k for k, *_ in storage.get_asset_record_stamps("loc", from_asset="b")] == [
            "b",
            "b",
            "c",
        ]
        cursor = first[-1].seq or 0
        assert [
            (k, p) for k, p, _, _ in storage.get_asset_record_stamps("loc", after_seq=cursor)
        ] == [
            ("b", "2"),
            ("a", None),
        ]
        assert len(storage.get_asset_record_stamps("loc", limit=2)) == 2
        assert storage.get_asset_record_stamps("loc", after_seq=later[-1].seq or 0) == []
        assert storage.get_last_asset_record_seq("loc") == later[-1].seq
        assert storage.get_asset_record_stamps("nowhere") == []
        with pytest.raises(ValueError, match="asset bounds"):
            storage.get_asset_record_stamps("loc", after_seq=1, from_asset="a")

    def test_in_progress_partitions(self, storage: Storage) -> None:
        """Queued, starting and started runs give their assets' partitions; others do not."""
        runs = [
            queued(asset_keys=("a", "b"), partitions={"keys": ["1", "2"]}),
            queued(status=RunStatus.STARTED, asset_keys=("a",), partitions={"key": "3"}),
            queued(status=RunStatus.STARTING, asset_keys=("c",)),
            queued(asset_keys=("d",), partitions={"range": {"start": "1", "end": "9"}}),
            queued(
                asset_keys=("e",),
                partitions={"partition_key": {"dimensions": [["d", ["x"]], ["r", ["u", "v"]]]}},
            ),
            queued(asset_keys=("f",), tags={"rivers/partition": "7"}),
            queued(asset_keys=("g",), partitions={"all": True}),
            queued(status=RunStatus.SUCCESS, asset_keys=("a",), partitions={"key": "4"}),
            queued(status=RunStatus.CANCELING, asset_keys=("a",), partitions={"key": "5"}),
            queued("other", asset_keys=("a",), partitions={"key": "6"}),
        ]
        storage.add_runs(runs)
        assert storage.get_in_progress_partitions("loc") == {
            "a": {"1", "2", "3"},
            "b": {"1", "2"},
            "c": {None},
            "d": {"1...9"},
            "e": {"x|u", "x|v"},
            "f": {"7"},
            "g": {None},
        }
        assert split_partition_range("1...9") == ("1", "9")
        assert split_partition_range("1") is None
        assert storage.get_in_progress_partitions("nowhere") == {}

    # --- backfills -------------------------------------------------------------------------

    def backfill(self, storage: Storage, status: BackfillState) -> str:
        backfill_id = uuid.uuid4().hex
        storage.add_backfill(
            BackfillRecord(
                backfill_id=backfill_id,
                location_id="loc",
                status=status,
                created_at=time.time(),
                asset_selection=("a",),
                partitions={"all": True},
                strategy={"kind": "single_run"},
                requested=4,
            )
        )
        return backfill_id

    def test_cancel_backfill_cancels_its_runs(self, storage: Storage) -> None:
        """Canceling a backfill cancels its queued runs and asks running ones to stop."""
        backfill_id = self.backfill(storage, BackfillState.IN_PROGRESS)
        tag = {"rivers/backfill": backfill_id}
        runs = [
            queued(tags=tag),
            queued(status=RunStatus.STARTED, tags=tag),
            queued(status=RunStatus.SUCCESS, tags=tag),
            queued(),  # not the backfill's
        ]
        storage.add_runs(runs)
        canceled = storage.cancel_backfill(backfill_id)
        assert canceled.status is BackfillState.CANCELED
        assert canceled.end_time is not None
        assert storage.get_backfill_run_statuses(backfill_id) == {
            runs[0].run_id: RunStatus.CANCELED,
            runs[1].run_id: RunStatus.CANCELING,
            runs[2].run_id: RunStatus.SUCCESS,
        }
        untouched = storage.get_run(runs[3].run_id)
        assert untouched is not None
        assert untouched.status is RunStatus.QUEUED
        assert storage.cancel_backfill(backfill_id) == canceled  # idempotent

    def test_cancel_backfill_leaves_finished_ones(self, storage: Storage) -> None:
        """A requested backfill cancels; a finished one is returned unchanged; unknown fails."""
        requested = self.backfill(storage, BackfillState.REQUESTED)
        assert storage.cancel_backfill(requested).status is BackfillState.CANCELED
        done = self.backfill(storage, BackfillState.COMPLETED)
        assert storage.cancel_backfill(done) == storage.get_backfill(done)
        with pytest.raises(StorageError, match="no backfill"):
            storage.cancel_backfill("missing")
        assert storage.get_backfill_run_statuses("missing") == {}
