"""Typed SurrealDB storage: runs, run events, asset records, code locations, KV state.

Importing this package does not import the SurrealDB SDK; opening a store does.
"""

from rivers.storage.records import AssetRecord, LocationRecord, RunRecord, RunStatus
from rivers.storage.storage import Storage

__all__ = ["AssetRecord", "LocationRecord", "RunRecord", "RunStatus", "Storage"]
