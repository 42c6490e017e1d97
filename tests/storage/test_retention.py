"""Retention on a real embedded store: what a prune deletes, what it keeps, batches, dry runs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rivers.execution.events import EventKind, RunEvent
from rivers.storage import (
    InstigatorType,
    RunRecord,
    RunStatus,
    Storage,
    TickRecord,
    TickStatus,
)

DAY = 86400.0
NOW = time.time()
OLD = NOW - 40 * DAY
CUTOFF = NOW - 30 * DAY


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Storage]:
    """An embedded store in a temporary directory."""
    with Storage.embedded(tmp_path / "store") as storage:
        yield storage


def add_run(
    store: Storage,
    run_id: str,
    created: float,
    *,
    status: RunStatus = RunStatus.SUCCESS,
    location: str = "loc",
    logs: int = 3,
    materializes: list[tuple[str, str | None]] | None = None,
) -> None:
    """A run created at ``created`` with a start, ``logs`` LOG events, materializations, end."""
    store.add_run(
        RunRecord(
            run_id=run_id,
            location_id=location,
            status=status,
            created_at=created,
            end_time=created + 1 if status.is_finished else None,
        )
    )
    events = [RunEvent(run_id=run_id, kind=EventKind.RUN_STARTED, timestamp=created)]
    events += [
        RunEvent(run_id=run_id, kind=EventKind.LOG, timestamp=created, message=f"line {i}")
        for i in range(logs)
    ]
    for asset, partition in materializes or []:
        events.append(
            RunEvent(
                run_id=run_id,
                kind=EventKind.ASSET_MATERIALIZATION,
                timestamp=created,
                asset_key=asset,
                partition_key=partition,
            )
        )
    store.store_events(events, location_id=location)


def add_tick(store: Storage, tick_id: str, at: float, location: str = "loc") -> None:
    """A finished sensor tick at ``at``."""
    store.add_tick(
        TickRecord(
            tick_id=tick_id,
            location_id=location,
            instigator="sensor_a",
            type=InstigatorType.SENSOR,
            status=TickStatus.SKIPPED,
            timestamp=at,
        )
    )


def test_prune_deletes_old_runs_and_keeps_latest_materializations(store: Storage) -> None:
    """Old finished runs lose their events and records; latest materializations stay linked."""
    add_run(store, "old-superseded", OLD, materializes=[("a", None)])
    add_run(store, "old-latest", OLD + 1, materializes=[("a", "p1"), ("b", None)])
    add_run(store, "old-plain", OLD + 2)
    add_run(store, "new", NOW, materializes=[("a", None)])
    result = store.prune(CUTOFF, pause=0)
    assert (result.runs, result.runs_kept) == (2, 1)
    # old-superseded: all 5 events; old-plain: all 4; old-latest: 4 of 6 (2 latest kept)
    assert result.run_events == 5 + 4 + 4
    assert store.get_run("old-superseded") is None
    assert store.get_run("old-plain") is None
    assert store.get_run_events("old-plain") == []
    kept = store.get_run_events("old-latest")
    assert [(e.kind, e.asset_key) for e in kept] == [
        (EventKind.ASSET_MATERIALIZATION, "a"),
        (EventKind.ASSET_MATERIALIZATION, "b"),
    ]
    assert store.get_run("old-latest") is not None
    assert len(store.get_run_events("new")) == 5
    record = store.get_asset_record("loc", "a", "p1")
    assert record is not None and record.run_id == "old-latest"
    assert {r.run_id for r in store.get_asset_records("loc")} == {"old-latest", "new"}


def test_prune_never_touches_unfinished_runs(store: Storage) -> None:
    """Queued and running runs keep everything however old they are."""
    add_run(store, "old-queued", OLD, status=RunStatus.QUEUED)
    add_run(store, "old-started", OLD, status=RunStatus.STARTED)
    result = store.prune(CUTOFF, pause=0)
    assert (result.runs, result.run_events) == (0, 0)
    assert len(store.get_run_events("old-started")) == 4
    assert store.get_run("old-queued") is not None


def test_keep_last_keeps_the_newest_runs_whatever_their_age(store: Storage) -> None:
    """`keep_last` protects the N most recent runs of the location, old or not."""
    for i in range(5):
        add_run(store, f"r{i}", OLD + i)
    result = store.prune(CUTOFF, keep_last=2, pause=0)
    assert result.runs == 3
    assert [r.run_id for r in store.get_runs()] == ["r4", "r3"]
    assert len(store.get_run_events("r3")) == 4


def test_prune_deletes_old_ticks_only(store: Storage) -> None:
    """Ticks before the cutoff go, newer ones stay."""
    add_tick(store, "t-old", OLD)
    add_tick(store, "t-new", NOW)
    result = store.prune(CUTOFF, pause=0)
    assert result.ticks == 1
    assert [t.tick_id for t in store.get_ticks()] == ["t-new"]


def test_prune_is_scoped_to_one_location(store: Storage) -> None:
    """With a location, other locations' runs and ticks are left alone."""
    add_run(store, "mine", OLD, location="loc")
    add_run(store, "theirs", OLD, location="other")
    add_tick(store, "t-mine", OLD, location="loc")
    add_tick(store, "t-theirs", OLD, location="other")
    result = store.prune(CUTOFF, location_id="loc", pause=0)
    assert (result.runs, result.ticks) == (1, 1)
    assert store.get_run("theirs") is not None
    assert store.get_tick("t-theirs") is not None


def test_prune_works_in_batches_and_reports_progress(store: Storage) -> None:
    """Events go in transactions of at most batch_size rows, each reported as progress."""
    add_run(store, "big", OLD, logs=23)
    for i in range(7):
        add_tick(store, f"t{i}", OLD + i)
    progress: list[tuple[str, int]] = []
    result = store.prune(
        CUTOFF, batch_size=10, pause=0, on_progress=lambda t, n: progress.append((t, n))
    )
    assert result.run_events == 24
    assert [p for p in progress if p[0] == "run_event"] == [
        ("run_event", 10),
        ("run_event", 20),
        ("run_event", 24),
    ]
    assert ("run", 1) in progress and ("tick", 7) in progress
    assert result.batches == 5


def test_dry_run_counts_and_deletes_nothing(store: Storage) -> None:
    """A dry run reports the same counts a real prune then deletes."""
    add_run(store, "old-latest", OLD, materializes=[("a", None)])
    add_run(store, "old-plain", OLD + 1)
    add_tick(store, "t-old", OLD)
    dry = store.prune(CUTOFF, dry_run=True, pause=0)
    assert (dry.run_events, dry.runs, dry.runs_kept, dry.ticks) == (8, 1, 1, 1)
    assert len(store.get_run_events("old-plain")) == 4
    assert store.get_tick("t-old") is not None
    real = store.prune(CUTOFF, pause=0)
    assert (real.run_events, real.runs, real.ticks) == (dry.run_events, dry.runs, dry.ticks)


def test_prune_twice_deletes_nothing_more(store: Storage) -> None:
    """A second prune finds only the kept rows, and keeps them."""
    add_run(store, "old-latest", OLD, materializes=[("a", None)])
    store.prune(CUTOFF, pause=0)
    again = store.prune(CUTOFF, pause=0)
    assert (again.run_events, again.runs, again.runs_kept) == (0, 0, 1)
    assert len(store.get_run_events("old-latest")) == 1


def test_table_stats_counts_rows_per_table(store: Storage) -> None:
    """Stats list every table with its row count, and the counts follow a prune."""
    add_run(store, "old", OLD)
    add_tick(store, "t", OLD)
    before = {s.table: s.rows for s in store.table_stats()}
    assert (before["run"], before["run_event"], before["tick"]) == (1, 4, 1)
    assert before["asset_record"] == 0
    store.prune(CUTOFF, pause=0)
    after = {s.table: s.rows for s in store.table_stats()}
    assert (after["run"], after["run_event"], after["tick"]) == (0, 0, 0)


def test_an_interrupted_prune_is_finished_by_the_next(store: Storage) -> None:
    """A prune stopped between batches leaves no event of a deleted run; the next one finishes."""
    for i in range(3):
        add_run(store, f"r{i}", OLD + i, logs=8)

    def stop(table: str, rows: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.prune(CUTOFF, batch_size=5, pause=0, on_progress=stop)
    assert len(store.get_runs()) == 3  # records go after their events
    left = sum(len(store.get_run_events(f"r{i}")) for i in range(3))
    assert 0 < left <= 3 * 9 - 5  # the first batch went
    result = store.prune(CUTOFF, pause=0)
    assert result.runs == 3
    assert all(store.get_run_events(f"r{i}") == [] for i in range(3))
    assert {s.table: s.rows for s in store.table_stats()}["run_event"] == 0
