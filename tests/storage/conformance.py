"""The storage conformance suite: behaviour every backend (memory, embedded, remote) must show.

Each backend's test module subclasses :class:`StorageConformance` and provides a ``storage``
fixture yielding an open, empty store; backends that can open a second handle on the same
store override :meth:`StorageConformance.reopen`.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from rivers.definitions.metadata import MetadataValue
from rivers.errors import StorageError
from rivers.execution.events import ErrorInfo, EventKind, RunEvent
from rivers.storage import (
    AssetRecord,
    BackfillRecord,
    BackfillState,
    PoolLimitError,
    RunRecord,
    RunStatus,
    Storage,
)
from rivers.storage.schema import SCHEMA_VERSION
from tests.storage.conformance_daemon import DaemonStorageConformance

MATERIALIZATION = EventKind.ASSET_MATERIALIZATION


def make_run(
    location: str = "loc", status: RunStatus = RunStatus.QUEUED, created_at: float | None = None
) -> RunRecord:
    return RunRecord(
        run_id=str(uuid.uuid4()),
        location_id=location,
        status=status,
        created_at=time.time() if created_at is None else created_at,
    )


def ids(runs: list[RunRecord]) -> list[str]:
    return [r.run_id for r in runs]


def keys(records: list[AssetRecord]) -> list[tuple[str, str | None]]:
    return [(r.asset_key, r.partition_key) for r in records]


def seq(stored: RunEvent) -> int:
    assert stored.seq is not None
    return stored.seq


def event(run_id: str, kind: EventKind = EventKind.LOG, **fields: object) -> RunEvent:
    return RunEvent.now(run_id, kind, **fields)


def materialized(
    run_id: str, asset: str, partition: str | None = None, version: str | None = None
) -> RunEvent:
    return event(
        run_id,
        MATERIALIZATION,
        asset_key=asset,
        partition_key=partition,
        data_version=version,
        metadata={"rows": MetadataValue.int(3)},
    )


class StorageConformance(DaemonStorageConformance):
    """Tests every storage backend runs against a real engine."""

    def reopen(self, storage: Storage) -> Storage:
        """A second, unopened handle on the same store as ``storage``."""
        pytest.skip(f"{storage!r} cannot be reopened")

    def writer(self, storage: Storage) -> Storage:
        """A handle for one of several concurrent writers (remote: its own connection)."""
        return storage

    @pytest.fixture
    def second(self, storage: Storage) -> Iterator[Storage]:
        """A second handle on the same store, closed at teardown."""
        other = self.reopen(storage)
        yield other
        other.close()

    # --- engine and schema -------------------------------------------------------------------

    def test_engine_is_surrealdb_v3(self, storage: Storage) -> None:
        """The engine behind the store is SurrealDB 3.x, never the SDK's old embedded 2.x."""
        assert storage.engine_version().removeprefix("surrealdb-").startswith("3.")

    def test_schema_is_at_current_version(self, storage: Storage) -> None:
        """Opening a store brings its schema to this rivers' version."""
        assert storage.schema_version() == SCHEMA_VERSION

    def test_reopen_is_idempotent_and_keeps_data(self, storage: Storage, second: Storage) -> None:
        """Opening an existing store again re-applies nothing harmful and loses nothing."""
        storage.kv_set("k", 1)
        assert second.open().schema_version() == SCHEMA_VERSION
        assert second.kv_get("k") == 1

    def test_newer_schema_is_refused(self, storage: Storage, second: Storage) -> None:
        """A store written by a newer rivers is refused with a clear error, not misread."""
        storage._q("UPSERT meta:schema SET version = $v;", {"v": SCHEMA_VERSION + 1})
        with pytest.raises(StorageError, match="newer than this rivers understands"):
            second.open()

    # --- locations -------------------------------------------------------------------------

    def test_ensure_location_is_idempotent_by_name(self, storage: Storage) -> None:
        """Ensuring a location twice by name returns the same identity and one row."""
        first = storage.ensure_location("pipes")
        assert storage.ensure_location("pipes") == first
        assert [loc.name for loc in storage.list_locations()] == ["pipes"]
        assert uuid.UUID(first.identity)

    def test_identity_keyed_rename_keeps_identity(self, storage: Storage) -> None:
        """A location keyed by identity can be renamed; its identity and creation stay."""
        identity = str(uuid.uuid4())
        before = storage.ensure_location("old", identity=identity)
        after = storage.ensure_location("new", identity=identity)
        assert (after.identity, after.name, after.created_at) == (
            identity,
            "new",
            before.created_at,
        )
        assert [loc.name for loc in storage.list_locations()] == ["new"]

    # --- runs ------------------------------------------------------------------------------

    def test_run_round_trips(self, storage: Storage) -> None:
        """A stored run reads back field for field; an unknown run id reads as None."""
        run = make_run().model_copy(
            update={
                "tags": {"team": "data"},
                "job_name": "daily",
                "selection": ("a", "b"),
                "asset_keys": ("a", "b", "c"),
                "snapshot_id": "snap",
            }
        )
        storage.add_run(run)
        assert storage.get_run(run.run_id) == run
        assert storage.get_run("missing") is None

    def test_update_run_changes_status_and_timings(self, storage: Storage) -> None:
        """update_run returns the changed run and leaves unnamed fields alone."""
        run = make_run()
        storage.add_run(run)
        updated = storage.update_run(run.run_id, status=RunStatus.STARTED, start_time=10.0)
        assert (updated.status, updated.start_time, updated.end_time) == (
            RunStatus.STARTED,
            10.0,
            None,
        )
        done = storage.update_run(
            run.run_id, status=RunStatus.FAILURE, end_time=12.5, failure_reason="boom"
        )
        assert (done.start_time, done.duration, done.failure_reason) == (10.0, 2.5, "boom")
        assert storage.get_run(run.run_id) == done

    def test_update_unknown_run_fails(self, storage: Storage) -> None:
        """Updating a run that does not exist is an error, not a silent insert."""
        with pytest.raises(StorageError, match="no run"):
            storage.update_run("missing", status=RunStatus.STARTED)
        assert storage.get_run("missing") is None

    def test_duplicate_run_id_is_rejected(self, storage: Storage) -> None:
        """Adding a run whose id exists fails and keeps the first run."""
        run = make_run()
        storage.add_run(run)
        with pytest.raises(StorageError):
            storage.add_run(run.model_copy(update={"location_id": "other"}))
        assert storage.get_run(run.run_id) == run

    def test_get_runs_filters_by_location_and_status(self, storage: Storage) -> None:
        """get_runs narrows by location, by status set, and by both."""
        a1 = make_run("a", RunStatus.SUCCESS, 1.0)
        a2 = make_run("a", RunStatus.FAILURE, 2.0)
        b1 = make_run("b", RunStatus.SUCCESS, 3.0)
        for run in (a1, a2, b1):
            storage.add_run(run)
        assert ids(storage.get_runs(location_id="a")) == [a2.run_id, a1.run_id]
        assert ids(storage.get_runs(statuses=[RunStatus.SUCCESS])) == [b1.run_id, a1.run_id]
        assert ids(storage.get_runs(location_id="a", statuses=[RunStatus.SUCCESS])) == [a1.run_id]
        assert storage.get_runs(statuses=[]) == []
        assert storage.get_runs(location_id="nowhere") == []

    def test_get_runs_pages_newest_first(self, storage: Storage) -> None:
        """Runs come newest first; created_before pages through them without overlap."""
        runs = [make_run(created_at=100.0 + i) for i in range(7)]
        for run in reversed(runs):
            storage.add_run(run)
        seen: list[str] = []
        before: float | None = None
        while page := storage.get_runs(limit=3, created_before=before):
            seen += [r.run_id for r in page]
            before = page[-1].created_at
        assert seen == [r.run_id for r in reversed(runs)]

    # --- events ----------------------------------------------------------------------------

    def test_event_seq_is_dense_across_batches(self, storage: Storage) -> None:
        """Each batch continues the global sequence with no gap; an empty batch uses none."""
        base = storage.last_event_seq()
        first = storage.store_events([event("r1"), event("r1")], location_id="loc")
        assert storage.store_events([], location_id="loc") == []
        second = storage.store_events([event("r2"), event("r1"), event("r2")], location_id="loc")
        assert [e.seq for e in first + second] == list(range(base + 1, base + 6))
        assert storage.last_event_seq() == base + 5
        assert [e.seq for e in storage.get_run_events("r1")] == [base + 1, base + 2, base + 4]

    def test_events_round_trip(self, storage: Storage) -> None:
        """Every event field, including error info and typed metadata, reads back unchanged."""
        error = ErrorInfo(error_type="ValueError", message="bad", traceback="Traceback ...")
        original = event(
            "r",
            EventKind.STEP_FAILURE,
            step_key="s",
            asset_key="a",
            partition_key="2024-01-01",
            level="ERROR",
            message="step failed",
            metadata={"n": MetadataValue.int(2), "u": MetadataValue.url("http://x")},
            error=error,
            duration_ms=12.5,
            attempt=2,
        )
        (stored,) = storage.store_events([original], location_id="loc")
        assert storage.get_run_events("r") == [stored]
        assert stored == original.model_copy(update={"seq": stored.seq})

    def test_concurrent_writers_store_each_event_once(self, storage: Storage) -> None:
        """8 threads appending batches at once: every event stored once, seq gap-free."""
        storage.open()
        base = storage.last_event_seq()
        threads, batches, size = 8, 6, 3
        errors: list[BaseException] = []

        handles = [self.writer(storage) for _ in range(threads)]

        def write(worker: int) -> None:
            try:
                for batch in range(batches):
                    events = [event(f"w{worker}", message=f"{batch}.{i}") for i in range(size)]
                    handles[worker].store_events(events, location_id="loc")
            except BaseException as exc:  # reported by the main thread
                errors.append(exc)

        workers = [threading.Thread(target=write, args=(w,)) for w in range(threads)]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join()
        for handle in handles:
            if handle is not storage:
                handle.close()
        assert errors == []
        stored = storage.get_events_after(base, limit=10_000)
        total = threads * batches * size
        assert [e.seq for e in stored] == list(range(base + 1, base + total + 1))
        assert len({(e.run_id, e.message) for e in stored}) == total
        for worker in range(threads):
            messages = [e.message for e in storage.get_run_events(f"w{worker}")]
            assert messages == [f"{b}.{i}" for b in range(batches) for i in range(size)]

    def test_get_run_events_filters(self, storage: Storage) -> None:
        """get_run_events reads one run, after a seq, up to a limit, of chosen kinds."""
        stored = storage.store_events(
            [
                event("r", EventKind.RUN_STARTED),
                event("other"),
                event("r", EventKind.STEP_STARTED, step_key="s"),
                event("r"),
                event("r", EventKind.RUN_SUCCESS),
            ],
            location_id="loc",
        )
        mine = [e for e in stored if e.run_id == "r"]
        assert storage.get_run_events("r") == mine
        assert storage.get_run_events("r", after_seq=seq(mine[1])) == mine[2:]
        assert storage.get_run_events("r", limit=2) == mine[:2]
        kinds = [EventKind.RUN_STARTED, EventKind.RUN_SUCCESS]
        assert storage.get_run_events("r", kinds=kinds) == [mine[0], mine[3]]
        assert storage.get_run_events("nobody") == []

    def test_get_events_after_tails_every_run(self, storage: Storage) -> None:
        """A tailer reading after its last seen seq gets every later event once, in order."""
        cursor = storage.last_event_seq()
        storage.store_events([event("a"), event("b")], location_id="x")
        storage.store_events([event("c")], location_id="y")
        seen: list[str] = []
        while batch := storage.get_events_after(cursor, limit=2):
            seen += [e.run_id for e in batch]
            cursor = seq(batch[-1])
        assert seen == ["a", "b", "c"]
        assert cursor == storage.last_event_seq()

    # --- asset records ---------------------------------------------------------------------

    def test_asset_record_is_latest_materialization(self, storage: Storage) -> None:
        """The asset record follows the latest materialization of each asset and partition."""
        storage.store_events(
            [materialized("r1", "a", version="v1"), materialized("r1", "p", partition="1")],
            location_id="loc",
        )
        later = storage.store_events(
            [materialized("r2", "a", version="v2"), materialized("r2", "p", partition="2")],
            location_id="loc",
        )
        record = storage.get_asset_record("loc", "a")
        assert record is not None
        assert (record.run_id, record.data_version, record.event_seq) == ("r2", "v2", later[0].seq)
        assert record.metadata == {"rows": MetadataValue.int(3)}
        part1 = storage.get_asset_record("loc", "p", "1")
        part2 = storage.get_asset_record("loc", "p", "2")
        assert (part1 and part1.run_id, part2 and part2.run_id) == ("r1", "r2")
        assert storage.get_asset_record("loc", "p") is None
        assert storage.get_asset_record("elsewhere", "a") is None

    def test_other_event_kinds_do_not_touch_asset_records(self, storage: Storage) -> None:
        """Only ASSET_MATERIALIZATION events move an asset record."""
        storage.store_events([materialized("r1", "a", version="v1")], location_id="loc")
        storage.store_events(
            [
                event("r2", EventKind.STEP_FAILURE, asset_key="a"),
                event("r2", EventKind.LOG, asset_key="a", data_version="v9"),
            ],
            location_id="loc",
        )
        record = storage.get_asset_record("loc", "a")
        assert record is not None
        assert (record.run_id, record.data_version) == ("r1", "v1")
        assert storage.get_asset_record("loc", "never") is None

    def test_get_asset_records_filters_by_location_and_keys(self, storage: Storage) -> None:
        """get_asset_records lists a location's records by key then partition, or chosen keys."""
        storage.store_events(
            [materialized("r", "b"), materialized("r", "a"), materialized("r", "a", "1")],
            location_id="loc",
        )
        storage.store_events([materialized("r", "a")], location_id="other")
        assert keys(storage.get_asset_records("loc")) == [
            ("a", None),
            ("a", "1"),
            ("b", None),
        ]
        assert keys(storage.get_asset_records("loc", ["b", "zzz"])) == [("b", None)]
        assert keys(storage.get_asset_records("other")) == [("a", None)]
        assert storage.get_asset_records("loc", []) == []

    def test_materialization_history_is_newest_first(self, storage: Storage) -> None:
        """get_materializations lists one asset's materializations newest first."""
        stored = storage.store_events(
            [
                materialized("r1", "a", version="1"),
                materialized("r1", "b"),
                event("r1", EventKind.LOG, asset_key="a"),
                materialized("r2", "a", version="2"),
            ],
            location_id="loc",
        )
        storage.store_events([materialized("r3", "a")], location_id="other")
        history = storage.get_materializations("loc", "a")
        assert [e.data_version for e in history] == ["2", "1"]
        assert [e.seq for e in history] == [stored[3].seq, stored[0].seq]
        assert storage.get_materializations("loc", "a", limit=1) == history[:1]

    # --- kv --------------------------------------------------------------------------------

    def test_kv_set_get_list_delete(self, storage: Storage) -> None:
        """KV keeps JSON-like values; listing filters by prefix; None and delete remove."""
        storage.kv_set("sensor/a", {"cursor": 3, "seen": ["x", "y"]})
        storage.kv_set("sensor/b", 1.5)
        storage.kv_set("other", "text")
        assert storage.kv_get("sensor/a") == {"cursor": 3, "seen": ["x", "y"]}
        assert storage.kv_list("sensor/") == {
            "sensor/a": {"cursor": 3, "seen": ["x", "y"]},
            "sensor/b": 1.5,
        }
        storage.kv_set("sensor/b", 2)
        assert storage.kv_get("sensor/b") == 2
        storage.kv_set("sensor/b", None)
        storage.kv_delete("other")
        storage.kv_delete("never-set")
        assert storage.kv_get("sensor/b", "gone") == "gone"
        assert storage.kv_list() == {"sensor/a": {"cursor": 3, "seen": ["x", "y"]}}

    # --- partitions ------------------------------------------------------------------------

    def test_dynamic_partitions_add_is_idempotent_and_ordered(self, storage: Storage) -> None:
        """Adding keys keeps their order, skips existing ones; delete/has/count agree."""
        assert storage.add_dynamic_partitions("tenants", ["b", "a", "b"]) == ["b", "a"]
        assert storage.add_dynamic_partitions("tenants", ["a", "c"]) == ["c"]
        assert storage.add_dynamic_partitions("other", ["a"]) == ["a"]
        assert storage.get_dynamic_partitions("tenants") == ["b", "a", "c"]
        assert storage.count_dynamic_partitions("tenants") == 3
        assert storage.has_dynamic_partition("tenants", "c")
        storage.delete_dynamic_partitions("tenants", ["a", "never"])
        assert storage.get_dynamic_partitions("tenants") == ["b", "c"]
        assert not storage.has_dynamic_partition("tenants", "a")
        assert storage.get_dynamic_partitions("other") == ["a"]
        assert storage.get_dynamic_partitions("unknown") == []

    @pytest.mark.parametrize("bad", ["", "a|b", " padded"])
    def test_dynamic_partition_keys_are_validated(self, storage: Storage, bad: str) -> None:
        """Empty keys, the multi-key separator and surrounding spaces are refused."""
        with pytest.raises(StorageError, match="invalid key"):
            storage.add_dynamic_partitions("tenants", [bad])

    def test_partition_outcome_is_the_latest_attempt(self, storage: Storage) -> None:
        """A failure after a success marks the partition failed; a later success clears it."""
        failed = EventKind.ASSET_FAILED
        storage.store_events(
            [
                materialized("r1", "a", "p1"),
                materialized("r1", "a", "p2"),
                event("r1", failed, asset_key="a", partition_key="p2", message="boom"),
                event("r1", failed, asset_key="a", partition_key="p3", message="bad input"),
            ],
            location_id="loc",
        )
        done, failures = storage.get_asset_partition_outcomes("loc", "a")
        assert done == ["p1"]
        assert failures == {"p2": "boom", "p3": "bad input"}
        storage.store_events([materialized("r2", "a", "p3")], location_id="loc")
        done, failures = storage.get_asset_partition_outcomes("loc", "a")
        assert sorted(done) == ["p1", "p3"]
        assert failures == {"p2": "boom"}
        assert storage.get_asset_partition_outcomes("other", "a") == ([], {})

    # --- backfills -------------------------------------------------------------------------

    def test_backfill_progress_is_accumulated_atomically(self, storage: Storage) -> None:
        """Run outcomes add up in the stored backfill, from concurrent writers too."""
        backfill = BackfillRecord(
            backfill_id="b1",
            location_id="loc",
            status=BackfillState.IN_PROGRESS,
            created_at=time.time(),
            asset_selection=("a",),
            partitions={"keys": [f"k{i}" for i in range(20)]},
            strategy={"kind": "multi_run"},
            requested=20,
        )
        storage.add_backfill(backfill)
        with pytest.raises(StorageError):
            storage.add_backfill(backfill)

        def report(i: int) -> None:
            failed = {f"k{i}": "boom"} if i % 5 == 0 else {}
            storage.record_backfill_run(
                "b1", run_id=f"r{i}", succeeded=0 if failed else 1, failed_partitions=failed
            )

        threads = [threading.Thread(target=report, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stored = storage.get_backfill("b1")
        assert stored is not None
        assert (stored.succeeded, stored.failed, stored.runs_done) == (16, 4, 20)
        assert stored.in_progress == 0
        assert stored.failed_partitions == {f"k{i}": "boom" for i in (0, 5, 10, 15)}
        assert sorted(stored.run_ids) == sorted(f"r{i}" for i in range(20))
        done = storage.update_backfill("b1", status=BackfillState.COMPLETED, end_time=1.0)
        assert done.status is BackfillState.COMPLETED
        assert storage.get_backfills(location_id="loc") == [done]
        assert storage.get_backfill("nope") is None
        with pytest.raises(StorageError, match="no backfill"):
            storage.update_backfill("nope", status=BackfillState.FAILED)

    # --- concurrency pools -----------------------------------------------------------------

    def claim(
        self,
        storage: Storage,
        claim_id: str,
        pools: list[str],
        slots: int = 1,
        *,
        owner: str = "proc-a",
        lease: float = 60.0,
    ) -> bool:
        return storage.claim_pool_slots(
            claim_id,
            pools,
            slots,
            run_id=f"run-{claim_id}",
            step_key=f"step-{claim_id}",
            owner=owner,
            lease_duration=lease,
        )

    def queue(
        self, storage: Storage, claim_id: str, pools: list[str], slots: int = 1, lease: float = 60.0
    ) -> int:
        return storage.register_pool_waiter(
            claim_id,
            pools,
            slots,
            run_id=f"run-{claim_id}",
            step_key=f"step-{claim_id}",
            owner="proc-a",
            lease_duration=lease,
        )

    def test_pool_limit_precedence(self, storage: Storage) -> None:
        """A manual limit wins over the code default, survives re-ensuring, and clears back."""
        storage.ensure_pool_limits({"wh": 2, "api": 1})
        info = storage.get_pool_info("wh")
        assert (info.limit, info.source) == (2, "code")
        storage.set_pool_limit("wh", 5)
        storage.ensure_pool_limits({"wh": 3})
        info = storage.get_pool_info("wh")
        assert (info.limit, info.source, info.code_limit) == (5, "manual", 3)
        storage.clear_pool_limit("wh")
        assert (storage.get_pool_info("wh").limit, storage.get_pool_info("wh").source) == (
            3,
            "code",
        )
        storage.set_pool_limit("new", 0)
        assert storage.get_pool_info("new").limit == 0
        storage.clear_pool_limit("new")
        assert (storage.get_pool_info("new").limit, storage.get_pool_info("new").source) == (
            None,
            "default",
        )
        assert storage.get_pool_info("never").limit is None
        assert [i.name for i in storage.get_all_pool_infos()] == ["api", "new", "wh"]
        with pytest.raises(StorageError, match="invalid limit"):
            storage.set_pool_limit("wh", -1)
        with pytest.raises(StorageError, match="invalid pool name"):
            storage.ensure_pool_limits({"": 1})

    def test_multi_pool_claim_is_all_or_nothing(self, storage: Storage) -> None:
        """A claim on several pools takes slots from all of them, or from none."""
        storage.ensure_pool_limits({"a": 2, "b": 1})
        assert self.claim(storage, "c1", ["a", "b"])
        assert not self.claim(storage, "c2", ["a", "b"])
        assert storage.get_pool_info("a").slots_in_use == 1
        assert [h.claim_id for h in storage.get_pool_slot_holders("a")] == ["c1"]
        assert self.claim(storage, "c3", ["a"])
        assert not self.claim(storage, "c4", ["a"])
        assert self.claim(storage, "c1", ["a", "b"]), "re-claiming a held claim succeeds"
        assert storage.get_pool_info("a").slots_in_use == 2

    def test_release_returns_slots_once(self, storage: Storage) -> None:
        """Releasing gives back every pool's slots; releasing again changes nothing."""
        storage.ensure_pool_limits({"a": 3, "b": 2})
        assert self.claim(storage, "c1", ["a", "b"], 2)
        assert storage.release_pool_slots("c1") == 4
        assert storage.release_pool_slots("c1") == 0
        assert storage.release_pool_slots("never") == 0
        infos = {i.name: i for i in storage.get_all_pool_infos()}
        assert [(infos[p].slots_in_use, infos[p].holders) for p in "ab"] == [(0, 0), (0, 0)]
        assert self.claim(storage, "c2", ["a"], 3)

    def test_slots_over_the_limit_fail_fast(self, storage: Storage) -> None:
        """A claim bigger than a pool's limit is an error naming the pool; limit 0 just waits."""
        storage.ensure_pool_limits({"small": 1})
        with pytest.raises(
            PoolLimitError, match=r"pool 'small' has a limit of 1 slot\(s\) \(code\)"
        ):
            self.claim(storage, "c1", ["free", "small"], 2)
        assert storage.get_pool_info("free").slots_in_use == 0
        storage.set_pool_limit("paused", 0)
        assert not self.claim(storage, "c2", ["paused"])
        with pytest.raises(StorageError, match="invalid pool slots"):
            self.claim(storage, "c3", ["small"], 0)

    def test_unlimited_pools_never_wait(self, storage: Storage) -> None:
        """A pool without a limit admits every claim, even behind a waiter blocked elsewhere."""
        storage.ensure_pool_limits({"a": 1})
        assert self.claim(storage, "h", ["a"])
        self.queue(storage, "w", ["free", "a"])
        assert all(self.claim(storage, f"u{i}", ["free"], 5) for i in range(3))
        info = storage.get_pool_info("free")
        assert (info.limit, info.slots_in_use, info.holders, info.waiters) == (None, 15, 3, 1)

    def test_expired_leases_are_reclaimed(self, storage: Storage) -> None:
        """Expired holders' slots come back, via reclaim or via the next claim on the pool."""
        storage.ensure_pool_limits({"a": 1, "b": 1})
        assert self.claim(storage, "dead", ["a"], owner="crashed")
        assert self.claim(storage, "live", ["b"])
        assert storage.reclaim_expired_pool_slots() == 0
        assert storage.reclaim_expired_pool_slots(now=time.time() + 3600) == 2
        assert storage.get_pool_slot_holders("a") == []
        assert storage.get_pool_info("a").slots_in_use == 0
        assert self.claim(storage, "short", ["a"], owner="crashed", lease=0.2)
        assert not self.claim(storage, "next", ["a"])
        time.sleep(0.3)
        assert self.claim(storage, "next", ["a"])
        assert [h.claim_id for h in storage.get_pool_slot_holders("a")] == ["next"]
        assert storage.get_pool_info("a").slots_in_use == 1

    def test_renewed_leases_do_not_expire(self, storage: Storage) -> None:
        """renew_pool_leases extends every holder and waiter of one owner, and no other."""
        storage.ensure_pool_limits({"a": 1})
        assert self.claim(storage, "mine", ["a"], lease=0.3)
        self.queue(storage, "waiting", ["a"], lease=0.3)
        assert self.claim(storage, "theirs", ["b"], owner="proc-b", lease=0.3)
        assert storage.renew_pool_leases("proc-a", 60.0) == 2
        assert storage.renew_pool_leases("nobody", 60.0) == 0
        time.sleep(0.4)
        assert storage.reclaim_expired_pool_slots() == 1
        assert [h.claim_id for h in storage.get_pool_slot_holders("a")] == ["mine"]
        assert storage.get_pool_info("a").waiters == 1
        (holder,) = storage.get_pool_slot_holders("a")
        assert holder.lease_expires_at - time.time() > 50

    def test_waiters_are_served_first_come_first_served(self, storage: Storage) -> None:
        """An earlier waiter needing 2 slots is served before a later one needing 1."""
        storage.ensure_pool_limits({"a": 2})
        assert self.claim(storage, "h", ["a"])
        first = self.queue(storage, "big", ["a"], 2)
        second = self.queue(storage, "small", ["a"], 1)
        assert second > first
        assert self.queue(storage, "big", ["a"], 2) == first, "re-queuing keeps the place"
        assert not self.claim(storage, "small", ["a"]), "1 slot is free, but big is first"
        assert not self.claim(storage, "big", ["a"], 2)
        assert not self.claim(storage, "newcomer", ["a"]), "unqueued claims come last"
        storage.release_pool_slots("h")
        assert not self.claim(storage, "small", ["a"])
        assert self.claim(storage, "big", ["a"], 2)
        assert storage.get_pool_info("a").waiters == 1
        assert not self.claim(storage, "small", ["a"])
        storage.release_pool_slots("big")
        assert self.claim(storage, "small", ["a"])
        assert storage.get_pool_info("a").waiters == 0

    def test_dead_waiters_do_not_block_the_queue(self, storage: Storage) -> None:
        """A waiter whose lease expired is skipped, and reclaim removes it."""
        storage.ensure_pool_limits({"a": 1})
        self.queue(storage, "gone", ["a"], lease=0.2)
        assert not self.claim(storage, "later", ["a"])
        time.sleep(0.3)
        assert self.claim(storage, "later", ["a"])
        storage.reclaim_expired_pool_slots()
        assert storage._q("SELECT VALUE claim_id FROM pool_waiter;") == [[]]

    def test_pool_infos_and_holders_describe_claims(self, storage: Storage) -> None:
        """Infos count slots, holders and live waiters; holders carry run, step and lease."""
        storage.ensure_pool_limits({"a": 4})
        assert self.claim(storage, "c1", ["a", "b"], 2, lease=30.0)
        assert self.claim(storage, "c2", ["a"], 1)
        self.queue(storage, "w", ["a", "c"], 3)
        infos = storage.get_all_pool_infos()
        assert [(i.name, i.limit, i.slots_in_use, i.holders, i.waiters) for i in infos] == [
            ("a", 4, 3, 2, 1),
            ("b", None, 2, 1, 0),
            ("c", None, 0, 0, 1),
        ]
        first, second = storage.get_pool_slot_holders("a")
        assert (first.claim_id, first.run_id, first.step_key, first.slots, first.owner) == (
            "c1",
            "run-c1",
            "step-c1",
            2,
            "proc-a",
        )
        assert first.lease_expires_at == pytest.approx(first.claimed_at + 30.0)
        assert abs(first.claimed_at - time.time()) < 5
        assert second.claim_id == "c2"
        assert storage.get_pool_slot_holders("nowhere") == []

    def test_concurrent_claimers_never_exceed_the_limit(self, storage: Storage) -> None:
        """8 threads claiming one pool (queuing when full) never hold more than its limit."""
        storage.ensure_pool_limits({"hot": 3})
        threads, rounds = 8, 4
        lock = threading.Lock()
        holding = [0]
        peak = [0]
        errors: list[BaseException] = []
        handles = [self.writer(storage) for _ in range(threads)]

        def work(worker: int) -> None:
            store = handles[worker]
            try:
                for r in range(rounds):
                    claim_id = f"w{worker}-{r}"
                    queued = False
                    while not self.claim(store, claim_id, ["hot"], owner=f"w{worker}"):
                        if not queued:
                            self.queue(store, claim_id, ["hot"])
                            queued = True
                        time.sleep(0.002)
                    with lock:
                        holding[0] += 1
                        peak[0] = max(peak[0], holding[0])
                    time.sleep(0.005)
                    with lock:
                        holding[0] -= 1
                    assert store.release_pool_slots(claim_id) == 1
            except BaseException as exc:  # reported by the main thread
                errors.append(exc)

        workers = [threading.Thread(target=work, args=(w,)) for w in range(threads)]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join()
        for handle in handles:
            if handle is not storage:
                handle.close()
        assert errors == []
        assert 1 <= peak[0] <= 3
        info = storage.get_pool_info("hot")
        assert (info.slots_in_use, info.holders, info.waiters) == (0, 0, 0)
