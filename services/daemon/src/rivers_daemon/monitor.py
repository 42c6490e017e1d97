"""The monitor: fails stale runs, reclaims pool leases, purges ticks, prunes, refreshes gauges.

Every ``interval`` seconds:

* runs of the location whose run worker stopped heartbeating ``stale_run_timeout`` seconds ago
  are failed (one conditional update in storage, so a gateway's monitor never fails a run
  twice) and get a ``RUN_FAILURE`` event with the reason;
* pool slots whose holder's lease expired are returned;
* ticks older than the retention are deleted (at most once a minute);
* with a ``retention_days``, the location's finished runs older than it lose their events
  and (unless they hold an asset's latest materialization) their records, and its ticks older
  than it are deleted, like ``rivers storage prune`` (every ``retention_interval``; the first
  prune runs one interval after start, so restarts do not stampede the store). A prune runs
  beside the sweeps (a large backlog takes minutes; stale runs must still be failed
  meanwhile) and stops between two batches when the daemon stops;
* the state gauges (runs by status, queue depth, pools, step durations) are refreshed.
"""

from __future__ import annotations

import asyncio
import threading
import time

from rivers.execution.stale import fail_stale_runs
from rivers.storage import Storage
from rivers.storage.records import RunRecord
from rivers.telemetry import get_logger
from rivers_daemon.loops import cancel
from rivers_daemon.metrics import DaemonMetrics
from rivers_daemon.observe import StateObserver
from rivers_daemon.ticks import TickRecorder

__all__ = ["Monitor"]

log = get_logger("rivers.daemon.monitor")

_PURGE_EVERY = 60.0


class _Stopped(Exception):
    """Raised between two prune batches when the monitor stops."""


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
        retention_days: prune the location's history older than this (None: never).
        retention_keep_last: runs the prune always keeps.
        retention_interval: seconds between prunes.
        retention_batch_size: rows per prune transaction.
        finished_runs_interval: seconds between counts of finished runs (for the gauge).
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
        retention_days: float | None = None,
        retention_keep_last: int = 0,
        retention_interval: float = 3600.0,
        retention_batch_size: int = 1000,
        finished_runs_interval: float = 60.0,
    ) -> None:
        self.storage = storage
        self.location_id = location_id
        self.ticks = ticks
        self.metrics = metrics
        self.stale_run_timeout = stale_run_timeout
        self.tick_retention_days = tick_retention_days
        self.interval = interval
        self.retention_days = retention_days
        self.retention_keep_last = retention_keep_last
        self.retention_interval = retention_interval
        self.retention_batch_size = retention_batch_size
        self.observer = StateObserver(
            storage, location_id, metrics, finished_runs_interval=finished_runs_interval
        )
        self.sweeps = 0
        self.prunes = 0
        self._purged_at = float("-inf")
        self._pruned_at = time.monotonic()
        self._pruning: asyncio.Task[None] | None = None
        self._stopping = threading.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start sweeping."""
        self._task = asyncio.create_task(self._run(), name="rivers-daemon-monitor")

    async def stop(self) -> None:
        """Stop sweeping (a sweep in progress finishes in its thread, a prune at its batch)."""
        self._stopping.set()
        await cancel(self._task)
        if self._pruning is not None:
            await asyncio.gather(self._pruning, return_exceptions=True)

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
        if (
            self.retention_days is not None
            and (self._pruning is None or self._pruning.done())
            and time.monotonic() - self._pruned_at >= self.retention_interval
        ):
            self._pruned_at = time.monotonic()
            self._pruning = asyncio.create_task(self._prune_logged(), name="rivers-daemon-prune")
        await asyncio.to_thread(self.observer.refresh)
        self.sweeps += 1
        return failed

    async def _prune_logged(self) -> None:
        try:
            await self.prune()
        except _Stopped:
            log.info("daemon.prune_stopped")
        except Exception as exc:  # storage hiccup: the next prune finishes the job
            log.warning("daemon.prune_failed", error=str(exc))

    async def prune(self) -> None:
        """Prune the location's history older than ``retention_days`` now.

        Raises:
            _Stopped: the monitor is stopping (between two batches; the rest is left to the
                next prune).
        """
        assert self.retention_days is not None
        cutoff = time.time() - self.retention_days * 86400.0

        def check(table: str, rows: int) -> None:
            if self._stopping.is_set():
                raise _Stopped

        result = await asyncio.to_thread(
            self.storage.prune,
            cutoff,
            keep_last=self.retention_keep_last,
            location_id=self.location_id,
            batch_size=self.retention_batch_size,
            on_progress=check,
        )
        for table, rows in (
            ("run_event", result.run_events),
            ("run", result.runs),
            ("tick", result.ticks),
        ):
            self.metrics.pruned_rows.labels(table).inc(rows)
        self.prunes += 1
        log.info("daemon.pruned", **result.as_dict())

    async def _run(self) -> None:
        while True:
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # storage hiccup: try again next time
                log.warning("daemon.monitor_failed", error=str(exc))
            await asyncio.sleep(self.interval)
