"""The monitor: fails the location's stale runs, reclaims expired pool leases, purges ticks.

Every ``interval`` seconds:

* runs of the location whose run worker stopped heartbeating ``stale_run_timeout`` seconds ago
  are failed (one conditional update in storage, so a gateway's monitor never fails a run
  twice) and get a ``RUN_FAILURE`` event with the reason;
* pool slots whose holder's lease expired are returned;
* ticks older than the retention are deleted (at most once a minute).
"""

from __future__ import annotations

import asyncio
import time

from rivers.execution.stale import fail_stale_runs
from rivers.storage import Storage
from rivers.storage.records import RunRecord
from rivers.telemetry import get_logger
from rivers_daemon.loops import cancel
from rivers_daemon.metrics import DaemonMetrics
from rivers_daemon.ticks import TickRecorder

__all__ = ["Monitor"]

log = get_logger("rivers.daemon.monitor")

_PURGE_EVERY = 60.0


class Monitor:
    """Sweeps every ``interval`` seconds in the background.

    Args:
        storage: the shared store.
        location_id: whose runs to watch.
        ticks: purges old ticks.
        metrics: counts failed runs and reclaimed slots.
        stale_run_timeout: seconds without a heartbeat before a run is failed.
        tick_retention_days: how long ticks are kept.
        interval: seconds between sweeps.
    """

    def __init__(
        self,
        storage: Storage,
        location_id: str,
        ticks: TickRecorder,
        metrics: DaemonMetrics,
        *,
        stale_run_timeout: float,
        tick_retention_days: float,
        interval: float,
    ) -> None:
        self.storage = storage
        self.location_id = location_id
        self.ticks = ticks
        self.metrics = metrics
        self.stale_run_timeout = stale_run_timeout
        self.tick_retention_days = tick_retention_days
        self.interval = interval
        self.sweeps = 0
        self._purged_at = float("-inf")
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start sweeping."""
        self._task = asyncio.create_task(self._run(), name="rivers-daemon-monitor")

    async def stop(self) -> None:
        """Stop sweeping (a sweep in progress finishes in its thread)."""
        await cancel(self._task)

    async def sweep(self) -> list[RunRecord]:
        """One sweep now; returns the runs it failed."""
        failed = await asyncio.to_thread(
            fail_stale_runs,
            self.storage,
            self.stale_run_timeout,
            location_id=self.location_id,
            log=log,
            log_prefix="daemon",
        )
        self.metrics.stale_runs_failed.inc(len(failed))
        reclaimed = await asyncio.to_thread(self.storage.reclaim_expired_pool_slots)
        if reclaimed:
            self.metrics.pool_slots_reclaimed.inc(reclaimed)
            log.info("daemon.pool_slots_reclaimed", slots=reclaimed)
        if time.monotonic() - self._purged_at >= _PURGE_EVERY:
            self._purged_at = time.monotonic()
            purged = await self.ticks.purge(self.tick_retention_days)
            if purged:
                log.info("daemon.ticks_purged", ticks=purged)
        self.sweeps += 1
        return failed

    async def _run(self) -> None:
        while True:
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # storage hiccup: try again next time
                log.warning("daemon.monitor_failed", error=str(exc))
            await asyncio.sleep(self.interval)
