"""The definitions snapshot: content-hash id, dependency roles, config schema, asset fields."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pydantic
import pytest
from pydantic import BaseModel

import rivers as rs
from rivers.definitions.snapshot import DefinitionsSnapshot
from tests.fixtures.code_locations import basic


class WindowConfig(BaseModel):
    days: int = 7
    label: str


def _pipeline(
    *,
    report_deps: list[Any] | None = None,
    metadata: dict[str, Any] | None = None,
    code_version: str | None = "1",
    reverse: bool = False,
) -> list[rs.Asset]:
    """Fresh definitions of a small pipeline; keyword arguments vary one thing each."""

    @rs.Asset
    def raw() -> int:
        return 1

    @rs.Asset
    def other() -> int:
        return 2

    @rs.Asset(metadata=metadata or {"owner": "data"}, code_version=code_version)
    def clean(raw: int) -> int:
        return raw

    @rs.Asset(deps=report_deps or [])
    def report(clean: int) -> int:
        return clean

    assets = [raw, other, clean, report]
    return assets[::-1] if reverse else assets


def _snapshot(assets: list[rs.Asset], name: str = "snap") -> DefinitionsSnapshot:
    return rs.CodeRepository(name=name, assets=assets).snapshot


# --- snapshot id ----------------------------------------------------------------------------


def test_snapshot_id_is_stable_across_identical_repositories():
    """Separately built repositories of the same definitions (any order) share the id."""
    first = _snapshot(_pipeline())
    second = _snapshot(_pipeline(reverse=True))
    assert first is not second
    assert first == second
    assert first.snapshot_id == second.snapshot_id
    assert len(first.snapshot_id) == 24
    assert [a.key for a in second.assets] == ["clean", "other", "raw", "report"]


@pytest.mark.parametrize(
    "change",
    [
        {"report_deps": ["other"]},
        {"metadata": {"owner": "bi"}},
        {"metadata": {"owner": "data", "rows": 3}},
        {"code_version": "2"},
        {"code_version": None},
    ],
    ids=["dependency", "metadata-value", "metadata-key", "code-version", "no-code-version"],
)
def test_snapshot_id_changes_with_the_definitions(change):
    """A new dependency, metadata or code_version gives a different snapshot id."""
    assert _snapshot(_pipeline(**change)).snapshot_id != _snapshot(_pipeline()).snapshot_id


def test_snapshot_id_ignores_the_order_of_tags_and_metadata():
    """Writing tags or metadata in another order gives the same snapshot id."""

    def fn() -> int:
        return 1

    first = rs.Asset(name="x", tags={"a": "1", "b": "2"}, metadata={"m": 1, "n": 2})(fn)
    second = rs.Asset(name="x", tags={"b": "2", "a": "1"}, metadata={"n": 2, "m": 1})(fn)
    assert _snapshot([first]).snapshot_id == _snapshot([second]).snapshot_id


def test_snapshot_id_includes_the_location_name():
    """The same assets under another location name are a different snapshot."""
    assert _snapshot(_pipeline(), "a").snapshot_id != _snapshot(_pipeline(), "b").snapshot_id


def test_snapshot_id_is_stable_across_processes():
    """A fresh interpreter with another hash seed computes the same id for the same module."""
    code = "from tests.fixtures.code_locations import basic; print(basic.repo.snapshot.snapshot_id)"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == basic.repo.snapshot.snapshot_id


def test_snapshot_is_frozen():
    """Snapshots are immutable pydantic models."""
    snapshot = _snapshot(_pipeline())
    with pytest.raises(pydantic.ValidationError):
        snapshot.location = "other"  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        snapshot.assets[0].key = "other"  # type: ignore[misc]


# --- dependencies ---------------------------------------------------------------------------


def test_dependency_roles_distinguish_inputs_from_deps():
    """Loaded upstreams are role 'input' with their argument; ordering-only ones are 'dep'."""

    @rs.Asset
    def source() -> int:
        return 1

    @rs.Asset
    def trigger() -> int:
        return 1

    @rs.Asset(
        deps=[rs.AssetDef.input("source", metadata={"why": "load"}), rs.AssetDef.dep("trigger")]
    )
    def target(source: int) -> int:
        return source

    snap = _snapshot([source, trigger, target]).assets_by_key["target"]
    roles = [(d.asset_key, d.role, d.arg_name) for d in snap.dependencies]
    assert roles == [("source", "input", "source"), ("trigger", "dep", None)]
    assert snap.dependencies[0].metadata == {"why": rs.MetadataValue.text("load")}
    assert snap.upstream_keys == ("source", "trigger")


def test_kwargs_input_is_recorded_with_its_argument_name():
    """A declared input fed to **kwargs is still an 'input' edge named by the key's last part."""

    @rs.Asset(key_prefix="shop")
    def orders() -> int:
        return 1

    @rs.Asset(deps=[rs.AssetDef.input("shop/orders")])
    def merged(**kwargs: int) -> int:
        return sum(kwargs.values())

    snap = _snapshot([orders, merged]).assets_by_key["merged"]
    assert [(d.asset_key, d.role, d.arg_name) for d in snap.dependencies] == [
        ("shop/orders", "input", "orders")
    ]


@pytest.mark.parametrize("dep", ["x", rs.AssetDef.dep("x")])
def test_dep_also_matched_by_a_parameter_is_one_input_edge(dep):
    """deps=['x'] plus a parameter x yields one edge, the input, not a duplicate dep."""

    @rs.Asset
    def x() -> int:
        return 1

    @rs.Asset(deps=[dep, "x"])
    def y(x: int) -> int:
        return x

    snap = _snapshot([x, y]).assets_by_key["y"]
    assert [(d.asset_key, d.role) for d in snap.dependencies] == [("x", "input")]


def test_repeated_deps_are_one_edge():
    """The same upstream listed as a key and as an asset object is one dep edge."""

    @rs.Asset
    def x() -> int:
        return 1

    @rs.Asset(deps=["x", x, rs.AssetDef("x")])
    def y() -> int:
        return 1

    snap = _snapshot([x, y]).assets_by_key["y"]
    assert [(d.asset_key, d.role) for d in snap.dependencies] == [("x", "dep")]


# --- asset fields ---------------------------------------------------------------------------


def test_config_schema_is_present_for_assets_with_config():
    """An asset with a config type carries its JSON schema; others carry None."""

    @rs.Asset
    def windowed(context: rs.AssetExecutionContext[WindowConfig]) -> int:
        return context.config.days

    @rs.Asset
    def plain(context: rs.AssetExecutionContext) -> int:
        return 1

    snapshot = _snapshot([windowed, plain])
    schema = snapshot.assets_by_key["windowed"].config_schema
    assert schema == WindowConfig.model_json_schema()
    assert schema is not None
    assert set(schema["properties"]) == {"days", "label"}
    assert schema["required"] == ["label"]
    assert snapshot.assets_by_key["plain"].config_schema is None


def test_asset_fields_are_copied_into_the_snapshot():
    """Group, tags, description, metadata, async, self-dependency, retry and executor are kept."""
    policy = rs.RetryPolicy(max_retries=3, delay=1.0)

    @rs.Asset(
        group="sales",
        tags={"team": "data"},
        retry_policy=policy,
        metadata={"rivers/executor": "in_process", "rows": 5},
    )
    async def totals(self: rs.SelfDependency[int]) -> int:
        """Running totals."""
        return 1

    snap = _snapshot([totals, rs.Asset.external("feed", group="raw")]).assets_by_key
    t = snap["totals"]
    assert (t.kind, t.step_key, t.group, t.tags) == ("asset", "totals", "sales", {"team": "data"})
    assert t.description == "Running totals."
    assert t.metadata["rows"] == rs.MetadataValue.int(5)
    assert t.is_async
    assert t.has_self_dependency
    assert t.dependencies == ()
    assert t.retry_policy == policy
    assert t.executor == "in_process"
    assert (snap["feed"].kind, snap["feed"].group) == ("external", "raw")


def test_jobs_are_recorded_with_normalized_selections():
    """Jobs appear in the snapshot with their sorted, deduplicated selection."""
    repo = rs.CodeRepository(
        name="snap",
        assets=_pipeline(),
        jobs=[rs.Job("nightly", ["report", "+clean", "report"], tags={"k": "v"})],
    )
    (job,) = repo.snapshot.jobs
    assert (job.name, job.selection, job.tags) == ("nightly", ("+clean", "report"), {"k": "v"})
