"""The evaluation worker pool: a few long-lived processes evaluating sync user code.

Sync sensors and schedule functions are user code that may block, hang or crash, so they
never run in the server's process. A small fixed number of workers
(:mod:`.evaluation_worker`, the module imported once) each evaluate one request at a time;
requests wait for a free worker. A worker that does not answer within the timeout is killed
and one that dies is replaced; in both cases only its own evaluation fails
(:class:`EvaluationFailed`). On a reload the pool starts a new generation: idle workers of
the old code are retired at once, busy ones when they finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import struct
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rivers.telemetry import get_logger
from rivers_codeserver.evaluation import EVALUATION_TIMEOUT, WORKER_CRASHED
from rivers_codeserver.metrics import CodeServerMetrics

__all__ = ["EvaluationFailed", "EvaluationPool", "EvaluatorCommand"]

log = get_logger("rivers.codeserver.evaluations")

_HEADER = struct.Struct(">I")
_RESTART_PAUSE = 0.5  # between failed starts, so a broken environment does not spin


class EvaluationFailed(Exception):
    """The evaluation did not produce a reply: ``error_type`` says why (timeout, crash)."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


@dataclass(frozen=True, slots=True)
class EvaluatorCommand:
    """How this location starts an evaluation worker."""

    module: str
    attribute: str | None
    storage_url: str
    env: Mapping[str, str]

    def argv(self) -> list[str]:
        """The command line of a worker."""
        argv = [sys.executable, "-m", "rivers_codeserver.evaluation_worker"]
        argv += ["--module", self.module, "--storage", self.storage_url]
        if self.attribute:
            argv += ["--attribute", self.attribute]
        return argv


@dataclass(eq=False)
class _Worker:
    process: asyncio.subprocess.Process
    generation: int
    evaluations: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    async def send(self, payload: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(_HEADER.pack(len(payload)) + payload)
        await self.process.stdin.drain()

    async def receive(self) -> bytes:
        """The next frame. Raises ``asyncio.IncompleteReadError`` if the worker died."""
        assert self.process.stdout is not None
        (size,) = _HEADER.unpack(await self.process.stdout.readexactly(_HEADER.size))
        return await self.process.stdout.readexactly(size)

    def kill(self) -> None:
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()


def _exit_reason(code: int | None) -> str:
    if code is None:
        return "it stopped answering"
    if code < 0:
        try:
            return f"it was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"it was killed by signal {-code}"
    return f"it exited with code {code}"


class EvaluationPool:
    """Up to ``size`` evaluation workers, started ahead of time by :meth:`start`.

    Args:
        command: how to start a worker.
        size: how many workers evaluate at once.
        metrics: where evaluations and worker restarts are counted.
    """

    def __init__(self, command: EvaluatorCommand, *, size: int, metrics: CodeServerMetrics) -> None:
        self.command = command
        self.size = size
        self.metrics = metrics
        self.generation = 0
        self._idle: asyncio.Queue[_Worker] = asyncio.Queue()
        self._workers: set[_Worker] = set()
        self._starting = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._started = False
        self._closed = False

    @property
    def workers(self) -> int:
        """Worker processes alive or starting now."""
        return len(self._workers) + self._starting

    @property
    def idle(self) -> int:
        """Workers ready for a request now."""
        return self._idle.qsize()

    def start(self) -> None:
        """Start the workers in the background (idempotent; call once the event loop runs)."""
        if self._started or self._closed:
            return
        self._started = True
        self._fill()

    def refresh(self) -> None:
        """The code was reloaded: retire the workers of the previous code, start new ones."""
        self.generation += 1
        while not self._idle.empty():
            self._retire(self._idle.get_nowait())
        if self._started:
            self._fill()

    async def evaluate(self, request: Mapping[str, Any], timeout: float) -> bytes:
        """The reply frame of one request, once a worker is free and has answered.

        Raises:
            EvaluationFailed: the worker took longer than ``timeout`` (it is killed) or died.
        """
        if self._closed:
            raise EvaluationFailed("Unavailable", "the code server is shutting down")
        self.start()
        worker = await self._take()
        what = f"{request['kind']} {request['name']!r}"
        try:
            await worker.send(json.dumps(dict(request)).encode())
            reply = await asyncio.wait_for(worker.receive(), timeout)
        except TimeoutError:
            self._replace(worker, "timeout")
            raise EvaluationFailed(
                EVALUATION_TIMEOUT,
                f"{what} did not finish within {timeout:g}s; its evaluation worker was killed",
            ) from None
        except (asyncio.IncompleteReadError, BrokenPipeError, ConnectionResetError):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(worker.process.wait(), 5.0)
            self._replace(worker, "crash")
            raise EvaluationFailed(
                WORKER_CRASHED,
                f"the evaluation worker of {what} died while evaluating it "
                f"({_exit_reason(worker.process.returncode)})",
            ) from None
        except BaseException:  # canceled mid-evaluation: its reply would confuse the next one
            self._replace(worker, "canceled")
            raise
        worker.evaluations += 1
        self._release(worker)
        return reply

    async def _take(self) -> _Worker:
        while True:
            worker = await self._idle.get()
            if worker.alive and worker.generation == self.generation:
                return worker
            self._retire(worker)

    def _release(self, worker: _Worker) -> None:
        if worker.generation == self.generation and not self._closed and worker.alive:
            self._idle.put_nowait(worker)
        else:
            self._retire(worker)

    def _replace(self, worker: _Worker, reason: str) -> None:
        self.metrics.evaluation_worker_restarts.labels(reason).inc()
        log.warning("codeserver.evaluation_worker_replaced", pid=worker.process.pid, reason=reason)
        worker.kill()
        self._retire(worker)

    # --- processes -------------------------------------------------------------------------

    def _fill(self) -> None:
        current = sum(1 for w in self._workers if w.generation == self.generation)
        for _ in range(self.size - current - self._starting):
            self._starting += 1
            self._background(self._spawn(self.generation))

    def _background(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _spawn(self, generation: int) -> None:
        try:
            process = await asyncio.create_subprocess_exec(
                *self.command.argv(),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                env=dict(self.command.env),
            )
        except OSError as exc:
            self._starting -= 1
            log.error("codeserver.evaluation_worker_failed", error=str(exc))
            await asyncio.sleep(_RESTART_PAUSE)
            self._refill_later()
            return
        worker = _Worker(process, generation)
        self._workers.add(worker)
        self._starting -= 1
        try:
            await worker.receive()  # the ready frame: the module is imported
        except (asyncio.IncompleteReadError, ConnectionResetError):
            log.error(
                "codeserver.evaluation_worker_failed",
                error=f"it did not start: {_exit_reason(await process.wait())}",
            )
            self._workers.discard(worker)
            await asyncio.sleep(_RESTART_PAUSE)
            self._refill_later()
            return
        log.info("codeserver.evaluation_worker_ready", pid=process.pid, generation=generation)
        self._release(worker)

    def _refill_later(self) -> None:
        if not self._closed:
            self._fill()

    def _retire(self, worker: _Worker) -> None:
        # Closing stdin ends a worker at once (even a busy one); reap it in the background.
        if worker not in self._workers:
            return
        self._workers.discard(worker)
        if worker.process.stdin is not None:
            worker.process.stdin.close()
        self._background(self._reap(worker))
        self._refill_later()

    @staticmethod
    async def _reap(worker: _Worker) -> None:
        try:
            await asyncio.wait_for(worker.process.wait(), 5.0)
        except TimeoutError:
            worker.kill()
            await worker.process.wait()

    async def close(self) -> None:
        """Stop every worker and wait for them."""
        self._closed = True
        for worker in list(self._workers):
            self._retire(worker)
        while self._tasks:
            await asyncio.wait(list(self._tasks), timeout=10.0)
            for task in [t for t in self._tasks if not t.done()]:
                task.cancel()
