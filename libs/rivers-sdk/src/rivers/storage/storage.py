"""``rs.Storage``: the one store of a rivers deployment."""

from __future__ import annotations

import os
from pathlib import Path

from rivers.storage._automation import AutomationStore
from rivers.storage._backfills import BackfillStore
from rivers.storage._events import EventStore
from rivers.storage._instigators import InstigatorStore
from rivers.storage._kv import KVStore
from rivers.storage._partitions import DynamicPartitionStore
from rivers.storage._pools import PoolStore
from rivers.storage._queue import QueueStore
from rivers.storage._retention import RetentionStore
from rivers.storage._runs import RunStore
from rivers.storage._snapshots import SnapshotStore
from rivers.storage._ticks import TickStore

__all__ = ["Storage"]


class Storage(
    RunStore,
    QueueStore,
    EventStore,
    AutomationStore,
    DynamicPartitionStore,
    BackfillStore,
    PoolStore,
    TickStore,
    InstigatorStore,
    KVStore,
    SnapshotStore,
    RetentionStore,
):
    """Typed access to a SurrealDB store: runs, queue, events, assets, ticks, pools, KV.

    Build one with a factory; the engine opens on first use (or :meth:`open`) and is closed by
    :meth:`close`, a ``with`` block, or at interpreter exit.
    """

    @staticmethod
    def memory() -> Storage:
        """An ephemeral store in a temporary directory, deleted on close."""
        return Storage("memory")

    @staticmethod
    def embedded(path: str | os.PathLike[str] = ".rivers/storage") -> Storage:
        """A persistent store in ``path``, run in this process (one owner process per path)."""
        return Storage("embedded", path=Path(path))

    @staticmethod
    def connect(
        url: str,
        *,
        username: str = "root",
        password: str = "root",  # noqa: S107 - the local default, as SurrealDB's own docs use
        namespace: str = "rivers",
        database: str = "rivers",
    ) -> Storage:
        """A SurrealDB server, or a store served by ``rivers storage serve`` (``ws://...``)."""
        return Storage(
            "remote",
            url=url,
            username=username,
            password=password,
            namespace=namespace,
            database=database,
        )
