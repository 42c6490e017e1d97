"""The location's run queue: claims its queued runs under the global limits and launches them.

Every ``interval`` (or at once when :meth:`RunQueue.wake` is called, e.g. right after a
schedule queued a run) it claims, in one storage transaction, as many of the location's
``QUEUED`` runs as the global ``max_concurrent_runs`` and tag concurrency limits allow (by
priority, then age; safe with several daemons claiming at once), and launches each through the
code server's ``LaunchRun``: the daemon never executes user code itself. A run the code server
cannot be reached for is failed with the reason. Canceling a queued run is the API's business
(the run simply is no longer ``QUEUED``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from rivers import tracing
from rivers.errors import RiversError
from rivers.storage import RunRecord, RunStatus, Storage
from rivers.telemetry import get_logger
from rivers_daemon.codeserver import CodeLocationUnreachable, CodeServerClient
from rivers_daemon.metrics import DaemonMetrics

__all__ = ["RunQueue"]

log = get_logger("rivers.daemon.queue")


class RunQueue:
    """Claims the location's queued runs and launches them through the code server.

    Args:
        storage: the shared store (claims honour the global limits stored there).
        location_id: whose runs to claim.
        client: the code server client runs are launched through.
        worker: names the claimer on claimed runs (the daemon's id).
        interval: seconds between polls.
        batch_size: runs claimed per poll, at most.
        metrics: where claims and waits are counted.
    """

    def __init__(
        self,
        storage: Storage,
        location_id: str,
        client: CodeServerClient,
        *,
        worker: str,
        interval: float,
        batch_size: int,
        metrics: DaemonMetrics,
    ) -> None:
        self.storage = storage
        self.location_id = location_id
        self.client = client
        self.worker = worker
        self.interval = interval
        self.batch_size = batch_size
        self.metrics = metrics
        self.polls = 0
        """Polls completed so far (the first runs as soon as the queue starts)."""
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._launches: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Start polling in the background."""
        self._task = asyncio.create_task(self._loop(), name="rivers-daemon-queue")

    def wake(self) -> None:
        """Poll now rather than at the next interval (runs were just queued)."""
        self._wake.set()

    async def stop(self) -> None:
        """Stop claiming; launches in flight finish."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._launches:
            await asyncio.gather(*self._launches, return_exceptions=True)

    async def _loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                claimed = await self.tick()
            except Exception as exc:  # storage hiccup: try again next poll
                claimed = 0
                log.warning("daemon.queue_failed", error=str(exc))
            self.polls += 1
            if claimed >= self.batch_size:
                continue  # more may be waiting: claim again at once
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)

    async def tick(self) -> int:
        """One poll: claim what the limits allow and start launching it; returns how many."""
        runs = await asyncio.to_thread(
            self.storage.claim_queued_runs,
            self.location_id,
            limit=self.batch_size,
            worker=self.worker,
        )
        if not runs:
            return 0
        self.metrics.runs_claimed.inc(len(runs))
        now = time.time()
        for run in runs:
            self.metrics.queue_wait_seconds.observe(max(now - run.created_at, 0.0))
            # Launches run in the background: a slow LaunchRun never delays the next claim.
            task = asyncio.create_task(self._launch(run), name=f"rivers-launch-{run.run_id}")
            self._launches.add(task)
            task.add_done_callback(self._launches.discard)
        return len(runs)

    async def _launch(self, run: RunRecord) -> None:
        try:
            # Continue the trace of the call that queued the run (when tracing is on).
            trace = run.tags.get(tracing.TRACE_TAG)
            with (
                tracing.attached({"traceparent": trace} if trace else None),
                tracing.span("rivers.launch", {"rivers.run_id": run.run_id}),
            ):
                outcome = await self.client.launch_run(run.run_id)
        except CodeLocationUnreachable as exc:
            self.metrics.launch_failures.inc()
            log.error("daemon.launch_failed", run_id=run.run_id, error=str(exc))
            await self._fail(run.run_id, str(exc))
            return
        if outcome.launched:
            log.info("daemon.run_launched", run_id=run.run_id)
        else:
            log.info("daemon.run_not_launched", run_id=run.run_id, reason=outcome.message)

    async def _fail(self, run_id: str, reason: str) -> None:
        try:
            await asyncio.to_thread(
                self.storage.update_run,
                run_id,
                status=RunStatus.FAILURE,
                end_time=time.time(),
                failure_reason=reason,
            )
        except RiversError as exc:
            log.error("daemon.record_failed", run_id=run_id, error=str(exc))

    def __repr__(self) -> str:
        return f"RunQueue({self.location_id!r}, polls={self.polls})"
