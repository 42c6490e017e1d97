"""A step worker process: ``python -m rivers.execution._worker READ_FD WRITE_FD``.

Started by the parallel executor and reused across steps (and runs). It receives a run spec
once per run, then step after step; it sends the steps' events back as they happen and asks
the run process for storage and process-local IO through remote calls. SIGTERM raises
``SystemExit`` inside the running step, so the user's ``finally`` blocks run on cancel.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from typing import Any

from rivers.execution._wire import Channel, ChannelClosed, load_run_spec, next_request_id
from rivers.execution.events import EventKind, RunEvent
from rivers.execution.nodes import map_item_program
from rivers.execution.runcontext import RunContext
from rivers.execution.step import run_step

__all__ = ["main"]


_LINGER = 0.02
_MAX_BATCH = 500


class _ChannelEvents:
    """The worker's event sink: events go to the run process in order, log lines in batches.

    A ``LOG`` event waits up to ``_LINGER`` seconds for company (one frame per batch instead
    of one per line); any other event sends itself and everything before it at once, so step
    events are never delayed and order is kept.
    """

    def __init__(self, channel: Channel) -> None:
        self._channel = channel
        self._pending: list[RunEvent] = []
        self._cond = threading.Condition()
        threading.Thread(target=self._linger, name="rivers-worker-events", daemon=True).start()

    def emit(self, event: RunEvent) -> None:
        with self._cond:
            self._pending.append(event)
            if event.kind is not EventKind.LOG or len(self._pending) >= _MAX_BATCH:
                self._send()
            elif len(self._pending) == 1:
                self._cond.notify()

    def flush(self) -> None:
        """Send whatever waits (before replying to the run process)."""
        with self._cond:
            self._send()

    def _send(self) -> None:
        # Called with the lock held: sends happen in emit order.
        if self._pending:
            batch, self._pending = self._pending, []
            self._channel.send(("events", batch))

    def _linger(self) -> None:
        with self._cond:
            while True:
                while not self._pending:
                    self._cond.wait()
                self._cond.wait(_LINGER)
                try:
                    self._send()
                except (ChannelClosed, OSError):
                    return


class _Worker:
    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.events = _ChannelEvents(channel)
        self.runs: dict[str, RunContext] = {}
        self._call_lock = threading.Lock()

    def call(self, ref: str, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        # One outstanding call at a time: replies arrive on the same channel the main loop
        # reads, and a step waits for its call anyway.
        self.events.flush()
        with self._call_lock:
            request_id = next_request_id()
            self.channel.send(("call", request_id, ref, method, args, kwargs))
            kind, reply_id, ok, value = self.channel.recv()
            if kind != "reply" or reply_id != request_id:
                raise RuntimeError(f"worker protocol out of step: {kind} {reply_id} {request_id}")
            if not ok:
                raise value
            return value

    def _done(self, ok: bool, stored: list[str], value: Any) -> None:
        self.events.flush()
        try:
            self.channel.send(("done", ok, stored, value))
        except Exception as exc:  # a result that cannot be pickled fails the step, not the worker
            self.channel.send(
                ("event", RunEvent.now("", EventKind.LOG, level="ERROR", message=str(exc)))
            )
            self.channel.send(("done", False, stored, None))

    def serve(self) -> None:
        self.channel.send(("ready",))
        while True:
            try:
                message = self.channel.recv()
            except ChannelClosed:
                return
            kind = message[0]
            if kind == "run":
                _, run_id, blob = message
                spec = load_run_spec(blob, self.call)
                self.runs[run_id] = RunContext(events=self.events, **spec)
            elif kind == "step":
                _, run_id, step_key, attempt, extras = message
                run = self.runs[run_id]
                step = next(s for s in run.plan.steps if s.key == step_key)
                if extras is not None:
                    run.injected[step_key] = load_run_spec(extras, self.call)
                before = set(run.stored_outputs)
                ok = run_step(run, step, attempt)
                run.injected.pop(step_key, None)
                self._done(bool(ok), sorted(run.stored_outputs - before), None)
            elif kind == "item":
                _, run_id, step_key, index, blob = message
                run = self.runs[run_id]
                step = next(s for s in run.plan.steps if s.key == step_key)
                item = load_run_spec(blob, self.call)
                program = map_item_program(run, step, index, item)
                ok, value = run_step(run, step, program=program)
                self._done(bool(ok), [], value)
            elif kind == "drop":
                self.runs.pop(message[1], None)


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    """Serve steps until the run process closes the channel."""
    args = sys.argv[1:] if argv is None else argv
    read_fd, write_fd = int(args[0]), int(args[1])
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the run process's to handle
    worker = _Worker(Channel(read_fd, write_fd))
    try:
        worker.serve()
    finally:
        # Log lines still lingering (a canceled step's last words) go out before we exit.
        with contextlib.suppress(ChannelClosed, OSError):
            worker.events.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
