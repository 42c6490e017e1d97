"""The run monitor: fails runs whose run worker died (its heartbeat stopped).

Every ``interval`` seconds it fails the runs that have not heartbeated for ``older_than``
seconds, logs each, and appends a ``RUN_FAILURE`` event with the reason so the run's event log
(and anyone watching it) shows why it ended. Claiming a stale run is one conditional update in
storage, so several monitors (gateways, code servers) never fail a run twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter

from rivers.execution.events import EventKind, RunEvent
from rivers.storage.records import RunRecord
from rivers.telemetry import get_logger

if TYPE_CHECKING:
    from rivers.storage import Storage

__all__ = ["RunMonitor", "fail_stale_runs"]

log = get_logger("rivers.ui")


def fail_stale_runs(storage: Storage, older_than: float) -> list[RunRecord]:
    """Fail the runs whose worker stopped heartbeating; returns them (blocking)."""
    failed = storage.fail_stale_runs(older_than=older_than)
    for run in failed:
        reason = run.failure_reason or "the run worker stopped heartbeating"
        log.warning(
            "ui.stale_run_failed", run_id=run.run_id, location_id=run.location_id, reason=reason
        )
        event = RunEvent(
            run_id=run.run_id,
            kind=EventKind.RUN_FAILURE,
            timestamp=run.end_time or time.time(),
            level="ERROR",
            message=reason,
        )
        try:
            storage.store_events([event], location_id=run.location_id)
        except Exception as exc:  # the run is failed either way; the event is a courtesy
            log.warning("ui.stale_run_event_failed", run_id=run.run_id, error=str(exc))
    return failed


class RunMonitor:
    """Runs :func:`fail_stale_runs` every ``interval`` seconds in the background."""

    def __init__(
        self,
        storage: Storage,
        *,
        older_than: float,
        interval: float,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.storage = storage
        self.older_than = older_than
        self.interval = interval
        self.failed = Counter(
            "rivers_ui_stale_runs_failed",
            "runs failed because their run worker stopped heartbeating",
            registry=registry,
        )
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start sweeping."""
        self._task = asyncio.create_task(self._run(), name="rivers-ui-run-monitor")

    async def stop(self) -> None:
        """Stop sweeping (a sweep in progress finishes in its thread)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def sweep(self) -> list[RunRecord]:
        """One sweep now."""
        failed = await asyncio.to_thread(fail_stale_runs, self.storage, self.older_than)
        self.failed.inc(len(failed))
        return failed

    async def _run(self) -> None:
        while True:
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # storage hiccup: try again next time
                log.warning("ui.monitor_failed", error=str(exc))
            await asyncio.sleep(self.interval)
