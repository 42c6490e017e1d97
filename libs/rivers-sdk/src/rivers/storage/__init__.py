"""Typed SurrealDB storage: runs, run events, asset records, code locations, KV state.

Importing this package does not import the SurrealDB SDK; opening a store does.
"""

from rivers.storage.records import (
    AssetRecord,
    BackfillRecord,
    BackfillState,
    LocationRecord,
    RunRecord,
    RunStatus,
)
from rivers.storage.storage import Storage

__all__ = [
    "AssetRecord",
    "BackfillRecord",
    "BackfillState",
    "LocationRecord",
    "RunRecord",
    "RunStatus",
    "Storage",
]
