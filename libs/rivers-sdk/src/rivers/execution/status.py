"""Partition status of an asset: materialized, failed and missing partitions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rivers.partitions import PartitionsDefinition

__all__ = ["PartitionStatus", "partition_status"]


class PartitionStatus:
    """The latest outcome of every partition of one asset.

    Attributes:
        asset_key: the asset.
        total: how many partitions the definition has now.
        materialized: keys whose latest attempt succeeded.
        failed: keys whose latest attempt failed, with the reason.
    """

    __slots__ = ("_definition", "_storage", "asset_key", "failed", "materialized", "total")

    def __init__(
        self,
        *,
        asset_key: str,
        definition: PartitionsDefinition,
        storage: Any,
        total: int,
        materialized: list[str],
        failed: dict[str, str],
    ) -> None:
        self.asset_key = asset_key
        self.total = total
        self.materialized = materialized
        self.failed = failed
        self._definition = definition
        self._storage = storage

    @property
    def missing_count(self) -> int:
        """Partitions never attempted (or whose outcome is unknown)."""
        return self.total - len(self.materialized) - len(self.failed)

    def missing(self) -> Iterator[str]:
        """The missing partition keys, in the definition's order (lazily)."""
        known = set(self.materialized) | set(self.failed)
        return (
            k for k in self._definition.get_partition_keys(storage=self._storage) if k not in known
        )

    def __repr__(self) -> str:
        return (
            f"PartitionStatus({self.asset_key!r}, materialized={len(self.materialized)}, "
            f"failed={len(self.failed)}, missing={self.missing_count})"
        )


def partition_status(
    storage: Any, location_id: str, asset_key: str, definition: PartitionsDefinition
) -> PartitionStatus:
    """Read one asset's partition status: two indexed queries plus the definition's count.

    Outcomes recorded for keys the definition no longer has (a removed dynamic key, a window
    past ``end``) are left out.
    """
    done, failures = storage.get_asset_partition_outcomes(location_id, asset_key)
    materialized = [k for k in done if k is not None and definition.has_key(k, storage=storage)]
    failed = {
        k: reason
        for k, reason in failures.items()
        if k is not None and definition.has_key(k, storage=storage)
    }
    return PartitionStatus(
        asset_key=asset_key,
        definition=definition,
        storage=storage,
        total=definition.count(storage=storage),
        materialized=materialized,
        failed=failed,
    )
