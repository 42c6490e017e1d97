"""The location's definitions, as its code server serves them, cached per server id.

``GetServerId`` is cheap and changes whenever the code server restarts or reloads; only then
is the snapshot fetched again (``GetDefinitions``). Every loop of the daemon asks
:meth:`SnapshotSource.current` when it starts an iteration; checks closer together than
``check_interval`` share one ``GetServerId``.
"""

from __future__ import annotations

import asyncio
import time

from rivers.definitions.snapshot import DefinitionsSnapshot
from rivers.telemetry import get_logger
from rivers_daemon.codeserver import CodeLocationUnreachable, CodeServerClient, ServerId

__all__ = ["SnapshotSource"]

log = get_logger("rivers.daemon.snapshots")


class SnapshotSource:
    """The current definitions snapshot of one code location.

    Args:
        client: the code server client.
        location_id: the location's identity; a code server answering for another location
            is refused (one daemon never sees another location's definitions).
        check_interval: seconds a server id check is reused for.
    """

    def __init__(
        self, client: CodeServerClient, location_id: str, *, check_interval: float = 0.5
    ) -> None:
        self.client = client
        self.location_id = location_id
        self.check_interval = check_interval
        self.server: ServerId | None = None
        self.snapshot: DefinitionsSnapshot | None = None
        self.changes = 0
        """How many times a new snapshot was fetched (the first fetch included)."""
        self._checked_at = float("-inf")
        self._lock = asyncio.Lock()

    @property
    def server_id(self) -> str | None:
        """The server id the cached snapshot came from."""
        return None if self.server is None else self.server.server_id

    async def current(self) -> DefinitionsSnapshot:
        """The snapshot being served now (fetched again after a restart or reload).

        Raises:
            CodeLocationUnreachable: the code server did not answer (after retries), or it
                serves another location.
        """
        async with self._lock:
            if self.snapshot is not None and time.monotonic() - self._checked_at < (
                self.check_interval
            ):
                return self.snapshot
            server = await self.client.server_id()
            if server.location_identity and server.location_identity != self.location_id:
                raise CodeLocationUnreachable(
                    f"the code server at {self.client.address} serves location "
                    f"{server.location_name!r} ({server.location_identity}), not this "
                    f"daemon's ({self.location_id})"
                )
            if self.snapshot is None or self.server is None or server != self.server:
                snapshot = await self.client.definitions()
                changed = self.snapshot is not None
                self.snapshot, self.server = snapshot, server
                self.changes += 1
                log.info(
                    "daemon.snapshot_loaded" if not changed else "daemon.snapshot_changed",
                    server_id=server.server_id,
                    snapshot_id=snapshot.snapshot_id,
                    schedules=len(snapshot.schedules),
                    sensors=len(snapshot.sensors),
                )
            self._checked_at = time.monotonic()
            return self.snapshot

    def invalidate(self) -> None:
        """Check the server id on the next :meth:`current` (e.g. after a failed launch)."""
        self._checked_at = float("-inf")

    def __repr__(self) -> str:
        return f"SnapshotSource({self.location_id!r}, server_id={self.server_id!r})"
