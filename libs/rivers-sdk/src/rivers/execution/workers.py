"""The parallel executor's pool of reusable step worker processes (the run-process side).

A worker that dies (segfault, ``os._exit``, OOM kill) fails only the step it was running: its
reader thread sees the channel close, the step's future gets the exit status, and the next
step gets a fresh worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rivers.execution._wire import Channel, ChannelClosed
from rivers.execution.events import RunEvent
from rivers.telemetry import get_logger

__all__ = ["StepExit", "WorkerPool"]

log = get_logger("rivers.execution.workers")

Resolver = Callable[[str], Any]


@dataclass(frozen=True, slots=True)
class StepExit:
    """How a step ended in a worker: ``ok`` from the step, or ``crash`` when the worker died."""

    ok: bool
    stored: tuple[str, ...] = ()
    crash: str | None = None
    value: Any = None


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "worker process stopped responding"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = " (killed: out of memory?)" if -code == signal.SIGKILL else ""
        return f"worker process died from {name}{hint}"
    return f"worker process exited with status {code}"


class _Worker:
    """One worker process and the thread reading what it sends."""

    def __init__(self, pool: WorkerPool) -> None:
        self.pool = pool
        parent_read, child_write = os.pipe()
        child_read, parent_write = os.pipe()
        self.process = subprocess.Popen(  # noqa: S603 - our own module with our interpreter
            [sys.executable, "-m", "rivers.execution._worker", str(child_read), str(child_write)],
            pass_fds=(child_read, child_write),
            stdin=subprocess.DEVNULL,
            env=pool.env,
        )
        os.close(child_read)
        os.close(child_write)
        self.channel = Channel(parent_read, parent_write)
        self.runs: set[str] = set()
        self.future: asyncio.Future[StepExit] | None = None
        self.ready = threading.Event()
        self.alive = True
        self.thread = threading.Thread(target=self._read, name="rivers-worker-reader", daemon=True)
        self.thread.start()

    def _settle(self, result: StepExit) -> None:
        future = self.future
        if future is not None and not future.done():
            self.pool.loop.call_soon_threadsafe(
                lambda: None if future.done() else future.set_result(result)
            )

    def _read(self) -> None:
        try:
            while True:
                message = self.channel.recv()
                kind = message[0]
                if kind == "events":
                    for event in message[1]:
                        self.pool.on_event(event)
                elif kind == "event":
                    self.pool.on_event(message[1])
                elif kind == "call":
                    _, request_id, ref, method, args, kwargs = message
                    try:
                        value = getattr(self.pool.resolve(ref), method)(*args, **kwargs)
                        reply: tuple[Any, ...] = ("reply", request_id, True, value)
                    except Exception as exc:
                        reply = ("reply", request_id, False, exc)
                    self.channel.send(reply)
                elif kind == "done":
                    _, ok, stored, value = message
                    self._settle(StepExit(ok=bool(ok), stored=tuple(stored), value=value))
                elif kind == "ready":
                    self.ready.set()
        except (ChannelClosed, OSError, ValueError):
            pass  # end of file: the worker exited (or was told to)
        self.alive = False
        self.ready.set()
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        self._settle(StepExit(ok=False, crash=_describe_exit(code)))

    def signal(self, signum: int) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signum)

    def close(self) -> None:
        # Closing our sending end makes the worker read end-of-file and exit; its exit
        # closes the pipe our reader thread reads, which then ends by itself.
        self.channel.close_writer()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.thread.join(timeout=5)
        self.channel.close()


class WorkerPool:
    """Up to ``size`` worker processes running steps, each reused until it dies.

    ``resolve(ref)`` returns the run-process object behind a reference a worker calls
    (storage, in-memory IO handlers); ``on_event`` receives every event workers send.
    """

    def __init__(
        self,
        size: int,
        *,
        loop: asyncio.AbstractEventLoop,
        on_event: Callable[[RunEvent], None],
        resolve: Resolver,
    ) -> None:
        self.size = size
        self.loop = loop
        self.on_event = on_event
        self.resolve = resolve
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self._idle: asyncio.Queue[_Worker] = asyncio.Queue()
        self._workers: list[_Worker] = []
        self._busy: dict[str, _Worker] = {}

    def start(self) -> None:
        """Start every worker now, so their start-up overlaps (a worker takes ~0.3 s)."""
        while len(self._workers) < self.size:
            worker = _Worker(self)
            self._workers.append(worker)
            self._idle.put_nowait(worker)

    async def _take(self) -> _Worker:
        while True:
            worker = await self._idle.get()
            if worker.alive:
                return worker
            self._workers.remove(worker)
            await asyncio.to_thread(worker.close)  # reap the dead one and its pipes
            replacement = _Worker(self)
            self._workers.append(replacement)
            return replacement

    async def _dispatch(
        self, run_id: str, spec: bytes, busy_key: str, request: tuple[Any, ...]
    ) -> StepExit:
        worker = await self._take()
        self._busy[busy_key] = worker
        try:
            await asyncio.to_thread(worker.ready.wait)
            worker.future = self.loop.create_future()
            try:
                if run_id not in worker.runs:
                    worker.channel.send(("run", run_id, spec))
                    worker.runs.add(run_id)
                worker.channel.send(request)
            except OSError:
                pass  # the reader thread reports the dead worker through the future
            return await worker.future
        finally:
            self._busy.pop(busy_key, None)
            worker.future = None
            self._idle.put_nowait(worker)

    async def run_step(
        self, run_id: str, spec: bytes, step_key: str, attempt: int, extras: bytes | None = None
    ) -> StepExit:
        """Run one step in an idle worker; returns how it ended (crash included)."""
        return await self._dispatch(
            run_id, spec, step_key, ("step", run_id, step_key, attempt, extras)
        )

    async def run_item(
        self, run_id: str, spec: bytes, step_key: str, index: int, item: bytes
    ) -> StepExit:
        """Run one mapped item of a map step; the result travels back in ``value``."""
        return await self._dispatch(
            run_id, spec, f"{step_key}[{index}]", ("item", run_id, step_key, index, item)
        )

    async def terminate(self, step_key: str, grace: float) -> None:
        """Stop the worker running ``step_key``: SIGTERM, then SIGKILL after ``grace`` s."""
        worker = self._busy.get(step_key)
        if worker is None:
            return
        worker.signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.to_thread(worker.process.wait), grace)
        except TimeoutError:
            log.warning("worker.kill", step=step_key, grace=grace)
            worker.signal(signal.SIGKILL)

    def forget_run(self, run_id: str) -> None:
        """Let workers drop a finished run's definitions."""
        for worker in self._workers:
            if run_id in worker.runs and worker.alive:
                with contextlib.suppress(OSError, ChannelClosed):
                    worker.channel.send(("drop", run_id))
                worker.runs.discard(run_id)

    async def close(self) -> None:
        """Stop every worker (they exit when their channel closes)."""
        workers, self._workers = self._workers, []
        await asyncio.gather(*(asyncio.to_thread(w.close) for w in workers))
