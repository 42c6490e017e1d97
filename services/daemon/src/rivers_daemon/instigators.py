"""What the schedule and sensor loops share: their parts, stored states, timing, launching."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, ClassVar

from rivers.automation.launch import Launched, launch_requests

if TYPE_CHECKING:
    from rivers.automation.requests import SensorResult
    from rivers.definitions.snapshot import DefinitionsSnapshot, ScheduleSnap, SensorSnap
    from rivers.storage import Storage
    from rivers.storage.records import InstigatorState, InstigatorType
    from rivers_daemon.codeserver import CodeServerClient
    from rivers_daemon.metrics import DaemonMetrics
    from rivers_daemon.snapshots import SnapshotSource
    from rivers_daemon.ticks import TickRecorder

__all__ = ["InstigatorLoop", "is_running"]


def is_running(state: InstigatorState | None, default_status: str) -> bool:
    """Whether an instigator runs: its stored status, else its definition's default."""
    return ((state.status if state else None) or default_status) == "RUNNING"


class InstigatorLoop:
    """A base for the loops of one instigator type (``instigator_type``) of the location.

    Args:
        storage: the shared store.
        location_id: the location's identity.
        snapshots: the location's definitions.
        client: the code server client (user code is evaluated there).
        ticks: where ticks are recorded.
        metrics: evaluation times and queued runs.
        interval: seconds between iterations, at most.
        on_queued: called after runs were queued (wakes the run queue).
    """

    instigator_type: ClassVar[InstigatorType]

    def __init__(
        self,
        storage: Storage,
        location_id: str,
        snapshots: SnapshotSource,
        client: CodeServerClient,
        ticks: TickRecorder,
        metrics: DaemonMetrics,
        *,
        interval: float = 1.0,
        on_queued: Callable[[], None] = lambda: None,
    ) -> None:
        self.storage = storage
        self.location_id = location_id
        self.snapshots = snapshots
        self.client = client
        self.ticks = ticks
        self.metrics = metrics
        self.interval = interval
        self.on_queued = on_queued

    async def _states(self) -> dict[str, InstigatorState]:
        """The stored states of the location's instigators of this type, by name."""
        states = await asyncio.to_thread(self.storage.get_instigator_states, self.location_id)
        return {s.name: s for s in states if s.type == self.instigator_type}

    @contextlib.contextmanager
    def _timed_evaluation(self) -> Iterator[None]:
        """Observe the evaluation's duration, however it ends."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.metrics.evaluation_seconds.labels(str(self.instigator_type)).observe(
                time.perf_counter() - started
            )

    async def _launch(
        self,
        snapshot: DefinitionsSnapshot,
        result: SensorResult,
        instigator: ScheduleSnap | SensorSnap,
        *,
        now: float | None = None,
    ) -> Launched:
        """Queue what ``result`` asks for, for ``instigator`` (``launch_requests``, in a thread).

        Raises:
            RiversError: an invalid request (see ``launch_requests``); nothing was queued.
        """
        return await asyncio.to_thread(
            launch_requests,
            self.storage,
            snapshot,
            self.location_id,
            result,
            instigator=instigator.name,
            instigator_type=self.instigator_type,
            default_selection=instigator.selection,
            default_job=instigator.job_name,
            now=now,
        )

    def _queued(self, launched: Launched) -> None:
        """Count the runs a tick queued and wake the run queue."""
        self.metrics.runs_queued.labels(str(self.instigator_type)).inc(len(launched.run_ids))
        self.on_queued()
