"""AutomationEvaluator against a real in-memory store: incremental loads, runs, restarts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

import rivers as rs
from rivers.automation import evaluation
from rivers.automation.evaluation import AutomationEvaluator, AutomationState
from rivers.definitions.resolve import resolve
from rivers.definitions.snapshot import DefinitionsSnapshot
from rivers.storage.records import RunRecord, RunStatus

AC = rs.AutomationCondition
DAILY = rs.PartitionsDefinition.daily(start="2024-01-01")
LOC = "loc"
NOW = datetime(2024, 3, 2, 12, tzinfo=UTC).timestamp()


@pytest.fixture
def storage() -> Iterator[rs.Storage]:
    store = rs.Storage.memory()
    yield store
    store.close()


def snapshot() -> DefinitionsSnapshot:
    @rs.Asset
    def raw() -> int:
        return 1

    @rs.Asset(automation_condition=AC.eager())
    def clean(raw: int) -> int:
        return raw

    @rs.Asset(partitions_def=DAILY)
    def events() -> int:
        return 1

    @rs.Asset(partitions_def=DAILY, automation_condition=AC.eager())
    def rollup(events: int) -> int:
        return events

    return resolve([raw, clean, events, rollup], location=LOC).snapshot


def materialize(storage: rs.Storage, asset: str, key: str | None = None, run: str = "r") -> None:
    event = rs.RunEvent.now(run, rs.EventKind.ASSET_MATERIALIZATION, asset_key=asset)
    storage.store_events([event.model_copy(update={"partition_key": key})], location_id=LOC)


def queue_run(storage: rs.Storage, run_id: str, assets: tuple[str, ...], key: str | None) -> None:
    tags = {"rivers/partition": key} if key else {}
    storage.add_run(
        RunRecord(
            run_id=run_id,
            location_id=LOC,
            status=RunStatus.QUEUED,
            created_at=NOW,
            asset_keys=assets,
            selection=assets,
            tags=tags,
        )
    )


def test_updates_written_between_ticks_are_read_incrementally(storage: rs.Storage):
    """Only records after the cursor count as new; each update requests dependents once."""
    materialize(storage, "raw")
    materialize(storage, "events", "2024-03-01")
    evaluator = AutomationEvaluator(snapshot(), storage, LOC)
    first = evaluator.tick(NOW)
    assert first.requested == 0
    assert evaluator.state.cursor is not None and evaluator.state.cursor > 0
    materialize(storage, "raw")
    materialize(storage, "events", "2024-03-01")
    second = evaluator.tick(NOW + 60)
    assert second.requested_keys == {"clean": (None,), "rollup": ("2024-03-01",)}
    assert sorted((r.selection, r.partition) for r in second.run_requests) == [
        (("clean",), None),
        (("rollup",), "2024-03-01"),
    ]
    assert evaluator.tick(NOW + 120).requested == 0


def test_in_progress_runs_hold_requests_back(storage: rs.Storage):
    """A queued run of the asset (unpartitioned or for the key) keeps it from being requested."""
    materialize(storage, "raw")
    materialize(storage, "events", "2024-03-01")
    evaluator = AutomationEvaluator(snapshot(), storage, LOC)
    evaluator.tick(NOW)
    queue_run(storage, "run-1", ("clean",), None)
    queue_run(storage, "run-2", ("rollup",), "2024-03-01")
    materialize(storage, "raw")
    materialize(storage, "events", "2024-03-01")
    assert evaluator.tick(NOW + 60).requested == 0
    storage.update_run("run-1", status=RunStatus.SUCCESS)
    assert evaluator.tick(NOW + 120).requested_keys == {"clean": (None,)}


def test_state_persisted_in_kv_survives_a_restart(storage: rs.Storage):
    """A new evaluator with the stored state sees updates made while it was down, once."""
    materialize(storage, "raw")
    materialize(storage, "events", "2024-03-01")
    evaluator = AutomationEvaluator(snapshot(), storage, LOC)
    storage.kv_set(f"automation/{LOC}", evaluator.tick(NOW).state.to_json())

    materialize(storage, "raw")  # while no daemon runs
    state = AutomationState.from_json(storage.kv_get(f"automation/{LOC}"))
    restarted = AutomationEvaluator(snapshot(), storage, LOC, state=state)
    assert restarted.tick(NOW + 60).requested_keys == {"clean": (None,)}
    assert restarted.tick(NOW + 120).requested == 0

    fresh = AutomationEvaluator(snapshot(), storage, LOC)  # no state: nothing is new
    assert fresh.tick(NOW + 180).requested == 0


def test_failed_partitions_come_from_storage(storage: rs.Storage):
    """execution_failed() reads the latest failed attempts of the asset from storage."""

    @rs.Asset(partitions_def=DAILY, automation_condition=AC.execution_failed())
    def flaky() -> int:
        return 1

    snap = resolve([flaky], location=LOC).snapshot
    failed = rs.RunEvent.now("r", rs.EventKind.ASSET_FAILED, asset_key="flaky", message="boom")
    storage.store_events(
        [failed.model_copy(update={"partition_key": "2024-02-10"})], location_id=LOC
    )
    evaluator = AutomationEvaluator(snap, storage, LOC)
    assert evaluator.tick(NOW).requested_keys == {"flaky": ("2024-02-10",)}
    materialize(storage, "flaky", "2024-02-10")
    assert evaluator.tick(NOW + 60).requested == 0


def test_dynamic_partitions_are_read_from_the_evaluators_storage(storage: rs.Storage):
    """Keys of dynamic partitions come from storage; new keys become missing partitions."""

    @rs.Asset(
        partitions_def=rs.PartitionsDefinition.dynamic("files"),
        automation_condition=AC.newly_missing(),
    )
    def files() -> int:
        return 1

    storage.add_dynamic_partitions("files", ["a.csv"])
    evaluator = AutomationEvaluator(resolve([files], location=LOC).snapshot, storage, LOC)
    assert evaluator.tick(NOW).requested_keys == {"files": ("a.csv",)}
    storage.add_dynamic_partitions("files", ["b.csv"])
    result = evaluator.tick(NOW + 60)
    assert result.requested_keys == {"files": ("b.csv",)} and not result.errors


def test_first_load_pages_and_rereads_records_rewritten_meanwhile(
    storage: rs.Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Paged first load reads every record; one rewritten between pages is new next tick."""
    monkeypatch.setattr(evaluation, "_PAGE_ASSETS", 1)  # a page per asset
    materialize(storage, "raw")
    materialize(storage, "events", "2024-03-01")
    materialize(storage, "gone")  # an asset the snapshot no longer has: still read
    read = storage.get_asset_record_stamps
    pages: list[tuple[str | None, str | None]] = []

    def stamps(location_id: str, **kwargs: Any) -> list[Any]:
        if "from_asset" in kwargs:
            pages.append((kwargs.get("from_asset"), kwargs.get("to_asset")))
            if len(pages) == 2:  # "raw" (last page) was not read yet: rewrite it meanwhile
                materialize(storage, "raw")
        return read(location_id, **kwargs)

    monkeypatch.setattr(storage, "get_asset_record_stamps", stamps)
    evaluator = AutomationEvaluator(snapshot(), storage, LOC)
    assert evaluator.tick(NOW).requested == 0
    assert pages == [(None, "events"), ("events", "raw"), ("raw", "rollup"), ("rollup", None)]
    assert set(evaluator.status.assets) == {"raw", "events", "gone"}
    assert evaluator.tick(NOW + 60).requested_keys == {"clean": (None,)}
    assert evaluator.tick(NOW + 120).requested == 0
