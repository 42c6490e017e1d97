"""A run's event log: events are kept in order and written to storage in batches.

A background thread writes what has accumulated, at most every ``linger`` seconds (default
20 ms): one transaction per batch, so a busy run costs a few commits per second instead of one
fsync per event, and steps never wait on storage. A flush writes immediately. The
final :meth:`EventLog.close` waits for everything to be durable and raises if any write failed
for good: a run never reports success with events missing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from rivers.errors import StorageError
from rivers.execution.events import RunEvent
from rivers.storage import Storage
from rivers.telemetry import get_logger

__all__ = ["EventListener", "EventLog"]

EventListener = Callable[[RunEvent], None]
log = get_logger("rivers.execution")

_MAX_BATCH = 2000
_LINGER = 0.02


class EventLog:
    """Collects one run's events and persists them asynchronously."""

    def __init__(
        self,
        storage: Storage,
        *,
        location_id: str,
        listeners: Sequence[EventListener] = (),
        linger: float = _LINGER,
    ) -> None:
        self._storage = storage
        self._location_id = location_id
        self._listeners = list(listeners)
        self._pending: list[RunEvent] = []
        self._stored: list[RunEvent] = []
        self._cond = threading.Condition()
        self._closing = False
        self._flushing = False
        self._writing = False
        self._linger = linger
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._write_loop, name="rivers-eventlog", daemon=True
        )
        self._thread.start()

    def emit(self, event: RunEvent) -> None:
        """Record ``event``: queued for storage and passed to listeners right away."""
        with self._cond:
            self._pending.append(event)
            self._cond.notify()
        for listener in self._listeners:
            try:
                listener(event)
            except Exception as exc:  # a broken progress printer must not break the run
                log.warning("eventlog.listener_failed", error=str(exc))

    def _write_loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closing:
                    self._cond.wait()
                if not self._pending and self._closing:
                    return
                deadline = time.monotonic() + self._linger
                while (
                    len(self._pending) < _MAX_BATCH
                    and not (self._closing or self._flushing)
                    and (remaining := deadline - time.monotonic()) > 0
                ):
                    self._cond.wait(remaining)
                batch = self._pending[:_MAX_BATCH]
                del self._pending[: len(batch)]
                self._writing = True
            try:
                stored = self._storage.store_events(batch, location_id=self._location_id)
            except BaseException as exc:
                log.error("eventlog.write_failed", error=str(exc), events=len(batch))
                with self._cond:
                    self._error = exc
                    # Keep the unwritten events so close() can report exactly what was lost.
                    self._pending[:0] = batch
                    self._writing = False
                    self._closing = True
                    self._cond.notify_all()
                return
            with self._cond:
                self._stored.extend(stored)
                self._writing = False
                self._cond.notify_all()

    def flush(self) -> None:
        """Block until every event emitted so far is stored.

        Raises:
            StorageError: a write failed after its retries.
        """
        with self._cond:
            self._flushing = True
            self._cond.notify_all()
            while (self._pending or self._writing) and self._error is None:
                self._cond.wait()
            self._flushing = False
        self._raise_if_failed()

    def close(self) -> list[RunEvent]:
        """Flush, stop the writer and return every event with its sequence number.

        Raises:
            StorageError: a write failed after its retries.
        """
        try:
            self.flush()
        finally:
            with self._cond:
                self._closing = True
                self._cond.notify_all()
            self._thread.join()
        return list(self._stored)

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise StorageError(
                f"could not write {len(self._pending)} run events to {self._storage!r}: "
                f"{self._error}"
            ) from self._error
