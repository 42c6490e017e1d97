"""Following one run's events: stored ones first, then live ones from the shared tail.

The watcher subscribes to the tail *before* it reads the stored backlog, so an event written
in between arrives through one or the other (and is sent once: events at or below the last
sent sequence number are dropped). It ends after the run's final event (``RUN_SUCCESS``,
``RUN_FAILURE``, ``RUN_CANCELED``), or when the run is found finished without one (a run the
monitor failed, or one cancelled while queued): a run's events are all stored before its
status becomes final, so one last read from storage then sends the rest.

The final event is written a moment before the run's status: after sending it, the stream
waits (briefly, bounded) for the status, so a caller reading the run once the stream has
ended sees it finished.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from rivers.execution.events import EventKind, RunEvent
from rivers_ui.errors import NotFound, Unavailable
from rivers_ui.tail import EventTail, Signal

if TYPE_CHECKING:
    from rivers.storage import Storage

__all__ = ["FINAL_EVENTS", "watch_run"]

FINAL_EVENTS = frozenset({EventKind.RUN_SUCCESS, EventKind.RUN_FAILURE, EventKind.RUN_CANCELED})
#: Seconds between status checks of a watched run while no event arrives.
STATUS_CHECK_INTERVAL = 0.5
#: How long the stream waits, after the final event, for the run's status to turn final.
SETTLE_TIMEOUT = 5.0
_SETTLE_POLL = 0.01
_PAGE = 1000


async def watch_run(
    storage: Storage,
    tail: EventTail,
    run_id: str,
    after_seq: int = 0,
    *,
    status_interval: float = STATUS_CHECK_INTERVAL,
) -> AsyncIterator[RunEvent]:
    """The run's events after ``after_seq``, in order, until it has finished.

    Raises:
        NotFound: no such run.
        Unavailable: the gateway is shutting down (resume elsewhere with the last ``seq``).
    """
    run = await asyncio.to_thread(storage.get_run, run_id)
    if run is None:
        raise NotFound(f"no run {run_id!r}")
    sub = tail.subscribe(run_id)
    last = max(after_seq, 0)
    try:
        async for event in _stored(storage, run_id, last):
            last = event.seq or last
            yield event
            if event.kind in FINAL_EVENTS:
                await _settled(storage, run_id)
                return
        if run.status.is_finished:
            return  # finished before we read the backlog: the backlog was complete
        while True:
            try:
                item = await asyncio.wait_for(sub.queue.get(), status_interval)
            except TimeoutError:
                current = await asyncio.to_thread(storage.get_run, run_id)
                if current is None or current.status.is_finished:
                    async for event in _stored(storage, run_id, last):
                        last = event.seq or last
                        yield event
                    return
                continue
            if item is Signal.CLOSED:
                raise Unavailable(
                    f"the gateway is shutting down; resume watching run {run_id} after seq {last}"
                )
            if item is Signal.OVERFLOW:
                sub.dropping = False
                async for event in _stored(storage, run_id, last):
                    last = event.seq or last
                    yield event
                    if event.kind in FINAL_EVENTS:
                        await _settled(storage, run_id)
                        return
                continue
            assert isinstance(item, RunEvent)
            if item.seq is None or item.seq <= last:
                continue
            last = item.seq
            yield item
            if item.kind in FINAL_EVENTS:
                await _settled(storage, run_id)
                return
    finally:
        tail.unsubscribe(sub)


async def _settled(storage: Storage, run_id: str) -> None:
    """Wait until the run's status is final (bounded: a worker may die in between)."""
    deadline = asyncio.get_running_loop().time() + SETTLE_TIMEOUT
    while asyncio.get_running_loop().time() < deadline:
        run = await asyncio.to_thread(storage.get_run, run_id)
        if run is None or run.status.is_finished:
            return
        await asyncio.sleep(_SETTLE_POLL)


async def _stored(storage: Storage, run_id: str, after_seq: int) -> AsyncIterator[RunEvent]:
    while True:
        events = await asyncio.to_thread(
            storage.get_run_events, run_id, after_seq=after_seq, limit=_PAGE
        )
        for event in events:
            yield event
            after_seq = event.seq or after_seq
        if len(events) < _PAGE:
            return
