"""The run monitor: fails runs whose run worker died (its heartbeat stopped).

Every ``interval`` seconds it fails the runs that have not heartbeated for ``older_than``
seconds, logs each, and appends a ``RUN_FAILURE`` event with the reason so the run's event log
(and anyone watching it) shows why it ended. Claiming a stale run is one conditional update in
storage, so several monitors (gateways, code servers) never fail a run twice.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter

from rivers.execution.stale import fail_stale_runs
from rivers.storage.records import RunRecord
from rivers.telemetry import get_logger

if TYPE_CHECKING:
    from rivers.storage import Storage

__all__ = ["RunMonitor"]

log = get_logger("rivers.ui")


class RunMonitor:
    """Fails stale runs (``rivers.execution.stale``) every ``interval`` seconds, in a task."""

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
        failed = await asyncio.to_thread(
            fail_stale_runs, self.storage, self.older_than, log=log, log_prefix="ui"
        )
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
