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
import contextlib
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from rivers import tracing
from rivers.definitions.retry import RetryPolicy
from rivers.execution.events import ErrorInfo, EventKind
from rivers.execution.executor import Executor
from rivers.execution.fanout import FanOut
from rivers.execution.nodes import item_step_key, map_item_program
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
T = TypeVar("T")


def where_step_runs(step: PlanStep, executor: Executor) -> Where:
    """Async steps run on the loop; sync steps in a thread (in-process) or a worker."""
    if step.is_async:
        return "loop"
    kind = step.executor or executor.kind
    return "thread" if kind == "in_process" else "worker"


async def in_own_thread(fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn(*args)`` in a thread of its own and await its result.

    Not ``asyncio.to_thread``: its few shared threads also serve storage calls, and a step
    (a stream consumer especially) can occupy one for a long time.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(value: Any, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)

    def target() -> None:
        try:
            value = fn(*args)
        except BaseException as exc:
            loop.call_soon_threadsafe(settle, None, exc)
        else:
            loop.call_soon_threadsafe(settle, value, None)

    threading.Thread(target=target, name="rivers-step", daemon=True).start()
    return await future


def _asset_of(step: PlanStep) -> str | None:
    """The asset a step's events are about (None for a graph's internal tasks)."""
    return step.asset_keys[0] if step.asset_keys else None


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
        encode: Callable[[Any], bytes] | None = None,
    ) -> None:
        self.run = run
        self.encode = encode or (lambda value: b"")
        self.fanout = FanOut(run)
        self.executor = executor
        self._workers_factory = workers
        self._workers: WorkerPool | None = None
        self._worker_spec = worker_spec
        self.pools = pools
        self.cancel_requested = cancel_requested
        steps = run.plan.steps
        self.steps = {s.key: s for s in steps}
        # Stream edges are waited on separately: their consumer starts on the first result.
        self.waiting_on = {s.key: set(s.upstream) - set(s.streams) for s in steps}
        self.stream_wait = {s.key: set(s.streams) for s in steps if s.streams}
        self.launched: set[str] = set()
        self.children: dict[str, list[str]] = {s.key: [] for s in steps}
        for s in steps:
            for up in s.upstream:
                self.children[up].append(s.key)
        self.outcome: dict[str, bool] = {}
        self.running: dict[str, asyncio.Task[None]] = {}
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

    async def _with_pools(
        self,
        step: PlanStep,
        key: str,
        run: Callable[[], Awaitable[T]],
        refused: T,
        span: Any = None,
    ) -> T:
        claim = None
        if self.pools is not None and step.pools:
            from rivers.execution.pools import PoolLimitError

            try:
                claim = await self.pools.acquire(
                    step.pools, step.pool_slots, run_id=self.run.run_id, step_key=key
                )
            except PoolLimitError as exc:
                error = ErrorInfo(error_type="PoolLimitError", message=str(exc))
                self.run.emit(
                    EventKind.STEP_FAILURE,
                    key,
                    asset_key=_asset_of(step),
                    level="ERROR",
                    message=f"PoolLimitError: {exc}",
                    error=error,
                )
                return refused
            if claim.waited > 0.001:
                tracing.add_event(
                    "pool wait",
                    {"rivers.pools": list(step.pools), "rivers.waited": claim.waited},
                    span=span,
                )
                self.run.emit(
                    EventKind.LOG,
                    key,
                    message=f"waited {claim.waited:.2f}s for pool slots {list(step.pools)}",
                )
        try:
            return await run()
        finally:
            if claim is not None and self.pools is not None:
                await self.pools.arelease(claim)

    async def _run_step(self, step: PlanStep) -> bool:
        if step.kind == "map":
            return await self.fanout.run_map(
                step, self._run_item, lambda: self._stream_started(step.key)
            )
        where = where_step_runs(step, self.executor)
        slots: Any = self._slots(where)
        if step.streams:
            # A stream consumer mostly waits for mapped items; holding an executor slot (or a
            # worker process) meanwhile could starve the very items it waits for.
            where = "loop" if step.is_async else "thread"
            slots = contextlib.nullcontext()
        extras = self.fanout.injected(step)
        if extras:
            self.run.injected[step.key] = extras

        async def execute() -> bool:
            async with slots:
                if where == "loop":
                    return bool(await arun_step(self.run, step))
                if where == "thread":
                    return bool(await in_own_thread(run_step, self.run, step))
                return await self._in_worker(step, extras)

        with self._span(step, step.key, where) as span:
            return await self._with_pools(step, step.key, execute, False, span)

    def _span(self, step: PlanStep, key: str, where: str) -> contextlib.AbstractContextManager[Any]:
        """The step's span (a no-op when tracing is off)."""
        if not tracing.active():
            return contextlib.nullcontext()
        keys = self.run.partition_keys
        partition = None
        if keys is not None and len(keys):
            partition = keys[0] if len(keys) == 1 else f"{keys[0]}...{keys[-1]} ({len(keys)})"
        # A leaf under the run's span (not made current: cheaper; the run id is the run's).
        return tracing.child_span(
            f"rivers.step {key}",
            {
                "rivers.step_key": key,
                # only when they are not just the step's own key (the common case)
                "rivers.asset_keys": None if step.asset_keys == (key,) else list(step.asset_keys),
                "rivers.partition": partition,
                "rivers.executor": where,
            },
        )

    async def _run_item(self, step: PlanStep, index: int, item: Any) -> tuple[bool, Any]:
        where = where_step_runs(step, self.executor)

        async def execute() -> tuple[bool, Any]:
            async with self._slots(where):
                if where == "loop":
                    program = map_item_program(self.run, step, index, item)
                    ok, value = await arun_step(self.run, step, program=program)
                    return ok, value
                if where == "thread":
                    program = map_item_program(self.run, step, index, item)
                    ok, value = await in_own_thread(run_step, self.run, step, 0, program)
                    return ok, value
                assert self._worker_spec is not None
                result = await self.workers().run_item(
                    self.run.run_id, self._worker_spec(), step.key, index, self.encode(item)
                )
                if result.crash is not None:
                    key = item_step_key(step.key, index)
                    message = "run canceled" if self.canceled else result.crash
                    self.run.emit(
                        EventKind.STEP_FAILURE,
                        key,
                        level="ERROR",
                        message=f"WorkerCrashed: {message}",
                        error=ErrorInfo(error_type="WorkerCrashed", message=message),
                    )
                    return False, None
                return result.ok, result.value

        key = item_step_key(step.key, index)
        with self._span(step, key, where) as span:
            return await self._with_pools(step, key, execute, (False, None), span)

    async def _in_worker(self, step: PlanStep, extras: dict[str, Any]) -> bool:
        assert self._worker_spec is not None
        spec = self._worker_spec()
        encoded = self.encode(extras) if extras else None
        attempt = 0
        policy = self._retry_policy(step)
        while True:
            result: StepExit = await self.workers().run_step(
                self.run.run_id, spec, step.key, attempt, encoded
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
                    asset_key=_asset_of(step),
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

    def _retry_policy(self, step: PlanStep) -> RetryPolicy | None:
        if step.graph is not None and step.node is not None:
            graph = self.run.assets[step.graph].graph
            assert graph is not None
            return graph.node(step.node).task.retry_policy
        return self.run.assets[step.asset_keys[0]].retry_policy

    def _stream_started(self, map_key: str) -> None:
        for child, sources in self.stream_wait.items():
            if map_key in sources:
                sources.discard(map_key)
                if not sources and not self.waiting_on[child]:
                    self.finished.put_nowait(("ready", child, True))

    def _fail_unreported(self, step: PlanStep, error: ErrorInfo, attempt: int) -> None:
        # The worker died before it could report: record the failure on its behalf.
        asset_key = _asset_of(step)
        self.run.emit(
            EventKind.STEP_FAILURE,
            step,
            asset_key=asset_key,
            level="ERROR",
            message=f"{error.error_type}: {error.message}",
            error=error,
            attempt=attempt,
        )
        for key in step.asset_keys:
            keys = self.run.keys_of(self.run.assets[key])
            for partition_key in [None] if keys is None else keys:
                self.run.emit(
                    EventKind.ASSET_FAILED,
                    step,
                    asset_key=key,
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
                    asset_key=_asset_of(step),
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
            self.stream_wait.get(child, set()).discard(key)
            if not pending and not self.stream_wait.get(child) and child not in self.launched:
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
        self.finished.put_nowait(("done", key, ok))

    async def execute(self) -> RunOutcome:
        ready = deque(s.key for s in self.run.plan.steps if not s.upstream)
        self.finished: asyncio.Queue[tuple[str, str, bool]] = asyncio.Queue()
        watcher = (
            asyncio.create_task(self._watch_cancel()) if self.cancel_requested is not None else None
        )
        try:
            while ready or self.running:
                if self.run.canceled.is_set() and not self.canceled:
                    await self._cancel_running()
                while ready and not self.canceled:
                    key = ready.popleft()
                    if key in self.launched or key in self.outcome:
                        continue
                    self.launched.add(key)
                    self.running[key] = asyncio.create_task(self._tracked(key))
                if not self.running:
                    break
                try:
                    message = await asyncio.wait_for(self.finished.get(), _CANCEL_POLL)
                except TimeoutError:
                    continue
                messages = [message]
                while not self.finished.empty():
                    messages.append(self.finished.get_nowait())
                for kind, key, ok in messages:
                    if kind == "ready":
                        ready.append(key)
                        continue
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
                    asset_key=_asset_of(step),
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
    encode: Callable[[Any], bytes] | None = None,
) -> RunOutcome:
    """Execute every step of ``run.plan``; returns how the run ended.

    ``encode`` pickles values handed to worker processes (collected results, items).
    """
    started = time.perf_counter()
    outcome = await _Scheduler(
        run,
        executor,
        workers=workers,
        worker_spec=worker_spec,
        pools=pools,
        cancel_requested=cancel_requested,
        encode=encode,
    ).execute()
    log.debug(
        "core.done", run_id=run.run_id, outcome=outcome, seconds=time.perf_counter() - started
    )
    return outcome
