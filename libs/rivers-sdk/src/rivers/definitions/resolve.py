"""Resolving a set of assets into a consistent whole: keys, inputs, and the snapshot.

Runs when a ``CodeRepository`` is built, so every problem is reported at definition time with
the asset's name: duplicate keys, unknown dependencies, parameters matching no asset, cycles.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import BaseModel

from rivers.definitions.asset import Asset
from rivers.definitions.keys import key_name
from rivers.definitions.metadata import MetadataValue
from rivers.definitions.multi import MultiAsset
from rivers.definitions.snapshot import DefinitionsSnapshot, JobSnap
from rivers.errors import DefinitionError

__all__ = ["Resolution", "ResolvedInput", "flatten_assets", "resolve"]


@dataclass(frozen=True, slots=True)
class ResolvedInput:
    """An input of one asset, bound to the upstream asset key it loads."""

    arg_name: str
    asset_key: str
    has_own_param: bool
    io_handler: Any
    metadata: dict[str, MetadataValue]
    partition_mapping: Any


@dataclass(frozen=True, slots=True)
class Resolution:
    """The resolved assets of a repository."""

    assets: dict[str, Asset]
    inputs: dict[str, tuple[ResolvedInput, ...]]
    snapshot: DefinitionsSnapshot


def flatten_assets(items: Iterable[Any]) -> list[Asset]:
    """Accept assets and (nested) lists of assets; reject anything else by name."""
    out: list[Asset] = []
    stack = [iter(items)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, Asset):
                out.append(item)
            elif isinstance(item, MultiAsset):
                out.extend(item.outputs)
            elif isinstance(item, list | tuple):
                stack.append(iter(item))
                break
            else:
                raise DefinitionError(
                    f"assets= takes rs.Asset definitions (or lists of them), got {item!r}; "
                    "did you forget the @rs.Asset decorator?"
                )
        else:
            stack.pop()
    return out


def _origin(asset: Asset) -> str:
    fn = asset.fn
    if fn is None:
        return "external"
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', '?')}"


class _Index:
    def __init__(self, assets: Sequence[Asset]) -> None:
        self.by_key: dict[str, Asset] = {}
        self.by_name: dict[str, list[str]] = {}
        for a in assets:
            prior = self.by_key.get(a.key)
            if prior is not None and prior is not a:
                raise DefinitionError(
                    f"duplicate asset key {a.key!r}: defined by {_origin(prior)} and {_origin(a)}"
                )
            self.by_key[a.key] = a
        for k in self.by_key:
            self.by_name.setdefault(key_name(k), []).append(k)

    def lookup(self, ref: str, owner: str) -> list[str]:
        # The owner's own prefix wins over the top level: `shop/summary(orders)` means
        # `shop/orders` when it exists, the nearest definition, as names resolve in code.
        prefix = owner.rpartition("/")[0]
        if prefix and f"{prefix}/{ref}" in self.by_key:
            return [f"{prefix}/{ref}"]
        if ref in self.by_key:
            return [ref]
        if "/" in ref:
            return []
        return sorted(self.by_name.get(ref, []))

    def suggest(self, ref: str) -> str:
        close = difflib.get_close_matches(ref, list(self.by_key), n=3)
        return f" (did you mean {', '.join(map(repr, close))}?)" if close else ""


def _one(index: _Index, ref: str, owner: str, what: str) -> str | None:
    found = index.lookup(ref, owner)
    if len(found) > 1:
        raise DefinitionError(
            f"asset {owner!r}: {what} {ref!r} is ambiguous, it matches {found}; "
            "declare it with rs.AssetDef.input('<full key>')"
        )
    return found[0] if found else None


def _resolve_inputs(asset: Asset, index: _Index) -> tuple[ResolvedInput, ...]:
    out: list[ResolvedInput] = []
    for spec in asset.spec.inputs:
        what = "declared input" if spec.declared else "parameter"
        key = _one(index, spec.ref, asset.key, what)
        if key is None:
            if spec.optional:
                continue  # a defaulted parameter matching no asset keeps its default
            if spec.declared:
                raise DefinitionError(
                    f"asset {asset.key!r} depends on {spec.ref!r}, which is not defined in this "
                    f"repository{index.suggest(spec.ref)}"
                )
            raise DefinitionError(
                f"asset {asset.key!r}: parameter {spec.ref!r} matches no asset"
                f"{index.suggest(spec.ref)}; rename it, give it a default, or declare the "
                "input with rs.AssetDef.input(...)"
            )
        if key == asset.key:
            raise DefinitionError(
                f"asset {asset.key!r} depends on itself through {spec.arg_name!r}; read the "
                "previous value with a parameter annotated rs.SelfDependency[T] instead"
            )
        out.append(
            ResolvedInput(
                arg_name=spec.arg_name,
                asset_key=key,
                has_own_param=spec.has_own_param,
                io_handler=spec.io_handler,
                metadata=dict(spec.metadata or {}),
                partition_mapping=_effective_mapping(
                    asset, index.by_key[key], spec.partition_mapping
                ),
            )
        )
    return tuple(out)


def _effective_mapping(downstream: Asset, upstream: Asset, explicit: Any) -> Any:
    """The partition mapping of one edge: the explicit one (checked) or the default."""
    down_def, up_def = downstream.partitions_def, upstream.partitions_def
    if explicit is None and (down_def is None or up_def is None):
        return None if up_def is None else _default_mapping(downstream, upstream)
    from rivers.partitions import PartitionError, PartitionMapping

    if explicit is None:
        return _default_mapping(downstream, upstream)
    if not isinstance(explicit, PartitionMapping):
        raise DefinitionError(
            f"asset {downstream.key!r}: partition_mapping for {upstream.key!r} must be an "
            f"rs.PartitionMapping, not {explicit!r}"
        )
    if up_def is None:
        raise DefinitionError(
            f"asset {downstream.key!r}: partition_mapping given for {upstream.key!r}, which is "
            "not partitioned"
        )
    try:
        explicit.validate(up_def, down_def)
    except PartitionError as exc:
        raise DefinitionError(
            f"asset {downstream.key!r}: partition_mapping for {upstream.key!r}: {exc}"
        ) from None
    return explicit


def _default_mapping(downstream: Asset, upstream: Asset) -> Any:
    from rivers.partitions import PartitionError, default_partition_mapping

    try:
        return default_partition_mapping(upstream.partitions_def, downstream.partitions_def)
    except PartitionError as exc:
        raise DefinitionError(
            f"asset {downstream.key!r} depends on {upstream.key!r} but their partitions do not "
            f"line up by default ({exc}); pass rs.AssetDef.input({upstream.key!r}, "
            "partition_mapping=rs.PartitionMapping...)"
        ) from None


def _resolve_deps(
    asset: Asset, index: _Index, inputs: tuple[ResolvedInput, ...]
) -> list[tuple[str, Any]]:
    seen = {i.asset_key for i in inputs}
    out: list[tuple[str, Any]] = []
    for dep in asset.spec.deps:
        key = _one(index, dep.key, asset.key, "dependency")
        if key is None:
            raise DefinitionError(
                f"asset {asset.key!r} depends on {dep.key!r}, which is not defined in this "
                f"repository{index.suggest(dep.key)}"
            )
        if key == asset.key:
            raise DefinitionError(f"asset {asset.key!r} lists itself in deps=")
        if key not in seen:
            seen.add(key)
            out.append((key, _effective_mapping(asset, index.by_key[key], dep.partition_mapping)))
    return out


@cache
def _config_schema(config_type: type[BaseModel]) -> dict[str, Any]:
    return config_type.model_json_schema()


def _snap(
    asset: Asset, inputs: tuple[ResolvedInput, ...], deps: list[tuple[str, Any]]
) -> dict[str, Any]:
    # Plain dicts: the whole snapshot is validated in one pydantic-core call (much faster
    # than building thousands of nested models one by one from Python).
    dependencies: list[dict[str, Any]] = [
        {
            "asset_key": i.asset_key,
            "role": "input",
            "arg_name": i.arg_name,
            "metadata": i.metadata,
            "partition_mapping": i.partition_mapping,
        }
        for i in inputs
    ]
    dependencies.extend(
        {"asset_key": k, "role": "dep", "partition_mapping": mapping} for k, mapping in deps
    )
    spec = asset.spec
    return {
        "key": asset.key,
        "kind": asset.kind,
        "step_key": _step_key(asset),
        "group": asset.group,
        "description": asset.description,
        "dependencies": dependencies,
        "code_version": asset.code_version,
        "tags": asset.tags,
        "metadata": asset.metadata,
        "is_async": spec.is_async,
        "has_self_dependency": spec.self_param is not None,
        "config_schema": _config_schema(spec.config_type) if spec.config_type else None,
        "retry_policy": asset.retry_policy,
        "executor": asset.executor_override,
        "partitions_def": asset.partitions_def,
        "backfill_strategy": asset.backfill_strategy,
        "pools": asset.pools,
        "pool_slots": asset.pool_slots,
        "graph": _graph_snap(asset, inputs),
        "automation_condition": asset.automation_condition,
    }


def _step_key(asset: Asset) -> str:
    if asset.graph is not None:
        return graph_step_key(asset.key, asset.graph.output)
    return asset.step_key


def graph_step_key(asset_key: str, node_id: str) -> str:
    """The plan step of one node of a graph asset."""
    return f"{asset_key}.{node_id}"


def _graph_snap(asset: Asset, inputs: tuple[ResolvedInput, ...]) -> dict[str, Any] | None:
    graph = asset.graph
    if graph is None:
        return None
    keys = {i.arg_name: i.asset_key for i in inputs}
    nodes = []
    for node in graph.nodes:
        task = node.task
        nodes.append(
            {
                "node_id": node.node_id,
                "task": task.name,
                "kind": node.kind,
                "upstream": tuple(dict.fromkeys(node.upstream_nodes)),
                "streams": tuple(b.ref for b in node.bindings if b.kind == "stream"),
                "assets": tuple(dict.fromkeys(keys[r] for r in node.outer_assets)),
                "is_async": task.is_async,
                "executor": task.executor_override,
                "max_concurrency": node.max_concurrency,
            }
        )
    return {"nodes": nodes, "output": graph.output}


def resolve(assets: Sequence[Asset], *, location: str, jobs: Sequence[JobSnap] = ()) -> Resolution:
    """Resolve ``assets`` and build the location's snapshot.

    Raises:
        DefinitionError: duplicate keys, unknown dependencies, unmatched parameters, or a cycle.
    """
    from rivers.planning.graph import AssetGraph

    index = _Index(assets)
    inputs: dict[str, tuple[ResolvedInput, ...]] = {}
    snaps: list[dict[str, Any]] = []
    for key in sorted(index.by_key):
        asset = index.by_key[key]
        resolved = _resolve_inputs(asset, index)
        inputs[key] = resolved
        snaps.append(_snap(asset, resolved, _resolve_deps(asset, index, resolved)))
    snapshot = DefinitionsSnapshot.model_validate(
        {"location": location, "assets": snaps, "jobs": list(jobs)}
    )
    AssetGraph.of(snapshot)  # raises DefinitionError on a cycle
    return Resolution(assets=index.by_key, inputs=inputs, snapshot=snapshot)
