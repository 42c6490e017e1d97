"""``GET /api/events``: every run's events (or one run's) as Server-Sent Events.

The stream subscribes to the gateway's one event tail *before* it reads anything from
storage, so an event written meanwhile arrives through the tail or the replay and is sent
once (events at or below the last sent sequence number are dropped). It opens with
``event: hello`` carrying the store's last sequence number (its ``id`` is the resume
point); with ``Last-Event-ID`` (the browser's automatic resume) or ``?after_seq=`` the
stored events after it are replayed first. Each event is ``id: <seq>`` /
``event: run_event`` / ``data: <json>``; a ``RUN_*`` event is followed by
``event: run_status`` so pages can update a run's badge without re-reading it.
``event: changed`` with ``{"topic": ...}`` announces a change that writes no run event
(``rivers_ui.pulse``: ticks, instigators, backfills, pools, locations). An ``event: ping``
every ``sse_keepalive`` seconds keeps proxies from closing an idle stream, lets the page
tell a live stream from a stale one (``hello`` carries the interval), and reveals a gone
client (its write fails), which frees the subscription.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from aiohttp import web

from rivers.execution.events import EventKind, RunEvent
from rivers.storage.records import RunStatus
from rivers_ui.errors import InvalidArgument
from rivers_ui.tail import Changed, Signal

if TYPE_CHECKING:
    from rivers_ui.state import GatewayState

__all__ = ["RUN_STATUS_OF", "stream_events"]

#: The run status a ``RUN_*`` event announces.
RUN_STATUS_OF = {
    EventKind.RUN_STARTED: RunStatus.STARTED,
    EventKind.RUN_SUCCESS: RunStatus.SUCCESS,
    EventKind.RUN_FAILURE: RunStatus.FAILURE,
    EventKind.RUN_CANCELED: RunStatus.CANCELED,
}
_PAGE = 1000


def _resume_point(request: web.Request) -> int | None:
    raw = request.headers.get("Last-Event-ID") or request.query.get("after_seq") or None
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise InvalidArgument(
            f"the resume point must be an event sequence number, not {raw!r}"
        ) from None
    if value < 0:
        raise InvalidArgument(f"the resume point must not be negative, not {value}")
    return value


async def _stored(state: GatewayState, run_id: str | None, after: int) -> AsyncIterator[RunEvent]:
    """Stored events after ``after`` (of one run, or all), page by page."""
    storage = state.storage
    while True:
        if run_id is None:
            events = await asyncio.to_thread(storage.get_events_after, after, limit=_PAGE)
        else:
            events = await asyncio.to_thread(
                storage.get_run_events, run_id, after_seq=after, limit=_PAGE
            )
        for event in events:
            yield event
            after = event.seq or after
        if len(events) < _PAGE:
            return


def _message(event: str, data: object, *, seq: int | None = None) -> bytes:
    head = "" if seq is None else f"id: {seq}\n"
    body = json.dumps(data, separators=(",", ":"))
    return f"{head}event: {event}\ndata: {body}\n\n".encode()


def _event_messages(event: RunEvent) -> bytes:
    out = _message("run_event", event.model_dump(mode="json"), seq=event.seq)
    status = RUN_STATUS_OF.get(event.kind)
    if status is not None:
        out += _message(
            "run_status",
            {"run_id": event.run_id, "status": str(status), "seq": event.seq},
        )
    return out


async def stream_events(request: web.Request, state: GatewayState) -> web.StreamResponse:
    """Serve one SSE client until it disconnects or the gateway shuts down."""
    after = _resume_point(request)
    run_id = request.query.get("run_id") or None
    tail = state.tail
    sub = tail.subscribe(run_id)
    try:
        current = await asyncio.to_thread(state.storage.last_event_seq)
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",  # nginx would otherwise buffer the stream
            }
        )
        await response.prepare(request)
        keepalive = state.settings.sse_keepalive
        hello = {"last_seq": current, "run_id": run_id, "keepalive": keepalive}
        last = current if after is None else after
        # ``retry``: a browser whose stream drops (a gateway restart) reconnects after 1 s;
        # ``id``: it then resumes after ``last`` even if no run event arrived meanwhile.
        await response.write(b"retry: 1000\n" + _message("hello", hello, seq=last))
        try:
            if after is not None:
                async for event in _stored(state, run_id, last):
                    last = event.seq or last
                    await response.write(_event_messages(event))
            while True:
                try:
                    item = await asyncio.wait_for(sub.queue.get(), keepalive)
                except TimeoutError:
                    await response.write(_message("ping", {}))
                    continue
                if item is Signal.CLOSED:
                    break  # shutting down: the browser reconnects elsewhere with its last id
                if item is Signal.OVERFLOW:
                    sub.dropping = False
                    async for event in _stored(state, run_id, last):
                        last = event.seq or last
                        await response.write(_event_messages(event))
                    continue
                if isinstance(item, Changed):
                    await response.write(_message("changed", {"topic": item.topic}))
                    continue
                if item.seq is None or item.seq <= last:
                    continue
                last = item.seq
                await response.write(_event_messages(item))
        except ConnectionResetError:
            pass  # the client went away: a write failed; the finally frees the subscription
        return response
    finally:
        tail.unsubscribe(sub)
