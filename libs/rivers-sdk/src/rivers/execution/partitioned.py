"""What partitioned steps add: the partition context, mapped inputs, per-partition outputs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rivers.definitions.repository import CodeRepository
    from rivers.partitions import (
        PartitionKeyRange,
        PartitionKeys,
        PartitionMapping,
        PartitionsDefinition,
        TimeWindow,
    )
    from rivers.planning.plan import ExecutionPlan

__all__ = [
    "PartitionContext",
    "load_mapped",
    "partition_tags",
    "run_partition_keys",
    "split_partitioned_output",
]

#: Run tags describing the partitions of a run (as Dagster's ``dagster/partition`` tags).
PARTITION_TAG = "rivers/partition"
RANGE_START_TAG = "rivers/partition_range_start"
RANGE_END_TAG = "rivers/partition_range_end"


class PartitionContext:
    """``context.partition``: the partitions a step materializes.

    ``key`` is the one partition of a single-partition step; ``keys`` every partition of the
    step (a single-run backfill step has many); ``range`` the first and last of them;
    ``time_window`` the span of time they cover, for time-based definitions.
    """

    __slots__ = ("_time_window", "definition", "keys")

    def __init__(self, definition: PartitionsDefinition, keys: PartitionKeys) -> None:
        self.definition = definition
        self.keys = keys
        self._time_window: TimeWindow | None = None

    @property
    def key(self) -> str:
        """The step's partition key.

        Raises:
            ValueError: the step runs several partitions (use ``keys``).
        """
        if len(self.keys) != 1:
            raise ValueError(
                f"this step runs {len(self.keys)} partitions; use context.partition.keys "
                "(or .range / .time_window)"
            )
        return self.keys[0]

    @property
    def range(self) -> PartitionKeyRange:
        """The first and last partition key of the step, as an inclusive range."""
        from rivers.partitions import PartitionKeyRange

        return PartitionKeyRange.single(self.keys[0], self.keys[-1])

    @property
    def time_window(self) -> TimeWindow:
        """From the start of the earliest to the end of the latest window of the step.

        Raises:
            ValueError: the partitions definition has no time dimension.
        """
        if self._time_window is None:
            from rivers.partitions import TimeWindow

            # Every key: in a multi definition the time dimension need not vary first.
            # Compared as instants: aware datetimes of one zone compare by wall time, which
            # is wrong across a DST fall-back.
            windows = [self.definition.time_window_for_key(k) for k in self.keys]
            self._time_window = TimeWindow(
                start=min((w.start for w in windows), key=lambda d: d.timestamp()),
                end=max((w.end for w in windows), key=lambda d: d.timestamp()),
            )
        return self._time_window

    def __repr__(self) -> str:
        return f"PartitionContext(keys={self.keys!r})"


def load_mapped(
    load: Callable[[str | None], Any],
    *,
    downstream_keys: PartitionKeys | None,
    upstream_def: PartitionsDefinition | None,
    mapping: PartitionMapping | None,
    storage: Any,
) -> Any:
    """Load one input for a (possibly partitioned) step through its partition mapping.

    An unpartitioned upstream is one value. Otherwise the mapped upstream partitions are
    loaded: exactly one gives its value (when the step itself runs at most one partition),
    several give a dict keyed by partition, none gives ``None`` (e.g. ``offset=-1`` at the
    first partition).
    """
    if upstream_def is None or mapping is None:
        return load(None)
    upstream_keys = mapping.upstream_keys(downstream_keys, upstream_def, storage=storage)
    if len(upstream_keys) == 0:
        return None
    single_step = downstream_keys is None or len(downstream_keys) == 1
    if single_step and len(upstream_keys) == 1:
        return load(upstream_keys[0])
    return {key: load(key) for key in upstream_keys}


def split_partitioned_output(
    asset_key: str, keys: PartitionKeys, value: Any, skip: Mapping[str, str]
) -> list[tuple[str, Any]]:
    """Pair each partition of a multi-partition step with its value.

    A step over several partitions returns a dict keyed by partition key; partitions marked
    failed (``skip``) need no value.

    Raises:
        TypeError: the value is not such a dict, or lacks a partition.
    """
    if len(keys) == 1:
        return [] if keys[0] in skip else [(keys[0], value)]
    if not isinstance(value, Mapping):
        raise TypeError(
            f"asset {asset_key!r} runs {len(keys)} partitions in one step, so it must return a "
            f"dict keyed by partition key (or rs.Materialization), not {type(value).__name__}"
        )
    pairs = []
    for key in keys:
        if key in skip:
            continue
        if key not in value:
            raise TypeError(
                f"asset {asset_key!r} returned no value for partition {key!r} (mark it failed "
                "with context.mark_partition_failed if it could not be produced)"
            )
        pairs.append((key, value[key]))
    return pairs


def run_partition_keys(
    repo: CodeRepository,
    plan: ExecutionPlan,
    partition: Any,
    partition_keys: PartitionKeys | None,
) -> PartitionKeys | None:
    """The partitions a run materializes, validated against the planned assets' definition.

    Raises:
        PartitionError: partitioned assets without a partition, a partition for unpartitioned
            assets, assets with different definitions, or an invalid key or range.
    """
    from rivers.partitions import PartitionError

    defs: dict[str, PartitionsDefinition] = {}
    for key in plan.asset_keys:
        pdef = repo.assets[key].partitions_def
        if pdef is not None:
            defs[key] = pdef
    if not defs:
        if partition is not None or partition_keys is not None:
            raise PartitionError(
                "a partition was given but none of the selected assets is partitioned"
            )
        return None
    distinct = {d.model_dump_json(): d for d in defs.values()}
    if len(distinct) > 1:
        raise PartitionError(
            "the selected partitioned assets have different partitions definitions "
            f"({', '.join(sorted(defs))}); materialize each definition's assets separately"
        )
    (pdef,) = distinct.values()
    if partition_keys is not None:
        return partition_keys
    if partition is None:
        raise PartitionError(
            f"assets {sorted(defs)} are partitioned: pass partition= (a key such as "
            f"{_example(pdef, repo)!r}, an rs.PartitionKey or an rs.PartitionKeyRange)"
        )
    return pdef.resolve(partition, storage=repo.storage)


def _example(pdef: PartitionsDefinition, repo: CodeRepository) -> str:
    try:
        return pdef.key_at(0, storage=repo.storage)
    except Exception:  # an empty dynamic definition has no example to show
        return "<key>"


def partition_tags(keys: PartitionKeys) -> dict[str, str]:
    """Run tags naming the run's partition, or the first and last of its partitions."""
    if len(keys) == 1:
        return {PARTITION_TAG: keys[0]}
    return {RANGE_START_TAG: keys[0], RANGE_END_TAG: keys[-1]}
