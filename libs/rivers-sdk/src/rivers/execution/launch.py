"""Driving a run's plan through the executor core: workers, pools and cancellation wired up."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from rivers.errors import RiversError
from rivers.execution._wire import dump_run_spec
from rivers.execution.core import RunOutcome, execute_plan, where_step_runs
from rivers.execution.eventlog import EventLog
from rivers.execution.executor import Executor
from rivers.execution.io import IOHandler
from rivers.execution.nodes import ResultStream
from rivers.execution.runcontext import RunContext
from rivers.storage import RunStatus

if TYPE_CHECKING:
    from rivers.execution.pools import PoolGate
    from rivers.execution.workers import WorkerPool

__all__ = ["drive_run", "run_sync"]

T = TypeVar("T")


def run_sync(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion from sync code, even inside a running event loop.

    A caller that already runs a loop in this thread (a notebook, an async application) gets
    the coroutine run on a fresh loop in a helper thread: one thread cannot drive two loops.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_as_coroutine(make))
    with ThreadPoolExecutor(1, thread_name_prefix="rivers-run") as pool:
        return pool.submit(asyncio.run, _as_coroutine(make)).result()


async def _as_coroutine(make: Callable[[], Awaitable[T]]) -> T:
    return await make()


class _References:
    """Run-process objects that workers reach by reference instead of by copy."""

    def __init__(self, storage: Any) -> None:
        self._objects: dict[str, Any] = {"storage": storage}
        self._storage = storage

    def local(self, obj: Any) -> str | None:
        if obj is self._storage:
            return "storage"
        if isinstance(obj, IOHandler) and obj.process_local:
            ref = f"io:{id(obj)}"
        elif isinstance(obj, ResultStream):
            ref = f"stream:{id(obj)}"
        else:
            return None
        self._objects[ref] = obj
        return ref

    def resolve(self, ref: str) -> Any:
        return self._objects[ref]


def _worker_spec(run: RunContext, refs: _References) -> Callable[[], bytes]:
    blob: list[bytes] = []

    def spec() -> bytes:
        if not blob:
            needed = set(run.plan.asset_keys)
            for key in run.plan.asset_keys:
                needed.update(i.asset_key for i in run.inputs[key])
            payload = {
                "run_id": run.run_id,
                "location_id": run.location_id,
                "plan": run.plan,
                "assets": {k: run.assets[k] for k in needed},
                "inputs": {k: run.inputs[k] for k in run.plan.asset_keys},
                "configs": dict(run.configs),
                "default_io": run.default_io,
                "storage": run.storage,
                "partition_keys": run.partition_keys,
            }
            try:
                blob.append(dump_run_spec(payload, refs.local))
            except Exception as exc:
                raise RiversError(
                    f"the run's assets cannot be sent to worker processes ({exc}); use "
                    "rs.Executor.in_process() or metadata={'rivers/executor': 'in_process'} "
                    "on the asset that holds the unpicklable object"
                ) from exc
        return blob[0]

    return spec


def drive_run(
    run: RunContext,
    executor: Executor,
    events: EventLog,
    *,
    pool_limits: dict[str, int] | None = None,
) -> RunOutcome:
    """Execute ``run``'s plan with ``executor``; blocks until the run ends."""
    storage = run.storage
    refs = _References(storage)
    spec = _worker_spec(run, refs)
    if any(where_step_runs(s, executor) == "worker" for s in run.plan.steps):
        spec()  # fail before anything runs when definitions cannot travel to a worker
    uses_pools = any(s.pools for s in run.plan.steps)

    def cancel_requested() -> bool:
        record = storage.get_run(run.run_id)
        return record is not None and record.status is RunStatus.CANCELING

    async def main() -> RunOutcome:
        loop = asyncio.get_running_loop()
        gate: PoolGate | None = None
        if uses_pools:
            from rivers.execution.pools import PoolGate

            if pool_limits:
                await asyncio.to_thread(storage.ensure_pool_limits, pool_limits)
            gate = PoolGate(storage, owner=f"{socket.gethostname()}:{os.getpid()}:{run.run_id}")
            gate.start()

        def workers() -> WorkerPool:
            from rivers.execution.workers import WorkerPool

            size = executor.max_workers if executor.kind == "parallel" else 1
            return WorkerPool(size, loop=loop, on_event=events.emit, resolve=refs.resolve)

        try:
            return await execute_plan(
                run,
                executor,
                workers=workers,
                worker_spec=spec,
                pools=gate,
                cancel_requested=cancel_requested,
                encode=lambda value: dump_run_spec(value, refs.local),
            )
        finally:
            if gate is not None:
                await asyncio.to_thread(gate.close)

    return run_sync(main)
