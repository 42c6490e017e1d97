"""Automation ticks: load asset status from storage, evaluate conditions, group runs.

The location's daemon keeps one ``AutomationEvaluator`` and calls ``tick(now)``. The first
tick loads every asset record of the location, only the four fields evaluation needs
(``get_asset_record_stamps``, paged by asset key); later ticks read only the records written
since (by ``event_seq``) and the in-progress partitions, so a tick costs a few queries
whatever the number of assets and partitions. What must survive a restart
(previous true sets, last evaluation times, the storage cursor) is the ``AutomationState``,
which the daemon persists as JSON.

Example:
    >>> evaluator = AutomationEvaluator(snapshot, storage, location_id)
    >>> result = evaluator.tick(time.time())
    >>> storage.kv_set(f"automation/{location_id}", result.state.to_json())
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from rivers.automation._engine import ConditionGraph, evaluate_conditions
from rivers.automation._keyset import Key
from rivers.automation._state import (
    AssetConditionState,
    AssetStatus,
    AutomationState,
    LocationStatus,
)
from rivers.automation.requests import RunRequest
from rivers.partitions import PartitionError, PartitionKeyRange
from rivers.storage._automation import split_partition_range

if TYPE_CHECKING:
    from rivers.definitions.snapshot import DefinitionsSnapshot
    from rivers.partitions import PartitionsDefinition
    from rivers.storage._automation import AssetRecordStamp

__all__ = [
    "AUTOMATION_TAG",
    "AssetConditionState",
    "AssetStatus",
    "AutomationEvaluator",
    "AutomationState",
    "AutomationTickResult",
    "LocationStatus",
    "evaluate_status",
    "group_run_requests",
]

AUTOMATION_TAG = "rivers/automation"
_BATCH = 10_000
#: Assets per page of the first load (one key-range scan each; see ``_load_all``).
_PAGE_ASSETS = 100


class AutomationStorage(Protocol):
    """The storage reads an evaluator needs (``rs.Storage`` provides them)."""

    def get_asset_record_stamps(
        self,
        location_id: str,
        *,
        after_seq: int = ...,
        limit: int | None = ...,
        from_asset: str | None = ...,
        to_asset: str | None = ...,
    ) -> list[AssetRecordStamp]:
        """``(asset, partition, event_seq, timestamp)`` of records (all, or after a seq)."""
        ...

    def get_last_asset_record_seq(self, location_id: str) -> int:
        """The highest ``event_seq`` of the location's records (0: none)."""
        ...

    def get_in_progress_partitions(self, location_id: str) -> dict[str, set[str | None]]:
        """Asset -> keys targeted by queued or running runs."""
        ...

    def get_asset_partition_outcomes(
        self, location_id: str, asset_key: str
    ) -> tuple[list[str | None], dict[str | None, str]]:
        """Materialized and failed keys of one asset."""
        ...


@dataclass(frozen=True)
class AutomationTickResult:
    """What one automation tick asks for.

    Attributes:
        run_requests: the runs to queue (tagged ``rivers/automation=true``).
        requested: how many (asset, partition) pairs were requested.
        evaluated_seconds: wall time of the tick, storage reads included.
        requested_keys: per requested asset, its keys (``None``: unpartitioned), for the tick's
            details.
        state: the state to persist for the next tick (also kept by the evaluator).
        errors: assets that could not be evaluated, with the reason (the others were).
    """

    run_requests: list[RunRequest]
    requested: int
    evaluated_seconds: float
    requested_keys: dict[str, tuple[Key, ...]] = field(default_factory=dict)
    state: AutomationState = field(default_factory=AutomationState)
    errors: dict[str, str] = field(default_factory=dict)


def group_run_requests(
    snapshot: DefinitionsSnapshot, requested: Mapping[str, Iterable[Key]]
) -> list[RunRequest]:
    """One run per partition key and partitions definition, one for unpartitioned assets.

    Assets of the same partitions definition requested for the same key share that key's run
    (so a dependency and its dependents requested together run together, in order); every
    unpartitioned requested asset goes in one run.
    """
    by_key = snapshot.assets_by_key
    unpartitioned: list[str] = []
    groups: dict[tuple[int, str], tuple[PartitionsDefinition, list[str]]] = {}
    definitions: dict[PartitionsDefinition, PartitionsDefinition] = {}
    for asset_key in sorted(requested):
        definition = by_key[asset_key].partitions_def
        if definition is None:
            unpartitioned.append(asset_key)
            continue
        for key in requested[asset_key]:
            if key is None:
                continue
            # Equal definitions (not only the same object) share runs.
            shared = definitions.setdefault(definition, definition)
            groups.setdefault((id(shared), key), (shared, []))[1].append(asset_key)
    tags = {AUTOMATION_TAG: "true"}
    runs: list[RunRequest] = []
    if unpartitioned:
        runs.append(RunRequest(selection=unpartitioned, tags=tags))
    for (_, key), (_, assets) in sorted(groups.items(), key=lambda item: (item[1][1], item[0][1])):
        runs.append(RunRequest(selection=assets, partition=key, tags=tags))
    return runs


def evaluate_status(
    snapshot: DefinitionsSnapshot | ConditionGraph,
    status: LocationStatus,
    now: float,
    state: AutomationState | None = None,
    *,
    partitions_store: object = None,
) -> AutomationTickResult:
    """Evaluate every condition of ``snapshot`` against an in-memory ``status`` (no storage).

    Args:
        snapshot: the location's snapshot (or its prepared ``ConditionGraph``).
        status: materializations, updates since the previous tick, in-progress, failed keys.
        now: POSIX seconds of the tick.
        state: what the previous tick returned (``None``: the first evaluation).
        partitions_store: storage for dynamic partitions definitions, if any.
    """
    started = time.perf_counter()
    graph = snapshot if isinstance(snapshot, ConditionGraph) else ConditionGraph.of(snapshot)
    requested, new_state, errors = evaluate_conditions(
        graph, status, state or AutomationState(), now, partitions_store=partitions_store
    )
    runs = group_run_requests(graph.snapshot, requested)
    return AutomationTickResult(
        run_requests=runs,
        requested=sum(len(keys) for keys in requested.values()),
        evaluated_seconds=time.perf_counter() - started,
        requested_keys={k: tuple(v) for k, v in requested.items()},
        state=new_state,
        errors=errors,
    )


class AutomationEvaluator:
    """Evaluates a location's automation conditions tick after tick, reading storage in bulk.

    Args:
        snapshot: the location's definitions snapshot.
        storage: the location's store (``rs.Storage``).
        location_id: the location whose records and runs are read.
        state: the persisted state of a previous evaluator (``None``: start afresh; what is
            already true then does not trigger requests).
    """

    def __init__(
        self,
        snapshot: DefinitionsSnapshot,
        storage: AutomationStorage,
        location_id: str,
        state: AutomationState | None = None,
    ) -> None:
        self.storage = storage
        self.location_id = location_id
        self.state = state or AutomationState()
        self.status = LocationStatus()
        self._graph = ConditionGraph.of(snapshot)
        self._loaded = False

    @property
    def snapshot(self) -> DefinitionsSnapshot:
        """The snapshot being evaluated."""
        return self._graph.snapshot

    def set_snapshot(self, snapshot: DefinitionsSnapshot) -> None:
        """Evaluate ``snapshot`` from now on (after a reload); unchanged conditions keep state."""
        if snapshot.snapshot_id != self._graph.snapshot.snapshot_id:
            self._graph = ConditionGraph.of(snapshot)

    def tick(self, now: float) -> AutomationTickResult:
        """Load what changed in storage, evaluate every condition, and group the requests."""
        started = time.perf_counter()
        self._load()
        result = evaluate_status(
            self._graph, self.status, now, self.state, partitions_store=self.storage
        )
        self.state = result.state
        return AutomationTickResult(
            run_requests=result.run_requests,
            requested=result.requested,
            evaluated_seconds=time.perf_counter() - started,
            requested_keys=result.requested_keys,
            state=result.state,
            errors=result.errors,
        )

    # -- storage -------------------------------------------------------------------------------

    def _load(self) -> None:
        status = self.status
        status.start_tick()
        if not self._loaded:
            self._load_all()
            self._loaded = True
        else:
            self._load_after()
        in_progress = self.storage.get_in_progress_partitions(self.location_id)
        for asset_key, asset_status in status.assets.items():
            if asset_key not in in_progress and asset_status.in_progress:
                asset_status.in_progress = set()
        by_key = self._graph.snapshot.assets_by_key
        for asset_key, entries in in_progress.items():
            asset = by_key.get(asset_key)
            definition = None if asset is None else asset.partitions_def
            status.edit(asset_key).in_progress = self._expand(definition, entries)
        # Failures have no bulk read; only assets whose condition asks for them are read.
        for asset_key, kinds in self._graph.uses.items():
            if "execution_failed" in kinds:
                _, failed = self.storage.get_asset_partition_outcomes(self.location_id, asset_key)
                status.edit(asset_key).failed = set(failed)

    def _load_all(self) -> None:
        """Every record of the location, a page of ``_PAGE_ASSETS`` assets per query.

        Pages are bounded by the snapshot's asset keys; consecutive pages share a bound, so
        records of assets the snapshot no longer has are read too. The cursor is the highest
        ``event_seq`` *before* reading: a record rewritten between pages is above it and is
        read again (as new) on the next tick.
        """
        known = self.state.cursor
        start = self.storage.get_last_asset_record_seq(self.location_id)
        keys = sorted(self._graph.snapshot.assets_by_key)
        bounds: list[str | None] = [None, *keys[_PAGE_ASSETS::_PAGE_ASSETS], None]
        materialize = self.status.materialize
        for lo, hi in itertools.pairwise(bounds):
            stamps = self.storage.get_asset_record_stamps(
                self.location_id, from_asset=lo, to_asset=hi
            )
            # Before the first tick nothing counts as new: only what changes while evaluating
            # does. Above ``start`` a record is read again next tick (and is new then).
            for asset_key, partition_key, seq, timestamp in stamps:
                new = known is not None and known < seq <= start
                materialize(asset_key, partition_key, timestamp, new=new)
        self.state.cursor = max(known or 0, start)

    def _load_after(self) -> None:
        """The records written since the cursor, in ``event_seq`` order (all new)."""
        cursor = self.state.cursor or 0
        materialize = self.status.materialize
        while True:
            batch = self.storage.get_asset_record_stamps(
                self.location_id, after_seq=cursor, limit=_BATCH
            )
            for asset_key, partition_key, seq, timestamp in batch:
                materialize(asset_key, partition_key, timestamp, new=True)
                cursor = max(cursor, seq)
            if len(batch) < _BATCH:
                break
        self.state.cursor = cursor

    def _expand(
        self, definition: PartitionsDefinition | None, entries: Iterable[str | None]
    ) -> set[Key]:
        """In-progress entries as keys: ``None`` stays (the whole asset), ranges expand."""
        if definition is None:
            return {None}
        keys: set[Key] = set()
        for entry in entries:
            bounds = split_partition_range(entry)
            if bounds is None:
                keys.add(entry)
                continue
            try:
                keys.update(definition.resolve(PartitionKeyRange.single(*bounds), self.storage))
            except PartitionError:  # a range of an older definition: the whole asset
                keys.add(None)
        return keys
