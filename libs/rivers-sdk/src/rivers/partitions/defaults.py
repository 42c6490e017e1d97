"""The partition mapping an edge gets when the user gives none (Dagster's defaults)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rivers.partitions._axes import describe
from rivers.partitions.errors import PartitionError
from rivers.partitions.mapping import PartitionMapping

if TYPE_CHECKING:
    from rivers.partitions.definition import PartitionsDefinition

__all__ = ["default_partition_mapping"]


def default_partition_mapping(
    upstream_def: PartitionsDefinition | None, downstream_def: PartitionsDefinition | None
) -> PartitionMapping | None:
    """The mapping an edge gets when none is given (Dagster's defaults).

    * unpartitioned upstream: ``None``; unpartitioned downstream: ``all()``;
    * equal definitions: ``identity()``; two time-window definitions: ``time_window()``;
    * a multi definition with a dimension equal to the other definition: ``subset()``;
    * multi definitions with the same dimensions: ``multi()`` of the per-dimension defaults.

    Raises:
        PartitionError: No sensible default: pass an explicit mapping.
    """
    if upstream_def is None:
        return None
    if downstream_def is None:
        return PartitionMapping.all()
    if upstream_def == downstream_def:
        return PartitionMapping.identity()
    up_multi, down_multi = upstream_def.kind == "multi", downstream_def.kind == "multi"
    if (
        not up_multi
        and not down_multi
        and upstream_def.is_time_window
        and downstream_def.is_time_window
    ):
        return PartitionMapping.time_window()
    if up_multi and down_multi and upstream_def.dimension_names == downstream_def.dimension_names:
        per = {}
        for name, up_dim in upstream_def.dims:
            inner = default_partition_mapping(up_dim, downstream_def.dimensions[name])
            assert inner is not None
            if inner.kind != "identity":
                per[name] = inner
        return PartitionMapping.multi(per) if per else PartitionMapping.identity()
    if (
        down_multi
        and not up_multi
        and list(downstream_def.dimensions.values()).count(upstream_def) == 1
    ):
        return PartitionMapping.subset()
    if (
        up_multi
        and not down_multi
        and list(upstream_def.dimensions.values()).count(downstream_def) == 1
    ):
        return PartitionMapping.subset()
    raise PartitionError(
        f"no default partition mapping from {describe(upstream_def)} to "
        f"{describe(downstream_def)}: pass one, e.g. rs.PartitionMapping.all() or .for_keys([...])"
    )
