"""Recording ticks: every evaluation of a schedule or sensor leaves one.

A tick is stored once, with its outcome (``SUCCESS``, ``SKIPPED`` with a reason, ``FAILURE``
with the error), its duration, the runs and run keys it queued and the cursor it stored, in
the same transaction as the instigator's ``last_tick_time``, ``last_tick_status`` (and
cursor) it moves: a fast tick costs one round trip. An evaluation still running after
``started_after`` seconds is stored ``STARTED`` meanwhile, so a slow or hanging one is visible;
a daemon that dies mid-tick leaves that ``STARTED`` tick behind, which the next daemon of the
location closes as a failure (:func:`close_interrupted_ticks`).
"""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from rivers.automation.launch import Launched
from rivers.execution.events import ErrorInfo
from rivers.storage import Storage
from rivers.storage.records import InstigatorType, TickRecord, TickStatus
from rivers.telemetry import get_logger
from rivers_daemon.metrics import DaemonMetrics

__all__ = ["STARTED_AFTER", "OpenTick", "TickRecorder", "close_interrupted_ticks"]

log = get_logger("rivers.daemon.ticks")

_INTERRUPTED = "the daemon stopped during this tick"
#: Seconds an evaluation runs before its tick is stored as ``STARTED``.
STARTED_AFTER = 1.0


@dataclass
class OpenTick:
    """A tick being evaluated (stored as ``STARTED`` once it took ``started_after``)."""

    record: TickRecord
    started: float = field(default_factory=time.perf_counter)
    #: The delayed ``STARTED`` write (``None``: none scheduled).
    announcement: asyncio.Task[None] | None = field(default=None, repr=False)
    #: Whether the ``STARTED`` write began (its row may exist).
    announced: bool = False

    @property
    def elapsed_ms(self) -> float:
        """Milliseconds since the tick began."""
        return (time.perf_counter() - self.started) * 1000.0

    def discard(self) -> None:
        """Drop the pending ``STARTED`` write (a no-op once the tick was recorded).

        For a tick abandoned without an outcome: if it was already stored ``STARTED``, it
        stays so until the next daemon of the location closes it.
        """
        if self.announcement is not None and not self.announcement.done():
            self.announcement.cancel()

    async def settle(self) -> None:
        """Before the outcome is written: cancel the ``STARTED`` write, or let it land first."""
        task = self.announcement
        if task is None or task.done():
            return
        if self.announced:
            await task  # one round trip in flight; the outcome then replaces it
        else:
            task.cancel()


class TickRecorder:
    """Stores ticks and the instigator state they move, and counts them.

    Args:
        storage: the shared store.
        location_id: the location's identity.
        metrics: where ticks are counted.
        started_after: seconds an evaluation runs before its tick is stored ``STARTED``.
    """

    def __init__(
        self,
        storage: Storage,
        location_id: str,
        metrics: DaemonMetrics,
        *,
        started_after: float = STARTED_AFTER,
    ) -> None:
        self.storage = storage
        self.location_id = location_id
        self.metrics = metrics
        self.started_after = started_after

    async def begin(
        self,
        instigator: str,
        type: InstigatorType,
        *,
        scheduled_time: float | None = None,
        timestamp: float | None = None,
    ) -> OpenTick:
        """Open a tick; it is stored ``STARTED`` only if still open after ``started_after``.

        Close it with :meth:`finish` or :meth:`close`, or :meth:`OpenTick.discard` it.
        """
        record = TickRecord(
            tick_id=uuid.uuid4().hex,
            location_id=self.location_id,
            instigator=instigator,
            type=type,
            status=TickStatus.STARTED,
            timestamp=time.time() if timestamp is None else timestamp,
            scheduled_time=scheduled_time,
        )
        tick = OpenTick(record)
        tick.announcement = asyncio.create_task(
            self._announce(tick), name=f"rivers-daemon-tick-{record.tick_id}"
        )
        return tick

    async def _announce(self, tick: OpenTick) -> None:
        await asyncio.sleep(self.started_after)
        tick.announced = True
        try:
            await asyncio.to_thread(self.storage.add_tick, tick.record)
        except Exception as exc:  # the outcome is written anyway (UPSERT)
            log.warning("daemon.tick_start_not_stored", tick_id=tick.record.tick_id, error=str(exc))

    async def finish(
        self,
        tick: OpenTick,
        status: TickStatus,
        *,
        launched: Launched | None = None,
        skip_reason: str | None = None,
        error: ErrorInfo | None = None,
        cursor: str | None = None,
        requested: int = 0,
        last_tick_time: float | None = None,
        store_cursor: bool = False,
        expected_cursor: str | None = None,
    ) -> TickRecord:
        """Store the tick's outcome and move the instigator's last tick (and cursor), at once.

        Args:
            tick: the tick :meth:`begin` returned.
            status: its final status.
            launched: what it queued.
            skip_reason: why it requested nothing (``SKIPPED``).
            error: what failed (``FAILURE``).
            cursor: the cursor after the tick.
            requested: how many runs and backfills it asked for.
            last_tick_time: the instigator's new ``last_tick_time`` (default the tick's
                timestamp; schedules pass the scheduled time).
            store_cursor: also store ``cursor`` as the instigator's cursor.
            expected_cursor: the cursor the tick started from: a stored cursor that is no
                longer this one (changed meanwhile) is kept rather than overwritten.
        """
        final = _outcome(
            tick,
            status,
            launched=launched,
            skip_reason=skip_reason,
            error=error,
            cursor=cursor,
            requested=requested,
        )
        moved = final.timestamp if last_tick_time is None else last_tick_time
        write = functools.partial(
            self.storage.record_tick, final, last_tick_time=moved, last_tick_status=status
        )
        if store_cursor:
            write = functools.partial(write, cursor=cursor, expected_cursor=expected_cursor)
        await tick.settle()
        await asyncio.to_thread(write)
        self.metrics.observe_tick(final)
        return final

    async def close(
        self, tick: OpenTick, status: TickStatus, *, error: ErrorInfo | None = None
    ) -> TickRecord:
        """Store the tick's outcome without moving its instigator (e.g. a stopped evaluation)."""
        final = _outcome(tick, status, error=error)
        await tick.settle()
        await asyncio.to_thread(self.storage.record_tick, final)
        self.metrics.observe_tick(final)
        return final

    async def skipped(
        self, instigator: str, type: InstigatorType, *, scheduled_time: float, reason: str
    ) -> TickRecord:
        """Store a tick that was never evaluated (a missed schedule tick beyond catch-up)."""
        record = TickRecord(
            tick_id=uuid.uuid4().hex,
            location_id=self.location_id,
            instigator=instigator,
            type=type,
            status=TickStatus.SKIPPED,
            timestamp=time.time(),
            scheduled_time=scheduled_time,
            skip_reason=reason,
        )
        await asyncio.to_thread(self.storage.add_tick, record)
        self.metrics.observe_tick(record, timed=False)
        return record

    async def purge(self, retention_days: float) -> int:
        """Delete ticks older than the retention; returns how many."""
        cutoff = time.time() - retention_days * 86400.0
        return await asyncio.to_thread(self.storage.purge_ticks, cutoff)


def _outcome(
    tick: OpenTick,
    status: TickStatus,
    *,
    launched: Launched | None = None,
    skip_reason: str | None = None,
    error: ErrorInfo | None = None,
    cursor: str | None = None,
    requested: int = 0,
) -> TickRecord:
    """The tick's record with its outcome and duration."""
    changes: dict[str, Any] = {"status": status, "duration_ms": tick.elapsed_ms}
    if launched is not None:
        changes.update(
            run_ids=launched.run_ids,
            backfill_ids=launched.backfill_ids,
            run_keys=launched.run_keys,
        )
    if skip_reason is not None:
        changes["skip_reason"] = skip_reason
    if error is not None:
        changes["error"] = error
    if cursor is not None:
        changes["cursor"] = cursor
    if requested:
        changes["requested"] = requested
    return TickRecord.model_validate({**tick.record.model_dump(), **changes})


def close_interrupted_ticks(storage: Storage, location_id: str) -> int:
    """Fail the ``STARTED`` ticks a previous daemon of the location left (blocking).

    Called once at start-up, before any loop runs, so no tick of this daemon is open yet.
    """
    closed = 0
    while True:
        open_ticks = storage.get_ticks(
            location_id=location_id, statuses=[TickStatus.STARTED], limit=500
        )
        for tick in open_ticks:
            storage.update_tick(
                tick.tick_id,
                status=TickStatus.FAILURE,
                error=ErrorInfo(error_type="DaemonInterrupted", message=_INTERRUPTED),
            )
        closed += len(open_ticks)
        if len(open_ticks) < 500:
            break
    if closed:
        log.info("daemon.interrupted_ticks_closed", location_id=location_id, ticks=closed)
    return closed
