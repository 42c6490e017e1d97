"""Run worker processes: start, track, cancel and reap them.

Every run (and every backfill) executes in its own worker process
(:mod:`rivers_codeserver.worker`), so user code of different runs never shares a process with
the server. Launches are fast because a *spare* worker is kept ready: started ahead of time
with the user's module imported and the store signed in to, it only needs to be told which
run to execute. A spare is used only while the module's files are unchanged since it started.

A worker holds the read end of a pipe from the server: if the server dies, the worker stops.
When a worker exits before its run (or backfill) is finished — killed, crashed, or stopped
because it was canceled — the run is finished here, with an ending event and the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from rivers import tracing
from rivers.execution.backfill import BACKFILL_TAG
from rivers.execution.events import EventKind, RunEvent
from rivers.storage import BackfillState, RunRecord, RunStatus, Storage
from rivers.telemetry import get_logger
from rivers_codeserver.location import FileStamps, current_stamps, files_changed
from rivers_codeserver.metrics import CodeServerMetrics

__all__ = ["Outcome", "RunWorkers", "Worker", "WorkerCommand", "worker_env"]

log = get_logger("rivers.codeserver.runs")

Kind = Literal["run", "backfill"]
_LAUNCHABLE = (RunStatus.QUEUED, RunStatus.STARTING)
_UNFINISHED = (RunStatus.STARTING, RunStatus.STARTED, RunStatus.CANCELING)
_CANCEL_REPEAT = 0.5  # re-assert CANCELING this often: a starting worker may overwrite it
_KILL_WAIT = 1.0  # seconds between SIGTERM and SIGKILL


@dataclass(frozen=True, slots=True)
class Outcome:
    """The answer to a launch or cancel request."""

    ok: bool
    message: str


@dataclass(frozen=True, slots=True)
class WorkerCommand:
    """How this location starts a worker process."""

    module: str
    attribute: str | None
    storage_url: str
    env: Mapping[str, str]

    def argv(self, *, run_id: str | None = None, backfill_id: str | None = None) -> list[str]:
        """The command line; neither id given: a spare, which reads its target from stdin."""
        argv = [sys.executable, "-m", "rivers_codeserver.worker", "--module", self.module]
        if self.attribute:
            argv += ["--attribute", self.attribute]
        argv += ["--storage", self.storage_url]
        if run_id is not None:
            argv += ["--run-id", run_id]
        elif backfill_id is not None:
            argv += ["--backfill-id", backfill_id]
        else:
            argv.append("--spare")
        return argv


def worker_env(
    base: Mapping[str, str],
    *,
    storage_user: str,
    storage_password: str,
    storage_namespace: str,
    storage_database: str,
    heartbeat_interval: float,
    import_root: Path | None,
) -> dict[str, str]:
    """The environment of run workers: the store's credentials and where the module is."""
    env = dict(base)
    env["RIVERS_STORAGE_USER"] = storage_user
    env["RIVERS_STORAGE_PASSWORD"] = storage_password
    env["RIVERS_STORAGE_NAMESPACE"] = storage_namespace
    env["RIVERS_STORAGE_DATABASE"] = storage_database
    # A run's worker must beat at least as often as the location: the location fails runs
    # silent for three of its heartbeats.
    configured = float(env.get("RIVERS_RUN_HEARTBEAT", "5"))
    env["RIVERS_RUN_HEARTBEAT"] = str(min(configured, heartbeat_interval))
    paths = [str(import_root)] if import_root is not None else []
    paths.append(os.getcwd())  # where `rivers serve` found the module, as `python -m` does
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


@dataclass(eq=False)
class Worker:
    """One worker process executing a run or a backfill."""

    kind: Kind
    target: str
    process: asyncio.subprocess.Process
    warm: bool
    started: float = field(default_factory=time.monotonic)
    cancel_requested: bool = False
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    escalation: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        """How the worker names itself on the runs it heartbeats."""
        return f"{socket.gethostname()}:{self.process.pid}"

    def signal(self, sig: signal.Signals) -> None:
        """Send ``sig`` unless the process has already exited."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(sig)


@dataclass(eq=False)
class _Spare:
    process: asyncio.subprocess.Process
    stamps: FileStamps


class RunWorkers:
    """The worker processes of one code location.

    Args:
        storage: the shared store.
        location_id: the location's identity; only its runs are launched here.
        command: how to start a worker.
        grace: seconds a canceled run's worker gets to stop by itself before SIGTERM.
        spares: how many workers to keep started ahead of time.
        files: the module's source files; a spare started before they changed is not used.
        metrics: where launches, exits and signals are counted.
    """

    def __init__(
        self,
        storage: Storage,
        *,
        location_id: str,
        command: WorkerCommand,
        grace: float,
        spares: int,
        files: FileStamps,
        metrics: CodeServerMetrics,
    ) -> None:
        self.storage = storage
        self.location_id = location_id
        self.command = command
        self.grace = grace
        self.files = files
        self.metrics = metrics
        self.accepting = True
        self._spares_wanted = spares
        self._spares: list[_Spare] = []
        self._refilling: asyncio.Task[None] | None = None
        self._runs: dict[str, Worker] = {}
        self._backfills: dict[str, Worker] = {}
        self._launching: set[str] = set()
        self._cancel_pending: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    # --- state -----------------------------------------------------------------------------

    @property
    def active(self) -> int:
        """Workers executing (or about to execute) a run or backfill now."""
        return len(self._runs) + len(self._backfills) + len(self._launching)

    def is_active(self, run_id: str) -> bool:
        """Whether this server executes (or is starting) the run."""
        return run_id in self._runs or run_id in self._launching

    def workers(self) -> list[Worker]:
        """The workers running now."""
        return [*self._runs.values(), *self._backfills.values()]

    def keep_alive(self) -> None:
        """Heartbeat every run executing here (blocking; call from a thread)."""
        for worker in list(self._runs.values()):
            if worker.process.returncode is None:
                self.storage.heartbeat_run(worker.target, worker.name)

    # --- launching -------------------------------------------------------------------------

    async def launch_run(self, run_id: str) -> Outcome:
        """Start a worker for a stored QUEUED or STARTING run of this location."""
        if self.is_active(run_id):
            return Outcome(False, "the run is already executing in this code server")
        if not self.accepting:
            return Outcome(False, "the code server is shutting down")
        self._launching.add(run_id)
        try:
            record = await asyncio.to_thread(self.storage.get_run, run_id)
            refusal = await self._refusal(run_id, record)
            if refusal is not None:
                return refusal
            assert record is not None
            if record.status is RunStatus.QUEUED:
                await asyncio.to_thread(self.storage.update_run, run_id, status=RunStatus.STARTING)
            try:
                worker = await self._start("run", run_id)
            except OSError as exc:
                reason = f"the run worker could not start: {exc}"
                await asyncio.to_thread(self._finish_run, run_id, RunStatus.FAILURE, reason)
                return Outcome(False, reason)
        finally:
            self._launching.discard(run_id)
        self._runs[run_id] = worker
        self._track(worker)
        if run_id in self._cancel_pending:
            self._cancel_pending.discard(run_id)
            self._escalate(worker, self.grace)
        return Outcome(True, f"run worker {worker.name} started")

    async def _refusal(self, run_id: str, record: RunRecord | None) -> Outcome | None:
        if record is None:
            return Outcome(False, f"no run {run_id!r}")
        if record.location_id != self.location_id:
            return Outcome(False, f"run {run_id} belongs to another code location")
        if record.status is RunStatus.CANCELING:
            await asyncio.to_thread(
                self._finish_run, run_id, RunStatus.CANCELED, "canceled before it started"
            )
            return Outcome(False, "the run was canceled before it started")
        if record.status not in _LAUNCHABLE:
            return Outcome(False, f"the run is {record.status}, not QUEUED or STARTING")
        return None

    async def launch_backfill(self, backfill_id: str) -> Worker:
        """Start a worker executing a stored (claimed) backfill, run after run."""
        worker = await self._start("backfill", backfill_id)
        self._backfills[backfill_id] = worker
        self._track(worker)
        return worker

    async def _start(self, kind: Kind, target: str) -> Worker:
        started = time.perf_counter()
        spare = self._take_spare()
        trace = tracing.carrier()
        line = json.dumps({f"{kind}_id": target, "trace": trace}).encode() + b"\n"
        process: asyncio.subprocess.Process | None = None
        if spare is not None and spare.stdin is not None:
            try:
                spare.stdin.write(line)
                await spare.stdin.drain()
                process = spare
            except (BrokenPipeError, ConnectionResetError):
                process = None  # it died meanwhile: start one cold
        warm = process is not None
        if process is None:
            ids = {"run_id": target} if kind == "run" else {"backfill_id": target}
            process = await self._spawn(self.command.argv(**ids), trace)
        self._refill_soon()
        self.metrics.launches.labels(kind, str(warm).lower()).inc()
        self.metrics.launch_seconds.observe(time.perf_counter() - started)
        log.info("codeserver.worker_started", kind=kind, target=target, pid=process.pid, warm=warm)
        return Worker(kind=kind, target=target, process=process, warm=warm)

    async def _spawn(
        self, argv: list[str], trace: dict[str, str] | None = None
    ) -> asyncio.subprocess.Process:
        # stdin stays open for the worker's life: its end tells the worker the server is gone.
        env = dict(self.command.env)
        if trace and "traceparent" in trace:
            env[tracing.TRACEPARENT_ENV] = trace["traceparent"]
        return await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.PIPE, env=env)

    # --- spares ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the spare workers (call once the event loop runs)."""
        self._refill_soon()

    def _take_spare(self) -> asyncio.subprocess.Process | None:
        while self._spares:
            spare = self._spares.pop(0)
            if spare.process.returncode is None and not files_changed(spare.stamps):
                return spare.process
            self._retire(spare.process)
        return None

    def _refill_soon(self) -> None:
        if self._refilling is None or self._refilling.done():
            self._refilling = asyncio.create_task(self._refill())

    async def _refill(self) -> None:
        while self.accepting and len(self._spares) < self._spares_wanted:
            stamps = current_stamps(self.files)
            try:
                process = await self._spawn(self.command.argv())
            except OSError as exc:
                log.warning("codeserver.spare_failed", error=str(exc))
                return
            self._spares.append(_Spare(process, stamps))

    def refresh_spares(self, files: FileStamps) -> None:
        """Replace the spares (the code was reloaded)."""
        self.files = files
        spares, self._spares = self._spares, []
        for spare in spares:
            self._retire(spare.process)
        self._refill_soon()

    def _retire(self, process: asyncio.subprocess.Process) -> None:
        # A spare leaves quietly when its stdin closes; reap it in the background.
        if process.stdin is not None:
            process.stdin.close()
        task = asyncio.create_task(self._wait_quietly(process))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _wait_quietly(process: asyncio.subprocess.Process) -> None:
        try:
            await asyncio.wait_for(process.wait(), 5.0)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()

    # --- reaping ---------------------------------------------------------------------------

    def _track(self, worker: Worker) -> None:
        self.metrics.active_workers.labels(worker.kind).inc()
        task = asyncio.create_task(self._reap(worker))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reap(self, worker: Worker) -> None:
        code = await worker.process.wait()
        try:
            await asyncio.to_thread(self._settle, worker, code)
        except Exception as exc:  # storage trouble: the stale-run monitor finishes the run later
            log.warning("codeserver.settle_failed", target=worker.target, error=str(exc))
        finally:
            registry = self._runs if worker.kind == "run" else self._backfills
            if registry.get(worker.target) is worker:
                del registry[worker.target]
            if worker.process.stdin is not None:
                worker.process.stdin.close()
            self.metrics.active_workers.labels(worker.kind).dec()
            self.metrics.worker_exits.labels(worker.kind, str(code)).inc()
            log.info(
                "codeserver.worker_exited",
                kind=worker.kind,
                target=worker.target,
                code=code,
                seconds=round(time.monotonic() - worker.started, 3),
            )
            worker.ended.set()

    def _settle(self, worker: Worker, code: int) -> None:
        """Finish what the worker left unfinished (blocking)."""
        canceled = worker.cancel_requested
        if worker.kind == "run":
            record = self.storage.get_run(worker.target)
            if record is not None and not record.status.is_finished:
                self._finish_run(worker.target, *self._ending(record, canceled, code))
            return
        backfill = self.storage.get_backfill(worker.target)
        if backfill is None or backfill.status.is_finished:
            return
        state = BackfillState.CANCELED if canceled else BackfillState.FAILED
        for run in self._backfill_runs(worker.target):
            self._finish_run(run.run_id, *self._ending(run, canceled, code))
        self.storage.update_backfill(worker.target, status=state, end_time=time.time())

    @staticmethod
    def _ending(record: RunRecord, canceled: bool, code: int) -> tuple[RunStatus, str]:
        if canceled or record.status is RunStatus.CANCELING:
            return RunStatus.CANCELED, "canceled"
        return RunStatus.FAILURE, f"the run worker exited with code {code} before the run ended"

    def _backfill_runs(self, backfill_id: str) -> Iterable[RunRecord]:
        runs = self.storage.get_runs(location_id=self.location_id, statuses=_UNFINISHED)
        return [r for r in runs if r.tags.get(BACKFILL_TAG) == backfill_id]

    def _finish_run(self, run_id: str, status: RunStatus, reason: str) -> None:
        kind = EventKind.RUN_CANCELED if status is RunStatus.CANCELED else EventKind.RUN_FAILURE
        # The ending event first: followers stop once the status is final.
        self.storage.store_events(
            [RunEvent.now(run_id, kind, message=reason, level="ERROR")],
            location_id=self.location_id,
        )
        self.storage.update_run(run_id, status=status, end_time=time.time(), failure_reason=reason)
        log.warning("codeserver.run_finished_by_server", run_id=run_id, status=str(status))

    # --- canceling -------------------------------------------------------------------------

    async def cancel_run(self, run_id: str) -> Outcome:
        """Ask a run to stop; its worker is terminated if it has not stopped after the grace."""
        record = await asyncio.to_thread(self.storage.get_run, run_id)
        if record is None:
            return Outcome(False, f"no run {run_id!r}")
        if record.location_id != self.location_id:
            return Outcome(False, f"run {run_id} belongs to another code location")
        if record.status.is_finished:
            return Outcome(False, f"the run already finished ({record.status})")
        if not await asyncio.to_thread(self.storage.request_run_cancel, run_id):
            return Outcome(False, "the run already finished")
        worker = self._runs.get(run_id)
        if worker is not None:
            self._escalate(worker, self.grace)
            return Outcome(True, f"cancel requested; the worker is stopped after {self.grace:g}s")
        if run_id in self._launching:
            self._cancel_pending.add(run_id)
            return Outcome(True, "cancel requested while the run starts")
        if record.status is RunStatus.QUEUED:
            await asyncio.to_thread(
                self._finish_run, run_id, RunStatus.CANCELED, "canceled before it started"
            )
            return Outcome(True, "canceled before it started")
        return Outcome(True, "cancel requested")

    def _escalate(self, worker: Worker, grace: float) -> None:
        worker.cancel_requested = True
        if worker.escalation is None:
            worker.escalation = asyncio.create_task(self._stop_worker(worker, grace))

    async def _stop_worker(self, worker: Worker, grace: float) -> None:
        deadline = time.monotonic() + grace
        while not worker.ended.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            if worker.kind == "run":
                with contextlib.suppress(Exception):  # best effort; the signals below still work
                    await asyncio.to_thread(self.storage.request_run_cancel, worker.target)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(worker.ended.wait(), min(_CANCEL_REPEAT, remaining))
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if worker.ended.is_set() or worker.process.returncode is not None:
                return
            log.warning("codeserver.worker_signaled", target=worker.target, signal=sig.name)
            self.metrics.cancels.labels(sig.name).inc()
            worker.signal(sig)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(worker.process.wait(), _KILL_WAIT)

    # --- shutdown --------------------------------------------------------------------------

    async def drain(self, budget: float) -> None:
        """Stop launching; let workers finish, then cancel them, all within ``budget`` s."""
        self.accepting = False
        for spare in self._spares:
            self._retire(spare.process)
        self._spares = []
        deadline = time.monotonic() + budget
        cancel_window = min(self.grace, budget / 2)
        finish_window = max(budget - cancel_window - 2 * _KILL_WAIT, 0.0)
        await _wait_ended(self.workers(), finish_window)
        remaining = self.workers()
        if not remaining:
            return
        log.warning("codeserver.canceling_workers", workers=len(remaining))
        for worker in remaining:
            if worker.kind == "run":
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(self.storage.request_run_cancel, worker.target)
                self._escalate(worker, cancel_window)
            else:
                self._escalate(worker, 0.0)  # a backfill has no cooperative cancel: SIGTERM
        await _wait_ended(remaining, max(deadline - time.monotonic(), 0.0))

    async def close(self) -> None:
        """Retire the spares and wait for background reaping (after :meth:`drain`)."""
        self.accepting = False
        for spare in self._spares:
            self._retire(spare.process)
        self._spares = []
        if self._refilling is not None:
            self._refilling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refilling
        for worker in self.workers():
            worker.signal(signal.SIGKILL)
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=10.0)


async def _wait_ended(workers: list[Worker], timeout: float) -> None:
    if not workers:
        return
    waits: list[Awaitable[bool]] = [w.ended.wait() for w in workers]
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, timeout=timeout)
    finally:
        for task in tasks:
            task.cancel()
