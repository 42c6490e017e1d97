"""Following a run: its stored events, in order, until it has ended and all were read."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from rivers.execution.events import RunEvent
from rivers.storage import Storage

__all__ = ["follow_run"]

_BATCH = 500


async def follow_run(
    storage: Storage, run_id: str, *, after_seq: int = 0, poll: float = 0.02
) -> AsyncIterator[RunEvent]:
    """Yield the run's events after ``after_seq`` as they are written, then stop at its end.

    Events are polled by sequence number (gap-free and committed in order, so none is
    missed). The run's status is read only when no new event came: a run writes all of its
    events before its final status, so one more read after the status is final gets the rest.
    """
    last = after_seq
    while True:
        events = await asyncio.to_thread(
            storage.get_run_events, run_id, after_seq=last, limit=_BATCH
        )
        for event in events:
            yield event
            last = event.seq if event.seq is not None else last
        if len(events) == _BATCH:
            continue
        if not events:
            record = await asyncio.to_thread(storage.get_run, run_id)
            if record is None or record.status.is_finished:
                for event in await asyncio.to_thread(
                    storage.get_run_events, run_id, after_seq=last
                ):
                    yield event
                return
        await asyncio.sleep(poll)
