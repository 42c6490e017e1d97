"""Recording ticks: every evaluation of a schedule or sensor leaves one.

A tick is stored ``STARTED`` when the evaluation begins and updated once with its outcome
(``SUCCESS``, ``SKIPPED`` with a reason, ``FAILURE`` with the error), its duration, the runs
and run keys it queued and the cursor it stored; the instigator's ``last_tick_time`` and
``last_tick_status`` follow. A daemon that dies mid-tick leaves a ``STARTED`` tick behind,
which the next daemon of the location closes as a failure (:func:`close_interrupted_ticks`).
"""

from __future__ import annotations

import asyncio
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

__all__ = ["OpenTick", "TickRecorder", "close_interrupted_ticks"]

log = get_logger("rivers.daemon.ticks")

_INTERRUPTED = "the daemon stopped during this tick"


@dataclass
class OpenTick:
    """A tick being evaluated (stored as ``STARTED``)."""

    record: TickRecord
    started: float = field(default_factory=time.perf_counter)

    @property
    def elapsed_ms(self) -> float:
        """Milliseconds since the tick began."""
        return (time.perf_counter() - self.started) * 1000.0


class TickRecorder:
    """Stores ticks and the instigator state they move, and counts them.

    Args:
        storage: the shared store.
        location_id: the location's identity.
        metrics: where ticks are counted.
    """

    def __init__(self, storage: Storage, location_id: str, metrics: DaemonMetrics) -> None:
        self.storage = storage
        self.location_id = location_id
        self.metrics = metrics

    async def begin(
        self,
        instigator: str,
        type: InstigatorType,
        *,
        scheduled_time: float | None = None,
        timestamp: float | None = None,
    ) -> OpenTick:
        """Store a ``STARTED`` tick."""
        record = TickRecord(
            tick_id=uuid.uuid4().hex,
            location_id=self.location_id,
            instigator=instigator,
            type=type,
            status=TickStatus.STARTED,
            timestamp=time.time() if timestamp is None else timestamp,
            scheduled_time=scheduled_time,
        )
        await asyncio.to_thread(self.storage.add_tick, record)
        return OpenTick(record)

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
    ) -> TickRecord:
        """Store the tick's outcome and move the instigator's last tick (and cursor).

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
        """
        record = tick.record
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
        updated = await asyncio.to_thread(self.storage.update_tick, record.tick_id, **changes)
        state: dict[str, Any] = {
            "last_tick_time": record.timestamp if last_tick_time is None else last_tick_time,
            "last_tick_status": status,
        }
        if store_cursor:
            state["cursor"] = cursor
        await asyncio.to_thread(
            self.storage.update_instigator,
            self.location_id,
            record.instigator,
            record.type,
            **state,
        )
        self.metrics.ticks.labels(str(record.type), str(status)).inc()
        return updated

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
        self.metrics.ticks.labels(str(type), str(TickStatus.SKIPPED)).inc()
        return record

    async def purge(self, retention_days: float) -> int:
        """Delete ticks older than the retention; returns how many."""
        cutoff = time.time() - retention_days * 86400.0
        return await asyncio.to_thread(self.storage.purge_ticks, cutoff)


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
