"""The location's run queue: the daemon half of ``rivers serve``.

Every ``queue_poll_interval`` it claims (atomically, in storage) as many of the location's
queued runs as it has room for under ``max_concurrent_runs`` and launches each *through the
code server's gRPC API*, like any other client would: the daemon part never executes user
code itself. Requested backfills are claimed the same way and executed in a worker each.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import grpc
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_fixed

from rivers._proto.rivers.v1 import codelocation_pb2 as pb
from rivers._proto.rivers.v1 import codelocation_pb2_grpc as pb_grpc
from rivers.errors import RiversError
from rivers.storage import RunRecord, RunStatus, Storage
from rivers.telemetry import get_logger
from rivers_codeserver.metrics import CodeServerMetrics
from rivers_codeserver.runs import RunWorkers

__all__ = ["RunQueue"]

log = get_logger("rivers.codeserver.queue")

_LAUNCH_TIMEOUT = 30.0
_RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, grpc.aio.AioRpcError) and exc.code() in _RETRYABLE


class RunQueue:
    """Claims the location's queued runs and requested backfills, and launches them.

    Args:
        storage: the shared store (claims are single conditional updates there).
        location_id: whose runs to claim.
        worker_name: names the claimer on claimed runs (the server id of this incarnation).
        workers: the code server's workers, counted against ``max_concurrent``.
        target: the code server's own gRPC address; runs are launched through it.
        interval: seconds between polls.
        max_concurrent: runs and backfills this location executes at once.
        metrics: where claims and waits are counted.
    """

    def __init__(
        self,
        storage: Storage,
        *,
        location_id: str,
        worker_name: Callable[[], str],
        workers: RunWorkers,
        target: str,
        interval: float,
        max_concurrent: int,
        metrics: CodeServerMetrics,
    ) -> None:
        self.storage = storage
        self.location_id = location_id
        self.worker_name = worker_name
        self.workers = workers
        self.interval = interval
        self.max_concurrent = max_concurrent
        self.metrics = metrics
        self._channel = grpc.aio.insecure_channel(target)
        self._stub = pb_grpc.CodeLocationStub(self._channel)  # type: ignore[no-untyped-call]  # generated
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.polls = 0
        """Polls completed so far (the first runs as soon as the queue starts)."""

    async def start(self) -> None:
        """Connect to the code server, then start polling in the background."""
        # Connected now, so the first launch does not pay for it.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._channel.channel_ready(), _LAUNCH_TIMEOUT)
        self._task = asyncio.create_task(self._loop(), name="rivers-run-queue")

    async def stop(self) -> None:
        """Stop claiming (in-flight launches finish), then close the channel."""
        self._stopping.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._channel.close()

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.tick()
            except Exception as exc:  # storage hiccup: try again next poll
                log.warning("codeserver.queue_failed", error=str(exc))
            self.polls += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval)

    async def tick(self) -> None:
        """One poll: claim what fits and launch it."""
        room = self.max_concurrent - self.workers.active
        if room <= 0 or not self.workers.accepting:
            return
        runs = await asyncio.to_thread(
            self.storage.claim_queued_runs,
            self.location_id,
            limit=room,
            worker=self.worker_name(),
        )
        if runs:
            self.metrics.queue_claims.labels("run").inc(len(runs))
            await asyncio.gather(*(self._launch(run) for run in runs))
            room -= len(runs)
        if room <= 0:
            return
        backfills = await asyncio.to_thread(
            self.storage.claim_requested_backfills, self.location_id, limit=room
        )
        for backfill in backfills:
            self.metrics.queue_claims.labels("backfill").inc()
            log.info("codeserver.backfill_claimed", backfill_id=backfill.backfill_id)
            await self.workers.launch_backfill(backfill.backfill_id)

    async def _launch(self, run: RunRecord) -> None:
        self.metrics.queue_wait_seconds.observe(max(time.time() - run.created_at, 0.0))
        request = pb.LaunchRunRequest(run_id=run.run_id)
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(_transient),
                stop=stop_after_attempt(3),
                wait=wait_fixed(0.2),
                reraise=True,
            ):
                with attempt:
                    reply = await self._stub.LaunchRun(request, timeout=_LAUNCH_TIMEOUT)
        except grpc.aio.AioRpcError as exc:
            reason = f"code location unreachable: {exc.code().name}: {exc.details()}"
            log.error("codeserver.launch_failed", run_id=run.run_id, error=reason)
            await self._fail(run.run_id, reason)
            return
        if reply.launched:
            log.info("codeserver.run_launched", run_id=run.run_id)
        else:
            log.info("codeserver.run_not_launched", run_id=run.run_id, reason=reply.message)

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
            log.error("codeserver.record_failed", run_id=run_id, error=str(exc))
