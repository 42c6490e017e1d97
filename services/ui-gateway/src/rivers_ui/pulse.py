"""What changes besides run events, announced on ``/api/events`` as ``event: changed``.

Run events reach pages through the event tail. Ticks, instigator on/off states, backfills,
pools and code locations change without writing run events, so while any SSE stream is open
the pulse reads a small fingerprint of each (one cheap query per topic) every ``interval``
seconds and broadcasts ``Changed(topic)`` when one differs from the last read. Pages re-read
what a topic covers; no page polls on its own.

Topics: ``runs`` (a run was queued: it writes no event until it starts), ``ticks`` (the
newest tick or its status), ``instigators`` (a schedule or sensor switched on or off),
``backfills`` (the newest backfills' status and counts), ``pools`` (limits and slots in use),
``locations`` (a location's status or snapshot; heartbeats alone are not a change).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING

from rivers.storage.records import RunStatus
from rivers.telemetry import get_logger
from rivers_ui.tail import Changed

if TYPE_CHECKING:
    from rivers_ui.catalog import Catalog
    from rivers_ui.tail import EventTail

__all__ = ["TOPICS", "Pulse"]

log = get_logger("rivers.ui")

#: Backfills whose status and counts make the ``backfills`` fingerprint (the newest ones).
_BACKFILLS_WATCHED = 20


class Pulse:
    """Broadcasts :class:`Changed` topics to the tail's SSE subscriptions.

    Args:
        catalog: the gateway's catalog (its store and locations).
        tail: whose all-runs subscriptions receive the changes.
        interval: seconds between two reads while anyone listens.
    """

    def __init__(self, catalog: Catalog, tail: EventTail, *, interval: float) -> None:
        self.catalog = catalog
        self.tail = tail
        self.interval = interval
        self._seen: dict[str, Hashable] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start reading (in the running loop)."""
        self._task = asyncio.create_task(self._run(), name="rivers-ui-pulse")

    async def stop(self) -> None:
        """Stop reading."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _fingerprints(self) -> dict[str, Hashable]:
        storage = self.catalog.storage
        readers: dict[str, Callable[[], Hashable]] = {
            # Only queued runs: the others announce themselves with run events. (The status
            # index keeps this cheap however many finished runs the store holds.)
            "runs": lambda: tuple(
                r.run_id for r in storage.get_runs(statuses=[RunStatus.QUEUED], limit=1)
            ),
            "ticks": lambda: tuple((t.tick_id, str(t.status)) for t in storage.get_ticks(limit=1)),
            "instigators": lambda: frozenset(
                (s.location_id, s.name, str(s.status)) for s in storage.get_instigator_states()
            ),
            "backfills": lambda: tuple(
                b.model_dump_json() for b in storage.get_backfills(limit=_BACKFILLS_WATCHED)
            ),
            "pools": lambda: tuple(p.model_dump_json() for p in storage.get_all_pool_infos()),
            "locations": lambda: frozenset(
                (loc.name, str(loc.status), loc.snapshot_id) for loc in self.catalog.locations()
            ),
        }
        return {topic: read() for topic, read in readers.items()}

    async def check(self) -> list[str]:
        """Read every fingerprint once; broadcast and return the topics that changed."""
        current = await asyncio.to_thread(self._fingerprints)
        changed = [
            topic
            for topic, value in current.items()
            if topic in self._seen and self._seen[topic] != value
        ]
        self._seen = current
        for topic in changed:
            self.tail.broadcast(Changed(topic))
        return changed

    async def _run(self) -> None:
        while True:
            try:
                if self.tail.watchers_of_all():
                    await self.check()
                else:
                    self._seen = {}  # the next listener starts from a fresh read
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a storage hiccup: try again on the next beat
                log.warning("ui.pulse_failed", error=str(exc))
            await asyncio.sleep(self.interval)


TOPICS = ("runs", "ticks", "instigators", "backfills", "pools", "locations")
