"""Inline materialization: results, stored runs and events, failures, config, selection."""

from __future__ import annotations

import logging

import pytest
from pydantic import BaseModel
from pydantic_settings import BaseSettings

import rivers as rs
from tests.fixtures.code_locations import failing


def _diamond() -> list[rs.Asset]:
    @rs.Asset(group="raw")
    def a() -> int:
        return 1

    @rs.Asset
    def b(a: int) -> int:
        return a + 1

    @rs.Asset
    def c(a: int) -> int:
        return a + 2

    @rs.Asset(group="out")
    def d(b: int, c: int) -> int:
        return b + c

    return [a, b, c, d]


def test_result_exposes_outputs_events_and_materializations(make_repo):
    """materialize() returns success, run id, outputs, ordered events and materializations."""
    repo = make_repo(*_diamond())
    result = repo.materialize()
    assert result.success
    assert result.output_for("d") == 5
    assert result.output_for("b") == 2
    assert sorted(result.materialized_keys) == ["a", "b", "c", "d"]
    kinds = [e.kind for e in result.events]
    assert kinds[0] is rs.EventKind.RUN_STARTED
    assert kinds[-1] is rs.EventKind.RUN_SUCCESS
    seqs = [e.seq for e in result.events]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


def test_run_and_events_are_stored(make_repo):
    """The run record (status, timings, tags) and every event are in storage afterwards."""
    repo = make_repo(*_diamond())
    result = repo.materialize(tags={"owner": "data-team"})
    run = repo.storage.get_run(result.run_id)
    assert run is not None
    assert run.status is rs.RunStatus.SUCCESS
    assert run.tags == {"owner": "data-team"}
    assert run.start_time is not None and run.end_time is not None
    assert run.end_time >= run.start_time
    assert run.asset_keys == ("a", "b", "c", "d")
    assert repo.storage.get_run_events(result.run_id) == result.events
    records = repo.storage.get_asset_records(repo.location_id())
    assert {r.asset_key for r in records} == {"a", "b", "c", "d"}


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        ("a", {"a"}),
        (["b"], {"b"}),
        ("+d", {"b", "c", "d"}),
        ("*d", {"a", "b", "c", "d"}),
        ("a+", {"a", "b", "c"}),
        ("b*", {"b", "d"}),
        ("group:raw", {"a"}),
    ],
)
def test_selection_limits_what_runs(make_repo, selection, expected):
    """Keys, groups and +/* forms select exactly the expected assets."""
    repo = make_repo(*_diamond())
    repo.materialize()  # upstream values exist for partial selections
    result = repo.materialize(selection)
    assert set(result.materialized_keys) == expected


def test_selection_accepts_asset_objects(make_repo):
    """Asset objects can be passed as the selection."""
    assets = _diamond()
    repo = make_repo(*assets)
    result = repo.materialize([assets[0], assets[1]])
    assert result.materialized_keys == ["a", "b"]


def test_failure_fails_run_skips_downstream_keeps_the_rest(make_repo):
    """A raising asset fails the run, skips its downstream, and keeps what succeeded."""
    repo = make_repo(failing.source, failing.broken, failing.after_broken, failing.healthy)
    result = repo.materialize()
    assert not result.success
    assert result.skipped == ["after_broken"]
    assert sorted(result.materialized_keys) == ["healthy", "source"]
    assert result.output_for("healthy") == 2
    (failure,) = result.failures
    assert failure.error is not None
    assert failure.error.error_type == "ValueError"
    assert failure.error.message == "cannot handle 1"
    # The stored traceback is the user's: it starts in their module, not inside rivers.
    assert "failing.py" in failure.error.traceback
    assert 'raise ValueError(f"cannot handle {source}")' in failure.error.traceback
    assert "rivers/execution" not in failure.error.traceback
    run = repo.storage.get_run(result.run_id)
    assert run is not None and run.status is rs.RunStatus.FAILURE
    assert run.failure_reason is not None and "broken" in run.failure_reason
    stored = repo.storage.get_run_events(result.run_id, kinds=[rs.EventKind.STEP_FAILURE])
    assert stored[0].error == failure.error
    records = {r.asset_key for r in repo.storage.get_asset_records(repo.location_id())}
    assert records == {"source", "healthy"}
    with pytest.raises(LookupError):
        result.output_for("broken")


class Threshold(BaseModel):
    min_value: float = 0.0


@rs.Asset
def values() -> list[int]:
    return list(range(10))


@rs.Asset
def filtered(context: rs.AssetExecutionContext[Threshold], values: list[int]) -> list[int]:
    return [v for v in values if v >= context.config.min_value]


def test_config_is_validated_and_passed(make_repo):
    """Run config reaches context.config as the annotated pydantic type."""
    repo = make_repo(values, filtered)
    result = repo.materialize(config={"filtered": {"min_value": 7}})
    assert result.output_for("filtered") == [7, 8, 9]
    assert repo.materialize().output_for("filtered") == list(range(10))


def test_config_instance_is_accepted(make_repo):
    """A config model instance can be passed instead of a dict."""
    repo = make_repo(values, filtered)
    result = repo.materialize(config={"filtered": Threshold(min_value=9)})
    assert result.output_for("filtered") == [9]


@pytest.mark.parametrize(
    ("config", "fragments"),
    [
        ({"filtered": {"min_value": "abc"}}, ["'filtered'", "'min_value'", "abc"]),
        ({"nope": {}}, ["'nope'", "not an asset selected"]),
        ({"values": {"x": 1}}, ["'values'", "takes no config"]),
        ({"filtered": 3}, ["'filtered'", "mapping"]),
    ],
)
def test_invalid_config_is_rejected_before_anything_runs(make_repo, config, fragments):
    """Bad run config raises RunConfigError naming asset and field; nothing is run or stored."""
    repo = make_repo(values, filtered)
    with pytest.raises(rs.RunConfigError) as info:
        repo.materialize(config=config)
    for fragment in fragments:
        assert fragment in str(info.value)
    assert repo.storage.get_runs() == []


class EnvConfig(BaseSettings):
    greeting: str = "hello"


def test_basesettings_config_reads_environment(make_repo, monkeypatch):
    """A BaseSettings config takes values from the environment, overridable by run config."""

    @rs.Asset
    def greet(context: rs.AssetExecutionContext[EnvConfig]) -> str:
        return context.config.greeting

    monkeypatch.setenv("GREETING", "bonjour")
    repo = make_repo(greet)
    assert repo.materialize().output_for("greet") == "bonjour"
    assert repo.materialize(config={"greet": {"greeting": "hi"}}).output_for("greet") == "hi"


def test_missing_required_config_field_is_named(make_repo):
    """A required config field with no value is reported by name before the run."""

    class Required(BaseModel):
        table: str

    @rs.Asset
    def needs(context: rs.AssetExecutionContext[Required]) -> str:
        return context.config.table

    repo = make_repo(needs)
    with pytest.raises(rs.RunConfigError, match="'table'"):
        repo.materialize()


def test_context_exposes_run_details(make_repo):
    """The context carries run id, asset key, a logger under 'rivers', and output selection."""
    seen = {}

    @rs.Asset(key_prefix="shop")
    def inspect_me(context: rs.AssetExecutionContext) -> int:
        seen["run_id"] = context.run_id
        seen["asset_key"] = context.asset_key
        seen["log"] = context.log
        seen["selection"] = context.output_selection
        seen["config"] = context.config
        return 1

    repo = make_repo(inspect_me)
    result = repo.materialize()
    assert seen["run_id"] == result.run_id
    assert seen["asset_key"] == "shop/inspect_me"
    assert isinstance(seen["log"], logging.Logger)
    assert seen["log"].name.startswith("rivers.")
    assert seen["selection"] == frozenset({"shop/inspect_me"})
    assert seen["config"] is None


def test_unselected_upstream_that_was_never_materialized_is_a_clear_error(make_repo):
    """Running a downstream alone without its upstream value names the missing upstream."""
    repo = make_repo(*_diamond())
    result = repo.materialize("b")
    assert not result.success
    (failure,) = result.failures
    assert failure.error is not None
    assert "'a'" in failure.error.message
    assert "not part of this run" in failure.error.message


def test_async_asset_runs_in_process(make_repo):
    """An async def asset is awaited by the in-process executor."""
    import asyncio

    @rs.Asset
    async def fetched() -> int:
        await asyncio.sleep(0)
        return 41

    @rs.Asset
    def plus_one(fetched: int) -> int:
        return fetched + 1

    repo = make_repo(fetched, plus_one)
    assert repo.materialize().output_for("plus_one") == 42


def test_tags_must_be_strings(make_repo):
    """Non-string run tags are refused up front."""
    repo = make_repo(*_diamond())
    with pytest.raises(rs.RiversError, match="tags"):
        repo.materialize(tags={"n": 1})  # type: ignore[dict-item]


def test_unknown_selection_is_a_selection_error(make_repo):
    """Selecting an unknown key raises SelectionError before a run is created."""
    repo = make_repo(*_diamond())
    with pytest.raises(rs.SelectionError, match="'zzz'"):
        repo.materialize("zzz")
    assert repo.storage.get_runs() == []


def test_async_asset_runs_when_the_caller_has_a_running_loop(make_repo):
    """materialize() from inside a running event loop (a notebook) still awaits async assets."""
    import asyncio

    @rs.Asset
    async def fetched() -> int:
        await asyncio.sleep(0)
        return 7

    repo = make_repo(fetched)

    async def caller() -> int:
        return repo.materialize().output_for("fetched")

    assert asyncio.run(caller()) == 7
