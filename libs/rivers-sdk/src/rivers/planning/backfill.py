"""Backfill plans: which runs a backfill makes, each with its partitions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rivers.definitions.snapshot import DefinitionsSnapshot
from rivers.planning.plan import ExecutionPlan, build_plan

if TYPE_CHECKING:
    from rivers.partitions import BackfillStrategy, PartitionKeys, PartitionsDefinition

__all__ = ["BackfillPlan", "plan_backfill"]


@dataclass(frozen=True, slots=True)
class BackfillPlan:
    """A backfill: the asset steps every run executes and the partitions of each run."""

    plan: ExecutionPlan
    partitions_def: PartitionsDefinition
    keys: PartitionKeys
    strategy: BackfillStrategy
    runs: tuple[PartitionKeys, ...]

    @property
    def requested(self) -> int:
        """How many partitions the backfill covers."""
        return len(self.keys)


def plan_backfill(
    snapshot: DefinitionsSnapshot,
    selection: str | Iterable[object] | None = None,
    partitions: Any = None,
    strategy: BackfillStrategy | None = None,
    *,
    storage: Any = None,
    now: datetime | None = None,
) -> BackfillPlan:
    """Plan backfilling ``partitions`` (default: all) of the selected assets.

    The selected assets must share one partitions definition. The strategy is ``strategy``,
    else the one the assets declare, else one run per partition.

    Raises:
        PartitionError: unpartitioned or differently partitioned assets, conflicting
            declared strategies, or invalid partitions.
        SelectionError: the selection names nothing.
    """
    from rivers.partitions import BackfillStrategy, PartitionError

    plan = build_plan(snapshot, selection)
    assets = snapshot.assets_by_key
    unpartitioned = [k for k in plan.asset_keys if assets[k].partitions_def is None]
    if unpartitioned:
        raise PartitionError(
            f"a backfill runs partitioned assets; {unpartitioned} are not partitioned "
            "(materialize them with repo.materialize)"
        )
    defs = {assets[k].partitions_def.model_dump_json(): k for k in plan.asset_keys}  # type: ignore[union-attr]
    if len(defs) > 1:
        raise PartitionError(
            "a backfill covers assets sharing one partitions definition; "
            f"{sorted(defs.values())} differ - backfill them separately"
        )
    partitions_def = assets[plan.asset_keys[0]].partitions_def
    assert partitions_def is not None
    if strategy is None:
        declared = {
            s.model_dump_json(): s
            for k in plan.asset_keys
            if (s := assets[k].backfill_strategy) is not None
        }
        if len(declared) > 1:
            raise PartitionError(
                "the selected assets declare different backfill strategies; pass strategy="
            )
        strategy = next(iter(declared.values()), None) or BackfillStrategy.multi_run()
    keys = partitions_def.resolve(partitions, storage=storage, now=now)
    if len(keys) == 0:
        raise PartitionError("the backfill covers no partitions")
    return BackfillPlan(
        plan=plan,
        partitions_def=partitions_def,
        keys=keys,
        strategy=strategy,
        runs=tuple(strategy.chunks(keys)),
    )
