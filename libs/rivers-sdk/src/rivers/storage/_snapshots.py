"""Definitions snapshots, stored by id so services without user code can read them."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rivers.storage._base import StorageBase

if TYPE_CHECKING:
    from rivers.definitions.snapshot import DefinitionsSnapshot

__all__ = ["SnapshotStore"]


class SnapshotStore(StorageBase):
    """Snapshots as proto bytes, keyed by their content id (writing one twice is a no-op)."""

    def store_snapshot(self, location_id: str, snapshot: DefinitionsSnapshot) -> str:
        """Store ``snapshot`` (idempotent); returns its id."""
        sid = snapshot.snapshot_id
        self._q(
            "INSERT IGNORE INTO snapshot { id: $id, location_id: $loc, data: $data, "
            "created_at: $now } RETURN NONE;",
            {
                "id": sid,
                "loc": location_id,
                "data": snapshot.to_proto().SerializeToString(),
                "now": time.time(),
            },
        )
        return sid

    def get_snapshot(self, snapshot_id: str) -> DefinitionsSnapshot | None:
        """The stored snapshot with that id, or ``None``."""
        from rivers._proto.rivers.v1 import definitions_pb2
        from rivers.definitions.snapshot import DefinitionsSnapshot

        (data,) = self._q("RETURN type::record('snapshot', $id).data;", {"id": snapshot_id})
        if data is None:
            return None
        msg = definitions_pb2.DefinitionsSnapshot()
        msg.ParseFromString(bytes(data))
        return DefinitionsSnapshot.from_proto(msg)
