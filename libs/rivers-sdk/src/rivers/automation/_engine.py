"""The pure evaluation of automation conditions: snapshot + status + state -> requested keys.

Each asset's condition tree is evaluated over *sets* of partition keys (``KeySet``), narrowing
a candidate set as ``&`` goes: in ``eager()`` the first operand, ``in_latest_time_window()``,
leaves one key per asset and every later operand looks at that key only. Assets are evaluated
in dependency order so a dependency requested on this tick counts as updated
(``any_deps_updated``) and not missing (``any_deps_missing``) for its dependents, which then
join the same run. Nothing here reads storage: the caller passes the status it loaded.
"""

from __future__ import annotations

import hashlib
import math
from collections import deque
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

from rivers.automation._keyset import ALL, EMPTY, Key, KeySet
from rivers.automation._state import AssetConditionState, AssetStatus, AutomationState
from rivers.automation.condition import AutomationCondition, CronCondition, TimeWindowCondition
from rivers.partitions import (
    PartitionError,
    PartitionKeys,
    PartitionMapping,
    PartitionsDefinition,
    default_partition_mapping,
)

if TYPE_CHECKING:
    from rivers.automation._state import LocationStatus
    from rivers.definitions.snapshot import AssetSnap, DefinitionsSnapshot

__all__ = ["ConditionGraph", "evaluate_conditions", "latest_cron_tick"]

# Below this many candidate keys, dependency conditions map each candidate upstream; above
# it they map the (usually smaller) upstream facts downstream instead.
_PER_KEY_LIMIT = 64


@lru_cache(maxsize=4096)
def latest_cron_tick(cron: str, timezone: str, now: float) -> float:
    """POSIX time of the latest tick of ``cron`` (read in ``timezone``) at or before ``now``."""
    from zoneinfo import ZoneInfo

    from croniter import croniter  # imported here: `import rivers` must stay light

    from rivers.partitions.cron import parse_cron

    start = datetime.fromtimestamp(math.floor(now) + 1, ZoneInfo(timezone))
    return float(croniter(parse_cron(cron).expr, start, second_at_beginning=True).get_prev(float))


@lru_cache(maxsize=1024)
def _fingerprint_json(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def fingerprint(condition: AutomationCondition) -> str:
    """A short hash identifying a condition tree (a changed tree starts with fresh state)."""
    return _fingerprint_json(condition.model_dump_json())


@dataclass
class ConditionGraph:
    """What evaluation derives once per snapshot: dependency order, edges and fingerprints."""

    snapshot: DefinitionsSnapshot
    order: list[AssetSnap] = field(default_factory=list)
    deps: dict[str, list[tuple[AssetSnap, PartitionMapping | None]]] = field(default_factory=dict)
    fingerprints: dict[str, str] = field(default_factory=dict)
    uses: dict[str, frozenset[str]] = field(default_factory=dict)

    @staticmethod
    def of(snapshot: DefinitionsSnapshot) -> ConditionGraph:
        """Build the graph of ``snapshot`` (dependency order: upstream first)."""
        graph = ConditionGraph(snapshot)
        by_key = snapshot.assets_by_key
        indegree: dict[str, int] = {}
        downstream: dict[str, list[str]] = {}
        for asset in snapshot.assets:
            edges = [(by_key[d.asset_key], d.partition_mapping) for d in asset.dependencies]
            edges = [(up, m) for up, m in edges if up.key != asset.key]
            graph.deps[asset.key] = edges
            indegree[asset.key] = len(edges)
            for up, _ in edges:
                downstream.setdefault(up.key, []).append(asset.key)
            condition = asset.automation_condition
            if condition is not None:
                graph.fingerprints[asset.key] = fingerprint(condition)
                graph.uses[asset.key] = frozenset(_kinds(condition))
        ready = deque(sorted(k for k, n in indegree.items() if n == 0))
        while ready:
            key = ready.popleft()
            graph.order.append(by_key[key])
            for child in downstream.get(key, ()):
                indegree[child] -= 1
                if indegree[child] == 0:
                    ready.append(child)
        return graph

    @property
    def evaluated(self) -> Iterable[AssetSnap]:
        """Assets with a condition, upstream first (external assets are never requested)."""
        return (
            a for a in self.order if a.automation_condition is not None and a.kind != "external"
        )


def _kinds(condition: AutomationCondition) -> Iterable[str]:
    yield condition.node_kind
    for child in condition.operands():
        yield from _kinds(child)


class _Tick:
    """Values shared by every asset of one tick (key spaces are built once per definition)."""

    def __init__(
        self,
        graph: ConditionGraph,
        status: LocationStatus,
        now: float,
        partitions_store: object,
    ) -> None:
        self.graph = graph
        self.status = status
        self.now = now
        self.now_dt = datetime.fromtimestamp(now, UTC)
        self.store = partitions_store
        self.requested: dict[str, KeySet] = {}
        self._universes: dict[int, PartitionKeys] = {}
        self._windows: dict[tuple[int, float | None], KeySet] = {}

    def universe(self, definition: PartitionsDefinition) -> PartitionKeys:
        """Every key of ``definition`` at this tick (lazy)."""
        keys = self._universes.get(id(definition))
        if keys is None:
            keys = definition.get_partition_keys(self.store, now=self.now_dt)
            self._universes[id(definition)] = keys
        return keys

    def latest_window(self, definition: PartitionsDefinition, lookback: float | None) -> KeySet:
        """Keys in the latest complete time window (or within ``lookback`` seconds of its end).

        ``ALL`` for definitions without a time dimension.
        """
        cache_key = (id(definition), lookback)
        found = self._windows.get(cache_key)
        if found is None:
            found = self._windows[cache_key] = self._latest_window(definition, lookback)
        return found

    def _latest_window(self, definition: PartitionsDefinition, lookback: float | None) -> KeySet:
        if definition.kind == "time_window":
            time_def, dim = definition, None
        elif definition.kind == "multi" and definition.time_dimension is not None:
            dim = definition.time_dimension
            time_def = definition.dimensions[dim]
        else:
            return ALL
        times = self.universe(time_def)
        n = len(times)
        if not n:
            return EMPTY
        first = n - 1
        if lookback is not None:
            end = time_def.time_window_for_key(times[-1]).end
            try:
                position = times.position(time_def.key_for_time(end - timedelta(seconds=lookback)))
            except PartitionError:  # before the first window
                position = 0
            first = 0 if position is None else min(position, n - 1)
        if dim is None:
            return KeySet(frozenset(times[first:]))
        universe = self.universe(definition)
        d = definition.dimension_names.index(dim)
        sels = [range(a.size) for a in universe.axes]
        sels[d] = range(first, n)
        return KeySet(frozenset(PartitionKeys.product(definition, universe.axes, sels)))


class _AssetEvaluation:
    """Evaluates one asset's condition tree over key sets."""

    def __init__(self, tick: _Tick, asset: AssetSnap, prior: AssetConditionState | None) -> None:
        self.tick = tick
        self.asset = asset
        self.status = tick.status.get(asset.key)
        self.prior = prior
        self.initial = prior is None
        self.nodes: dict[str, KeySet] = {}
        self.deps = tick.graph.deps.get(asset.key, [])

    # -- tree ----------------------------------------------------------------------------------

    def evaluate(self, node: AutomationCondition, path: str, cand: KeySet) -> KeySet:
        kind = node.node_kind
        children = node.operands()
        if kind == "and":
            for i, child in enumerate(children):
                cand = self.evaluate(child, f"{path}.{i}", cand)
            return cand
        if kind == "or":
            result = EMPTY
            for i, child in enumerate(children):
                result = result | self.evaluate(child, f"{path}.{i}", cand)
            return result
        if kind == "not":
            return cand - self.evaluate(children[0], f"{path}.0", cand)
        if kind == "since":
            trigger = self.evaluate(children[0], f"{path}.0", cand)
            reset = self.evaluate(children[1], f"{path}.1", cand)
            previous = EMPTY if self.prior is None else self.prior.node(path)
            return self._remember(path, ((previous & cand) | trigger) - reset)
        if kind == "newly_true":
            true = self._remember(path, self.evaluate(children[0], f"{path}.0", cand))
            previous = EMPTY if self.prior is None else self.prior.node(path)
            return true - previous
        if not cand:
            return EMPTY
        return self._leaf(node, kind, cand)

    def _remember(self, path: str, true: KeySet) -> KeySet:
        # Stored sets are clipped to the keys that exist now: "every key" must not include
        # partitions added later (they would never be newly true).
        if true.negated:
            true = KeySet(frozenset(self.requested_keys(true)))
        if true:
            self.nodes[path] = true.frozen()
        return true

    def _leaf(self, node: AutomationCondition, kind: str, cand: KeySet) -> KeySet:
        status = self.status
        if kind == "missing":
            return cand & KeySet(status.materialized.keys(), True)
        if kind == "newly_updated":
            return cand & KeySet(status.updated)
        if kind == "in_progress":
            if None in status.in_progress:  # the whole asset (every partition)
                return cand
            return cand & KeySet(status.in_progress)
        if kind == "execution_failed":
            return cand & KeySet(status.failed)
        if kind == "newly_requested":
            return EMPTY if self.prior is None else cand & KeySet(self.prior.requested)
        if kind == "initial_evaluation":
            return cand if self.initial else EMPTY
        if isinstance(node, TimeWindowCondition):
            definition = self.asset.partitions_def
            if definition is None:
                return cand
            return cand & self.tick.latest_window(definition, node.lookback_seconds)
        if isinstance(node, CronCondition):
            tick_time = latest_cron_tick(node.cron, node.timezone, self.tick.now)
            if node.kind == "cron_tick_passed":
                if self.prior is None or tick_time <= self.prior.evaluated_at:
                    return EMPTY
                return cand
            return self._all_deps_updated_since(tick_time, cand)
        if kind == "any_deps_updated":
            return cand & self._any_dep(lambda s: s.updated, with_requested=True)
        if kind == "any_deps_in_progress":
            return cand & self._any_dep(lambda s: s.in_progress, with_requested=False)
        if kind == "any_deps_missing":
            return self._any_deps_missing(cand)
        raise ValueError(f"unknown automation condition kind {kind!r}")

    # -- dependencies --------------------------------------------------------------------------

    def _any_dep(self, facts: Callable[[AssetStatus], set[Key]], *, with_requested: bool) -> KeySet:
        result = EMPTY
        for up, mapping in self.deps:
            keys: Collection[Key] = facts(self.tick.status.get(up.key))
            if with_requested:
                requested = self.tick.requested.get(up.key)
                if requested:
                    keys = set(keys) | set(requested.keys)
            if keys:
                result = result | self._map_down(up, mapping, keys)
        return result

    def _any_deps_missing(self, cand: KeySet) -> KeySet:
        result = EMPTY
        for up, mapping in self.deps:
            materialized = self.tick.status.get(up.key).materialized
            requested = self.tick.requested.get(up.key, EMPTY)

            def missing(
                key: Key, mat: dict[Key, float] = materialized, req: KeySet = requested
            ) -> bool:
                return key not in mat and key not in req

            if cand.is_finite and len(cand.keys) <= _PER_KEY_LIMIT:
                hits = {
                    d
                    for d in cand.keys
                    if d not in result and any(map(missing, self._map_up(up, mapping, d)))
                }
                result = result | KeySet(hits)
            else:
                upstream: Iterable[Key] = (
                    (None,) if up.partitions_def is None else self.tick.universe(up.partitions_def)
                )
                result = result | self._map_down(up, mapping, [k for k in upstream if missing(k)])
        return cand & result

    def _all_deps_updated_since(self, tick_time: float, cand: KeySet) -> KeySet:
        result = cand
        for up, mapping in self.deps:
            materialized = self.tick.status.get(up.key).materialized
            requested = self.tick.requested.get(up.key, EMPTY)

            def fresh(
                key: Key, mat: dict[Key, float] = materialized, req: KeySet = requested
            ) -> bool:
                stamp = mat.get(key)
                return (stamp is not None and stamp >= tick_time) or key in req

            if result.is_finite and len(result.keys) <= _PER_KEY_LIMIT:
                result = KeySet(
                    {d for d in result.keys if any(map(fresh, self._map_up(up, mapping, d)))}
                )
            else:
                updated = [k for k, stamp in materialized.items() if stamp >= tick_time]
                updated.extend(k for k in requested.keys if k not in materialized)
                result = result & self._map_down(up, mapping, updated)
            if not result:
                break
        return result

    def _mapping(self, up: AssetSnap, mapping: PartitionMapping | None) -> PartitionMapping | None:
        if mapping is not None:
            return mapping
        try:
            return default_partition_mapping(up.partitions_def, self.asset.partitions_def)
        except PartitionError:
            return None

    def _map_down(
        self, up: AssetSnap, mapping: PartitionMapping | None, keys: Collection[Key]
    ) -> KeySet:
        """The keys of this asset that read any of ``keys`` of ``up``."""
        up_def, down_def = up.partitions_def, self.asset.partitions_def
        if down_def is None:
            return KeySet({None}) if keys else EMPTY
        if up_def is None or None in keys:  # None of a partitioned asset: all of it
            return ALL if None in keys else EMPTY
        universe = self.tick.universe(up_def)
        existing = [k for k in keys if k is not None and k in universe]
        mapped = self._mapping(up, mapping)
        if not existing or mapped is None:
            return EMPTY
        try:
            found = mapped.downstream_keys(
                existing,
                down_def,
                storage=self.tick.store,
                now=self.tick.now_dt,
                upstream_def=up_def,
            )
        except PartitionError:
            return EMPTY
        return KeySet(frozenset(found))

    def _map_up(self, up: AssetSnap, mapping: PartitionMapping | None, key: Key) -> Sequence[Key]:
        """The keys of ``up`` that ``key`` of this asset reads."""
        up_def, down_def = up.partitions_def, self.asset.partitions_def
        if up_def is None:
            return (None,)
        if down_def is None or key is None:
            return self.tick.universe(up_def)
        mapped = self._mapping(up, mapping)
        if mapped is None:
            return ()
        try:
            return mapped.upstream_keys(
                [key],
                up_def,
                storage=self.tick.store,
                now=self.tick.now_dt,
                downstream_def=down_def,
            )
        except PartitionError:
            return ()

    # -- result --------------------------------------------------------------------------------

    def requested_keys(self, true: KeySet) -> list[Key]:
        """``true`` clipped to the asset's existing keys, in definition order."""
        definition = self.asset.partitions_def
        if definition is None:
            return [None] if None in true else []
        universe = self.tick.universe(definition)
        if true.negated:
            return [k for k in universe if k not in true.keys]
        positions = sorted(
            (p, k) for k in true.keys if k is not None and (p := universe.position(k)) is not None
        )
        return [k for _, k in positions]


def evaluate_conditions(
    graph: ConditionGraph,
    status: LocationStatus,
    state: AutomationState,
    now: float,
    *,
    partitions_store: object = None,
) -> tuple[dict[str, list[Key]], AutomationState, dict[str, str]]:
    """Evaluate every asset's condition once.

    Args:
        graph: the snapshot's ``ConditionGraph``.
        status: materializations, updates since the previous tick, in-progress and failed keys.
        state: the state the previous tick returned (an empty one at first).
        now: POSIX seconds of this tick.
        partitions_store: storage for dynamic partitions definitions, if any.

    Returns:
        The requested keys per asset (only assets with requests), the new state, and the
        assets that could not be evaluated with the reason (they keep their state).
    """
    tick = _Tick(graph, status, now, partitions_store)
    errors: dict[str, str] = {}
    requested: dict[str, list[Key]] = {}
    assets: dict[str, AssetConditionState] = {}
    for asset in graph.evaluated:
        condition = asset.automation_condition
        assert condition is not None
        print_ = graph.fingerprints[asset.key]
        prior = state.assets.get(asset.key)
        if prior is not None and prior.fingerprint != print_:
            prior = None
        evaluation = _AssetEvaluation(tick, asset, prior)
        try:
            keys = evaluation.requested_keys(evaluation.evaluate(condition, "r", ALL))
        except PartitionError as exc:
            # One asset whose keys cannot be known (e.g. dynamic partitions without storage)
            # must not stop the others; it keeps its state and is retried next tick.
            errors[asset.key] = str(exc)
            if prior is not None:
                assets[asset.key] = prior
            continue
        if keys:
            requested[asset.key] = keys
            tick.requested[asset.key] = KeySet(frozenset(keys))
        assets[asset.key] = AssetConditionState(
            fingerprint=print_, evaluated_at=now, requested=frozenset(keys), nodes=evaluation.nodes
        )
    return requested, AutomationState(cursor=state.cursor, assets=assets), errors
