"""The executor core: one scheduler for every executor kind.

Steps start as soon as their upstream steps have succeeded (no level-by-level barriers),
subject to the executor's capacity and to concurrency pools; a failed step's downstream is
skipped, everything else keeps going. Sync steps run in a thread of the run process
(in-process) or in a worker process (parallel); async steps are tasks on the run's event loop.
A cancelled run stops launching, terminates what runs (SIGTERM, SIGKILL after a grace period)
and skips the rest.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from rivers.execution.events import ErrorInfo, EventKind
from rivers.execution.executor import Executor
from rivers.execution.runcontext import RunContext
from rivers.execution.step import arun_step, run_step
from rivers.planning.plan import PlanStep
from rivers.telemetry import get_logger

if TYPE_CHECKING:
    from rivers.execution.pools import PoolGate
    from rivers.execution.workers import StepExit, WorkerPool

__all__ = ["RunOutcome", "execute_plan"]

log = get_logger("rivers.execution.core")

Where = Literal["loop", "thread", "worker"]
RunOutcome = Literal["success", "failure", "canceled"]

_CANCEL_POLL = 0.5


def where_step_runs(step: PlanStep, executor: Executor) -> Where:
    """Async steps run on the loop; sync steps in a thread (in-process) or a worker."""
    if step.is_async:
        return "loop"
    kind = step.executor or executor.kind
    return "thread" if kind == "in_process" else "worker"


class _Scheduler:
    def __init__(
        self,
        run: RunContext,
        executor: Executor,
        *,
        workers: Callable[[], WorkerPool] | None,
        worker_spec: Callable[[], bytes] | None,
        pools: PoolGate | None,
        cancel_requested: Callable[[], bool] | None,
    ) -> None:
        self.run = run
        self.executor = executor
        self._workers_factory = workers
        self._workers: WorkerPool | None = None
        self._worker_spec = worker_spec
        self.pools = pools
        self.cancel_requested = cancel_requested
        steps = run.plan.steps
        self.steps = {s.key: s for s in steps}
        self.waiting_on = {s.key: set(s.upstream) for s in steps}
        self.children: dict[str, list[str]] = {s.key: [] for s in steps}
        for s in steps:
            for up in s.upstream:
                self.children[up].append(s.key)
        self.outcome: dict[str, bool] = {}
        self.running: dict[str, asyncio.Task[bool]] = {}
        serial = executor.kind == "in_process"
        self.thread_slots = asyncio.Semaphore(1)
        self.async_slots = (
            self.thread_slots
            if serial
            else asyncio.Semaphore(executor.max_async_concurrent or len(steps) or 1)
        )
        self.worker_slots = asyncio.Semaphore(executor.max_workers)
        self.canceled = False

    # --- launching -------------------------------------------------------------------------

    def workers(self) -> WorkerPool:
        if self._workers is None:
            assert self._workers_factory is not None
            self._workers = self._workers_factory()
            self._workers.start()
        return self._workers

    def _slots(self, where: Where) -> asyncio.Semaphore:
        return {"loop": self.async_slots, "thread": self.thread_slots}.get(where, self.worker_slots)

    async def _run_step(self, step: PlanStep) -> bool:
        where = where_step_runs(step, self.executor)
        claim = None
        if self.pools is not None and step.pools:
            claim = await self.pools.acquire(
                step.pools, step.pool_slots, run_id=self.run.run_id, step_key=step.key
            )
            if claim.waited > 0.001:
                self.run.emit(
                    EventKind.LOG,
                    step,
                    message=f"waited {claim.waited:.2f}s for pool slots {list(step.pools)}",
                )
        try:
            async with self._slots(where):
                if where == "loop":
                    return await arun_step(self.run, step)
                if where == "thread":
                    return await asyncio.to_thread(run_step, self.run, step)
                return await self._in_worker(step)
        finally:
            if claim is not None and self.pools is not None:
                self.pools.release(claim)

    async def _in_worker(self, step: PlanStep) -> bool:
        assert self._worker_spec is not None
        spec = self._worker_spec()
        attempt = 0
        policy = self.run.assets[step.asset_keys[0]].retry_policy
        while True:
            result: StepExit = await self.workers().run_step(
                self.run.run_id, spec, step.key, attempt
            )
            if result.crash is None:
                self.run.stored_outputs.update(result.stored)
                return result.ok
            message = "run canceled" if self.canceled else result.crash
            error = ErrorInfo(error_type="WorkerCrashed", message=message)
            if not self.canceled and policy is not None and attempt < policy.max_retries:
                attempt += 1
                self.run.emit(
                    EventKind.STEP_UP_FOR_RETRY,
                    step,
                    asset_key=step.asset_keys[0],
                    level="WARNING",
                    message=f"{message}; retrying (attempt {attempt + 1})",
                    error=error,
                    attempt=attempt - 1,
                )
                wait = policy.wait_before(attempt)
                if wait:
                    await asyncio.sleep(wait)
                continue
            self._fail_unreported(step, error, attempt)
            return False

    def _fail_unreported(self, step: PlanStep, error: ErrorInfo, attempt: int) -> None:
        # The worker died before it could report: record the failure on its behalf.
        asset_key = step.asset_keys[0]
        self.run.emit(
            EventKind.STEP_FAILURE,
            step,
            asset_key=asset_key,
            level="ERROR",
            message=f"{error.error_type}: {error.message}",
            error=error,
            attempt=attempt,
        )
        keys = self.run.keys_of(self.run.assets[asset_key])
        for partition_key in [None] if keys is None else keys:
            self.run.emit(
                EventKind.ASSET_FAILED,
                step,
                asset_key=asset_key,
                partition_key=partition_key,
                level="ERROR",
                message=error.message,
            )

    # --- outcomes --------------------------------------------------------------------------

    def _skip_downstream(self, key: str, reason: str) -> None:
        frontier = deque([(key, reason)])
        while frontier:
            parent, why = frontier.popleft()
            for child in self.children[parent]:
                if child in self.outcome or child in self.running:
                    continue
                self.outcome[child] = False
                self.run.skipped_steps.append(child)
                step = self.steps[child]
                self.run.emit(
                    EventKind.STEP_SKIPPED,
                    step,
                    asset_key=step.asset_keys[0],
                    level="WARNING",
                    message=why,
                )
                frontier.append((child, f"skipped: upstream step {child!r} did not run"))

    def _settle(self, key: str, ok: bool) -> list[str]:
        self.outcome[key] = ok
        if not ok:
            self.run.failed_steps.append(key)
            self._skip_downstream(key, f"skipped: upstream step {key!r} did not succeed")
            return []
        ready = []
        for child in self.children[key]:
            pending = self.waiting_on[child]
            pending.discard(key)
            if not pending and child not in self.outcome:
                ready.append(child)
        return ready

    async def _watch_cancel(self) -> None:
        assert self.cancel_requested is not None
        while True:
            await asyncio.sleep(_CANCEL_POLL)
            if await asyncio.to_thread(self.cancel_requested):
                self.run.canceled.set()
                return

    async def _cancel_running(self) -> None:
        self.canceled = True
        grace = self.executor.cancel_grace
        stops = []
        for key, task in self.running.items():
            where = where_step_runs(self.steps[key], self.executor)
            if where == "worker" and self._workers is not None:
                stops.append(self._workers.terminate(key, grace))
            elif where == "loop":
                task.cancel()
            # A thread cannot be stopped from outside: it finishes its step.
        await asyncio.gather(*stops)

    async def _tracked(self, key: str) -> None:
        try:
            ok = await self._run_step(self.steps[key])
        except asyncio.CancelledError:
            ok = False
        except Exception:
            log.exception("core.step_crashed", step=key)
            ok = False
        self.finished.put_nowait((key, ok))

    async def execute(self) -> RunOutcome:
        ready = deque(s.key for s in self.run.plan.steps if not s.upstream)
        self.finished: asyncio.Queue[tuple[str, bool]] = asyncio.Queue()
        watcher = (
            asyncio.create_task(self._watch_cancel()) if self.cancel_requested is not None else None
        )
        try:
            while ready or self.running:
                if self.run.canceled.is_set() and not self.canceled:
                    await self._cancel_running()
                while ready and not self.canceled:
                    key = ready.popleft()
                    self.running[key] = asyncio.create_task(self._tracked(key))
                if not self.running:
                    break
                try:
                    key, ok = await asyncio.wait_for(self.finished.get(), _CANCEL_POLL)
                except TimeoutError:
                    continue
                del self.running[key]
                ready.extend(self._settle(key, ok))
                while not self.finished.empty():
                    key, ok = self.finished.get_nowait()
                    del self.running[key]
                    ready.extend(self._settle(key, ok))
        except asyncio.CancelledError:
            # The caller was interrupted (Ctrl-C): stop what runs, then report it.
            self.run.canceled.set()
            await self._cancel_running()
            await asyncio.gather(*self.running.values(), return_exceptions=True)
            raise
        finally:
            if watcher is not None:
                watcher.cancel()
            if self._workers is not None:
                self._workers.forget_run(self.run.run_id)
                await self._workers.close()
        if self.canceled:
            self._skip_rest("skipped: run canceled")
            return "canceled"
        return "success" if all(self.outcome.get(s) for s in self.steps) else "failure"

    def _skip_rest(self, reason: str) -> None:
        for key, step in self.steps.items():
            if key not in self.outcome:
                self.outcome[key] = False
                self.run.skipped_steps.append(key)
                self.run.emit(
                    EventKind.STEP_SKIPPED,
                    step,
                    asset_key=step.asset_keys[0],
                    level="WARNING",
                    message=reason,
                )


async def execute_plan(
    run: RunContext,
    executor: Executor,
    *,
    workers: Callable[[], WorkerPool] | None = None,
    worker_spec: Callable[[], bytes] | None = None,
    pools: PoolGate | None = None,
    cancel_requested: Callable[[], bool] | None = None,
) -> RunOutcome:
    """Execute every step of ``run.plan``; returns how the run ended."""
    started = time.perf_counter()
    outcome = await _Scheduler(
        run,
        executor,
        workers=workers,
        worker_spec=worker_spec,
        pools=pools,
        cancel_requested=cancel_requested,
    ).execute()
    log.debug(
        "core.done", run_id=run.run_id, outcome=outcome, seconds=time.perf_counter() - started
    )
    return outcome
