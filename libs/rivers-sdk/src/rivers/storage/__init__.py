"""Typed SurrealDB storage: runs, run queue, events, assets, locations, pools, ticks, KV.

Importing this package does not import the SurrealDB SDK; opening a store does.
"""

from rivers.storage._automation import split_partition_range
from rivers.storage._pools import PoolLimitError
from rivers.storage._retention import PruneResult, TableStats
from rivers.storage.records import (
    PRIORITY_TAG,
    AssetRecord,
    BackfillRecord,
    BackfillState,
    InstigatorState,
    InstigatorType,
    LocationRecord,
    PoolInfo,
    PoolSlotHolder,
    RunQueueConfig,
    RunRecord,
    RunStatus,
    TagConcurrencyLimit,
    TickRecord,
    TickStatus,
)
from rivers.storage.storage import Storage

__all__ = [
    "PRIORITY_TAG",
    "AssetRecord",
    "BackfillRecord",
    "BackfillState",
    "InstigatorState",
    "InstigatorType",
    "LocationRecord",
    "PoolInfo",
    "PoolLimitError",
    "PoolSlotHolder",
    "PruneResult",
    "RunQueueConfig",
    "RunRecord",
    "RunStatus",
    "Storage",
    "TableStats",
    "TagConcurrencyLimit",
    "TickRecord",
    "TickStatus",
    "split_partition_range",
]
