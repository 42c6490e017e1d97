"""Execution plans: which steps run, in which order, waiting on which others.

Plans are deterministic (same snapshot and selection, same plan) and cached by
(snapshot id, selection).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from rivers._gc import gc_paused
from rivers.definitions.snapshot import AssetSnap, DefinitionsSnapshot
from rivers.errors import SelectionError
from rivers.planning.graph import AssetGraph
from rivers.planning.selection import normalize_selection, resolve_selection

if TYPE_CHECKING:
    from rivers._proto.rivers.v1 import plan_pb2

__all__ = ["ExecutionPlan", "PlanStep", "build_plan", "clear_plan_cache"]

_FROZEN = ConfigDict(frozen=True, extra="forbid", defer_build=True)
_CACHE_SIZE = 256


@dataclass(frozen=True, slots=True)
class PlanStep:
    """One unit of execution: the assets it materializes and the steps it waits for.

    A plain frozen dataclass rather than a pydantic model: plans of thousands of steps are
    built on the planning hot path, where per-object validation would dominate.
    """

    key: str
    asset_keys: tuple[str, ...]
    upstream: tuple[str, ...] = ()
    is_async: bool = False
    executor: str | None = None
    pools: tuple[str, ...] = ()
    pool_slots: int = 1
    # Graph assets: each task is a step ("node"; "map" for a fan-out), ``graph`` the asset
    # and ``node`` the task; only the output node's step lists the asset in ``asset_keys``.
    kind: str = "asset"
    graph: str | None = None
    node: str | None = None
    # Upstream map steps consumed as a stream: this step may start on their first result.
    streams: tuple[str, ...] = ()
    max_concurrency: int | None = None


class ExecutionPlan(BaseModel):
    """The steps of one run in a topological order."""

    model_config = _FROZEN

    snapshot_id: str
    selection: tuple[str, ...]
    asset_keys: tuple[str, ...]
    steps: tuple[PlanStep, ...]

    def to_proto(self) -> plan_pb2.ExecutionPlan:
        """Convert to the wire message."""
        from rivers._convert.plan import plan_to_proto

        return plan_to_proto(self)

    @staticmethod
    def from_proto(msg: plan_pb2.ExecutionPlan) -> ExecutionPlan:
        """Build from the wire message."""
        from rivers._convert.plan import plan_from_proto

        return plan_from_proto(msg)


_cache: OrderedDict[tuple[str, tuple[str, ...]], ExecutionPlan] = OrderedDict()
_lock = threading.Lock()


def clear_plan_cache() -> None:
    """Forget cached plans (tests and benchmarks measure cold planning with it)."""
    with _lock:
        _cache.clear()
    with AssetGraph._lock:
        AssetGraph._cache.clear()


def build_plan(
    snapshot: DefinitionsSnapshot, selection: str | Iterable[object] | None = None
) -> ExecutionPlan:
    """Plan materializing ``selection`` (default: every asset) of ``snapshot``.

    Raises:
        SelectionError: the selection names nothing, or explicitly names external assets only.
    """
    normalized = normalize_selection(selection)
    cache_key = (snapshot.snapshot_id, normalized)
    with _lock:
        plan = _cache.get(cache_key)
        if plan is not None:
            _cache.move_to_end(cache_key)
            return plan
    with gc_paused():
        plan = _plan(snapshot, normalized)
    with _lock:
        _cache[cache_key] = plan
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return plan


def _plan(snapshot: DefinitionsSnapshot, selection: tuple[str, ...]) -> ExecutionPlan:
    graph = AssetGraph.of(snapshot)
    if selection == ("*",):
        ordered = [k for k in graph.order if k not in graph.external]
    else:
        chosen = resolve_selection(graph, selection) - graph.external
        ordered = sorted(chosen, key=graph.position.__getitem__)
    if not ordered:
        raise SelectionError(
            f"selection {list(selection)} contains only external assets, which rivers never runs"
        )
    assets = snapshot.assets_by_key
    step_of = {k: assets[k].step_key for k in ordered}
    members: dict[str, list[str]] = {}
    upstream: dict[str, set[str]] = {}
    parents = graph.parents
    for key in ordered:
        step = step_of[key]
        members.setdefault(step, []).append(key)
        ups = upstream.setdefault(step, set())
        for parent in parents[key]:
            parent_step = step_of.get(parent)
            if parent_step is not None and parent_step != step:
                ups.add(parent_step)
    steps: list[PlanStep] = []
    for step, keys in members.items():
        first = assets[keys[0]]
        ups = upstream[step]
        if first.graph is not None:
            steps.extend(_graph_steps(first, step_of))
            continue
        steps.append(
            PlanStep(
                step,
                tuple(keys),
                tuple(sorted(ups)) if len(ups) > 1 else tuple(ups),
                first.is_async,
                first.executor,
                first.pools,
                first.pool_slots,
            )
        )
    return ExecutionPlan.model_construct(
        snapshot_id=snapshot.snapshot_id,
        selection=selection,
        asset_keys=tuple(ordered),
        steps=tuple(steps),
    )


def _graph_steps(asset: AssetSnap, step_of: dict[str, str]) -> list[PlanStep]:
    """One step per task of a graph asset, wired to each other and to outer asset steps."""
    assert asset.graph is not None
    out = []
    for node in asset.graph.nodes:
        ups = {f"{asset.key}.{u}" for u in node.upstream}
        ups.update(step_of[k] for k in node.assets if k in step_of)
        out.append(
            PlanStep(
                f"{asset.key}.{node.node_id}",
                (asset.key,) if node.node_id == asset.graph.output else (),
                tuple(sorted(ups)),
                node.is_async,
                node.executor or asset.executor,
                asset.pools,
                asset.pool_slots,
                kind="map" if node.kind == "map" else "node",
                graph=asset.key,
                node=node.node_id,
                streams=tuple(f"{asset.key}.{s}" for s in node.streams),
                max_concurrency=node.max_concurrency,
            )
        )
    return out
