"""One event tail per gateway: polls the event table and fans new events out to watchers.

Event sequence numbers are gap-free and commit in order, so polling ``seq > last`` misses
nothing. The tail polls every ``interval`` while anyone watches; with no watcher it only keeps
its position current (one cheap read every quarter second) so a new watcher does not wait for
a catch-up. A position that lags is harmless: watchers drop events they already sent.

Each watcher has a bounded queue. One that falls too far behind gets an ``OVERFLOW`` marker
instead of more events and re-reads what it missed from storage.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from rivers.execution.events import RunEvent
from rivers.telemetry import get_logger

if TYPE_CHECKING:
    from rivers.storage import Storage

__all__ = ["Changed", "EventTail", "Signal", "Subscription"]

log = get_logger("rivers.ui")

_IDLE_INTERVAL = 0.25
_ERROR_BACKOFF = 1.0


class Signal(enum.Enum):
    """Markers a watcher's queue carries besides events."""

    OVERFLOW = "overflow"  # events were dropped: re-read from storage
    CLOSED = "closed"  # the gateway is shutting down


@dataclass(frozen=True, slots=True)
class Changed:
    """Something other than a run's events changed (``rivers_ui.pulse``): pages re-read it."""

    topic: str


Item = RunEvent | Signal | Changed


class Subscription:
    """One watcher's queue of a run's events (of every run's when ``run_id`` is ``None``)."""

    __slots__ = ("dropping", "queue", "run_id")

    def __init__(self, run_id: str | None, maxsize: int) -> None:
        self.run_id = run_id
        self.queue: asyncio.Queue[Item] = asyncio.Queue(maxsize)
        # Set on overflow until the watcher reads the marker; events meanwhile are dropped.
        self.dropping = False

    def offer(self, event: RunEvent | Changed) -> None:
        """Queue an item, or mark the queue overflowed when it is full."""
        if self.dropping:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropping = True
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(Signal.OVERFLOW)

    def close(self) -> None:
        """End the watch (shutdown): the marker replaces anything queued."""
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(Signal.CLOSED)


class TailMetrics:
    """Prometheus metrics of the tail."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.watchers = Gauge("rivers_ui_run_watchers", "WatchRun streams open", registry=registry)
        self.events = Counter(
            "rivers_ui_tailed_events", "run events read by the event tail", registry=registry
        )
        self.delay = Histogram(
            "rivers_ui_event_delivery_seconds",
            "from an event's timestamp to its hand-off to a watcher",
            buckets=(0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0),
            registry=registry,
        )


class EventTail:
    """Polls ``storage`` for new events and hands them to the subscriptions of their run.

    Args:
        storage: the store (preferably a connection of its own: polls are frequent).
        interval: seconds between polls while someone watches.
        batch: events read per poll at most (a full batch is followed at once by the next).
        queue_size: events a watcher may have pending before it overflows.
        registry: where metrics go.
    """

    def __init__(
        self,
        storage: Storage,
        *,
        interval: float,
        batch: int = 1000,
        queue_size: int = 10_000,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.storage = storage
        self.interval = interval
        self.batch = batch
        self.queue_size = queue_size
        self.metrics = TailMetrics(registry)
        self.position = 0
        # Keyed by run id; ``None`` holds the subscriptions to every run (the SSE stream).
        self._subs: dict[str | None, set[Subscription]] = defaultdict(set)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    async def start(self) -> None:
        """Read the current position and start polling."""
        self.position = await asyncio.to_thread(self.storage.last_event_seq)
        self._task = asyncio.create_task(self._run(), name="rivers-ui-event-tail")

    async def close(self) -> None:
        """Stop polling and end every subscription with :attr:`Signal.CLOSED`."""
        self._closed = True
        for subs in self._subs.values():
            for sub in subs:
                sub.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @property
    def watchers(self) -> int:
        """Subscriptions currently fed."""
        return sum(len(subs) for subs in self._subs.values())

    def subscribe(self, run_id: str | None) -> Subscription:
        """A queue receiving ``run_id``'s events (every run's if ``None``) polled from now on."""
        sub = Subscription(run_id, self.queue_size)
        if self._closed:
            sub.close()
            return sub
        self._subs[run_id].add(sub)
        self.metrics.watchers.inc()
        self._wake.set()
        return sub

    def watchers_of_all(self) -> int:
        """Subscriptions to every run's events (the SSE streams)."""
        return len(self._subs.get(None, ()))

    def broadcast(self, item: Changed) -> None:
        """Hand ``item`` to every subscription to all runs (the SSE streams)."""
        for sub in self._subs.get(None, ()):
            sub.offer(item)

    def unsubscribe(self, sub: Subscription) -> None:
        """Stop feeding ``sub`` (idempotent)."""
        subs = self._subs.get(sub.run_id)
        if subs is not None and sub in subs:
            subs.discard(sub)
            self.metrics.watchers.dec()
            if not subs:
                del self._subs[sub.run_id]

    async def _run(self) -> None:
        while True:
            try:
                if self._subs:
                    full = await self._poll()
                    if full:
                        continue
                    await asyncio.sleep(self.interval)
                else:
                    self._wake.clear()  # before reading: a subscriber arriving meanwhile wakes us
                    last = await asyncio.to_thread(self.storage.last_event_seq)
                    # A subscriber that arrived during the read may have read an older last
                    # seq: skipping ahead now would hide the events in between from it.
                    if not self._subs:
                        self.position = max(self.position, last)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), _IDLE_INTERVAL)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # storage hiccup: keep tailing from the same position
                log.warning("ui.tail_failed", position=self.position, error=str(exc))
                await asyncio.sleep(_ERROR_BACKOFF)

    async def _poll(self) -> bool:
        """One read; returns whether it was a full batch (more may be waiting)."""
        events = await asyncio.to_thread(
            self.storage.get_events_after, self.position, limit=self.batch
        )
        now = time.time()
        for event in events:
            if event.seq is not None:
                self.position = max(self.position, event.seq)
            subs = self._subs.get(event.run_id)
            everything = self._subs.get(None)
            if subs or everything:
                self.metrics.delay.observe(max(now - event.timestamp, 0.0))
                for sub in (*(subs or ()), *(everything or ())):
                    sub.offer(event)
        self.metrics.events.inc(len(events))
        return len(events) == self.batch
