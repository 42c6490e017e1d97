"""Typed SurrealDB storage: runs, run events, asset records, code locations, pools, KV.

Importing this package does not import the SurrealDB SDK; opening a store does.
"""

from rivers.storage._pools import PoolLimitError
from rivers.storage.records import (
    AssetRecord,
    BackfillRecord,
    BackfillState,
    LocationRecord,
    PoolInfo,
    PoolSlotHolder,
    RunRecord,
    RunStatus,
)
from rivers.storage.storage import Storage

__all__ = [
    "AssetRecord",
    "BackfillRecord",
    "BackfillState",
    "LocationRecord",
    "PoolInfo",
    "PoolLimitError",
    "PoolSlotHolder",
    "RunRecord",
    "RunStatus",
    "Storage",
]
