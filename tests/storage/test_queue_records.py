"""The run queue's records and pick rule, without an engine; and migration to schema v6."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from pydantic import ValidationError

from rivers.storage import RunQueueConfig, RunRecord, RunStatus, Storage, TagConcurrencyLimit
from rivers.storage._queue import pick_runs
from rivers.storage.schema import MIGRATIONS, SCHEMA_VERSION


def row(run_id: str, **tags: str) -> dict[str, object]:
    return {"run_id": run_id, "tags": tags}


def test_tag_limit_buckets() -> None:
    """A key limit counts every value together, per_value each value, key=value one value."""
    tags = {"db": "x"}
    assert TagConcurrencyLimit(key="db", limit=1).bucket(tags) == ""
    assert TagConcurrencyLimit(key="db", limit=1, per_value=True).bucket(tags) == "x"
    assert TagConcurrencyLimit(key="db", value="x", limit=1).bucket(tags) == ""
    assert TagConcurrencyLimit(key="db", value="y", limit=1).bucket(tags) is None
    assert TagConcurrencyLimit(key="team", limit=1).bucket(tags) is None


@pytest.mark.parametrize(
    "fields",
    [
        {"key": "", "limit": 1},
        {"key": "db", "limit": -1},
        {"key": "db", "value": "x", "limit": 1, "per_value": True},
    ],
)
def test_invalid_tag_limits_are_refused(fields: dict[str, object]) -> None:
    """An empty key, a negative limit, or a value on a per-value limit is refused."""
    with pytest.raises(ValidationError):
        TagConcurrencyLimit.model_validate(fields)


def test_negative_max_concurrent_runs_is_refused() -> None:
    """max_concurrent_runs below zero is refused; None means unlimited."""
    with pytest.raises(ValidationError):
        RunQueueConfig(max_concurrent_runs=-1)
    assert RunQueueConfig().max_concurrent_runs is None


def test_pick_skips_held_back_runs_and_stops_at_the_global_limit() -> None:
    """Held-back runs are skipped, later ones taken, until the global limit is reached."""
    config = RunQueueConfig(
        max_concurrent_runs=4,
        tag_concurrency_limits=(TagConcurrencyLimit(key="db", limit=1, per_value=True),),
    )
    active = [{"db": "x"}]
    candidates = [row("1", db="x"), row("2", db="y"), row("3", db="y"), row("4"), row("5")]
    assert pick_runs(candidates, active, config, limit=10) == (["2", "4", "5"], True)
    assert pick_runs(candidates, active, config, limit=1) == (["2"], True)
    assert pick_runs(candidates[:3], active, config, limit=10) == (["2"], False)


def test_priority_tag_sets_priority_only_when_not_given() -> None:
    """An explicit priority wins over the tag; without either it is 0."""
    base = {"run_id": "r", "location_id": "l", "status": RunStatus.QUEUED, "created_at": 1.0}
    tagged = {**base, "tags": {"rivers/priority": "3"}}
    assert RunRecord.model_validate(tagged).priority == 3
    assert RunRecord.model_validate({**tagged, "priority": 1}).priority == 1
    assert RunRecord.model_validate({**base, "priority": None}).priority == 0


def test_v5_store_migrates_to_v6(tmp_path: Path) -> None:
    """A store at schema v5 with a queued run migrates to v6; the run gets priority 0."""
    conn = Storage.embedded(tmp_path)._connect()  # the engine alone, no migration applied
    try:
        for migration in MIGRATIONS[:5]:
            conn.query(f"BEGIN;\n{migration}\nCOMMIT;")
        conn.query(
            "UPSERT meta:schema SET version = 5; CREATE run:old SET run_id = 'old', "
            "location_id = 'loc', status = 'QUEUED', created_at = 1.0;"
        )
    finally:
        conn.close()
    with Storage.embedded(tmp_path) as store:
        assert store.schema_version() == SCHEMA_VERSION == 6
        run = store.get_run("old")
        assert run is not None
        assert (run.priority, run.run_key) == (0, None)
        assert [r.run_id for r in store.claim_queued_runs("loc", limit=1)] == ["old"]


def test_a_store_is_used_only_once_migrated() -> None:
    """Threads racing to open a fresh store never query it before its schema is complete."""
    for _ in range(3):
        storage = Storage.memory()
        errors: list[BaseException] = []

        def use(store: Storage = storage, errors: list[BaseException] = errors) -> None:
            try:
                assert store.schema_version() == SCHEMA_VERSION
            except BaseException as exc:  # collected for the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=use) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        storage.close()
        assert errors == []
