"""Refreshing the daemon's state gauges from storage, once per monitor sweep.

Runs by status and the queue depth of the location (unfinished statuses every sweep, through
the status index; finished ones, whose count grows with history, every
``finished_runs_interval``), pool slots in use and limits, and the
durations of the location's steps (read from new ``STEP_SUCCESS``/``STEP_FAILURE`` events:
run workers are processes of the code server that write events to storage, so the daemon,
which watches the location anyway, is where their durations become a histogram).
"""

from __future__ import annotations

import contextlib
import time

from prometheus_client import Gauge

from rivers.execution.events import EventKind
from rivers.storage import RunStatus, Storage
from rivers_daemon.metrics import DaemonMetrics

__all__ = ["StateObserver"]

_STEP_OUTCOMES = {EventKind.STEP_SUCCESS: "success", EventKind.STEP_FAILURE: "failure"}
_FINISHED = [status for status in RunStatus if status.is_finished]
_UNFINISHED = [status for status in RunStatus if not status.is_finished]
#: Step events read per sweep at most (the rest wait for the next sweep).
_STEP_LIMIT = 5000


class StateObserver:
    """Sets the gauges of ``metrics`` from the store (blocking; call it in a thread).

    Step durations are counted from the events written after the first refresh: a daemon's
    histogram covers what happened while it ran, like every Prometheus counter.
    """

    def __init__(
        self,
        storage: Storage,
        location_id: str,
        metrics: DaemonMetrics,
        *,
        finished_runs_interval: float = 60.0,
    ) -> None:
        self.storage = storage
        self.location_id = location_id
        self.metrics = metrics
        self.finished_runs_interval = finished_runs_interval
        self._finished_at = float("-inf")
        self._after: int | None = None
        self._pools: set[str] = set()

    def refresh(self) -> None:
        """One refresh: run counts, pools, new step events."""
        statuses = list(_UNFINISHED)
        if time.monotonic() - self._finished_at >= self.finished_runs_interval:
            self._finished_at = time.monotonic()
            statuses += _FINISHED
        counts = self.storage.count_runs_by_status(self.location_id, statuses)
        for status, count in counts.items():
            self.metrics.runs.labels(str(status)).set(count)
        self.metrics.queue_depth.set(counts[RunStatus.QUEUED])
        self._refresh_pools()
        self._observe_steps()

    def _refresh_pools(self) -> None:
        infos = self.storage.get_all_pool_infos()
        names = {info.name for info in infos}
        for info in infos:
            self.metrics.pool_slots_in_use.labels(info.name).set(info.slots_in_use)
            if info.limit is not None:
                self.metrics.pool_slots_limit.labels(info.name).set(info.limit)
            else:
                _remove(self.metrics.pool_slots_limit, info.name)
        for gone in self._pools - names:
            _remove(self.metrics.pool_slots_in_use, gone)
            _remove(self.metrics.pool_slots_limit, gone)
        self._pools = names

    def _observe_steps(self) -> None:
        top = self.storage.last_event_seq()
        if self._after is None:
            self._after = top
            return
        events = self.storage.get_events_between(
            self._after,
            top,
            location_id=self.location_id,
            kinds=_STEP_OUTCOMES,
            limit=_STEP_LIMIT,
        )
        for event in events:
            if event.duration_ms is not None:
                outcome = _STEP_OUTCOMES[event.kind]
                self.metrics.step_seconds.labels(outcome).observe(event.duration_ms / 1000.0)
        full = len(events) == _STEP_LIMIT and events[-1].seq is not None
        self._after = int(events[-1].seq or top) if full else top


def _remove(gauge: Gauge, name: str) -> None:
    with contextlib.suppress(KeyError):  # never set
        gauge.remove(name)
