"""GET /api/events: hello, live events in order, resume, run filter, pings, changes, disconnect."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from rivers.execution.events import EventKind, RunEvent
from rivers.storage import RunStatus
from rivers.storage.records import InstigatorType
from tests.fixtures.code_locations import basic
from tests.gateway.harness import Stack

K = EventKind


class Sse:
    """Reads Server-Sent Events messages off one response."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response

    async def message(self, *, comments: bool = False, timeout: float = 10.0) -> dict[str, str]:
        """The next message (``comment`` holds a comment line's text)."""
        while True:
            fields: dict[str, str] = {}
            while True:
                raw = await asyncio.wait_for(self.response.content.readline(), timeout)
                assert raw, "the stream ended"
                line = raw.decode().rstrip("\n")
                if line == "":
                    break
                name, _, value = line.partition(":")
                fields[name or "comment"] = value.removeprefix(" ")
            if comments or "comment" not in fields:
                return fields

    async def run_events(self, count: int) -> list[RunEvent]:
        """The next ``count`` run events (skipping other messages), checking id == seq."""
        out: list[RunEvent] = []
        while len(out) < count:
            message = await self.message()
            if message.get("event") == "run_event":
                event = RunEvent.model_validate_json(message["data"])
                assert message["id"] == str(event.seq)
                out.append(event)
        return out


@asynccontextmanager
async def _connect(
    stack: Stack, query: str = "", headers: dict[str, str] | None = None
) -> AsyncIterator[Sse]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{stack.http}/api/events{query}", headers=headers) as response,
    ):
        assert response.status == 200, await response.text()
        assert response.headers["Content-Type"].startswith("text/event-stream")
        yield Sse(response)


def _run(stack: Stack, test: Callable[[], Awaitable[Any]]) -> Any:
    return stack.loop.run(test())


async def _emit(stack: Stack, *args: Any, **kwargs: Any) -> list[RunEvent]:
    # The store is blocking and the gateway shares this loop: write from a thread.
    return await asyncio.to_thread(stack.emit, *args, **kwargs)


def test_stream_opens_with_hello_and_the_last_sequence(stack: Stack) -> None:
    """The first message is `hello` with the store's last sequence number."""
    run = stack.add_run(stack.register(basic.repo))
    events = stack.emit(run, K.RUN_STARTED, K.LOG)

    async def test() -> dict[str, str]:
        async with _connect(stack) as sse:
            return await sse.message()

    hello = _run(stack, test)
    assert hello["event"] == "hello"
    assert json.loads(hello["data"])["last_seq"] == events[-1].seq


def test_live_events_of_every_run_arrive_in_order_with_run_status(stack: Stack) -> None:
    """New events of all runs arrive once, in sequence order; RUN_* events add run_status."""
    location = stack.register(basic.repo)
    a, b = stack.add_run(location), stack.add_run(location)
    stack.emit(a, K.RUN_STARTED)  # before the connection: not sent

    async def test() -> tuple[list[RunEvent], list[RunEvent], list[dict[str, str]]]:
        async with _connect(stack) as sse:
            await sse.message()
            written = await _emit(stack, b, K.RUN_STARTED, K.STEP_STARTED)
            written += await _emit(stack, a, K.LOG, K.RUN_SUCCESS, finish=RunStatus.SUCCESS)
            messages = [await sse.message() for _ in range(6)]
            return (
                written,
                [
                    RunEvent.model_validate_json(m["data"])
                    for m in messages
                    if m["event"] == "run_event"
                ],
                messages,
            )

    written, received, messages = _run(stack, test)
    assert received == written
    statuses = [json.loads(m["data"]) for m in messages if m["event"] == "run_status"]
    assert [(s["run_id"], s["status"]) for s in statuses] == [
        (b.run_id, "STARTED"),
        (a.run_id, "SUCCESS"),
    ]
    assert [m["event"] for m in messages][:2] == ["run_event", "run_status"]


def test_resume_replays_exactly_the_missed_events(stack: Stack) -> None:
    """Last-Event-ID (or ?after_seq=) replays the events after it, then live ones, none twice."""
    run = stack.add_run(stack.register(basic.repo))
    events = stack.emit(run, K.RUN_STARTED, K.LOG, K.LOG, K.STEP_STARTED, K.LOG)
    seen = str(events[1].seq)

    async def test(replay: int, **how: Any) -> tuple[list[RunEvent], list[RunEvent]]:
        async with _connect(stack, **how) as sse:
            hello = await sse.message()
            assert json.loads(hello["data"])["last_seq"] >= (events[-1].seq or 0)
            replayed = await sse.run_events(replay)
            live = await _emit(stack, run, K.LOG)
            assert await sse.run_events(1) == live
            return replayed, live

    replayed, live = _run(stack, lambda: test(3, headers={"Last-Event-ID": seen}))
    assert replayed == events[2:]
    # The second stream also replays the live event the first one saw.
    again, _ = _run(stack, lambda: test(4, query=f"?after_seq={seen}"))
    assert again == events[2:] + live


def test_run_id_filter_sends_only_that_runs_events(stack: Stack) -> None:
    """?run_id= streams one run's events; other runs' are not sent."""
    location = stack.register(basic.repo)
    a, b = stack.add_run(location), stack.add_run(location)

    async def test() -> list[RunEvent]:
        async with _connect(stack, query=f"?run_id={a.run_id}&after_seq=0") as sse:
            await sse.message()
            await _emit(stack, b, K.RUN_STARTED, K.LOG)
            mine = await _emit(stack, a, K.RUN_STARTED, K.LOG)
            got = await sse.run_events(2)
            assert got == mine
            return got

    assert {e.run_id for e in _run(stack, test)} == {a.run_id}


def test_bad_resume_point_is_a_400(stack: Stack) -> None:
    """A Last-Event-ID that is not a sequence number is rejected before streaming."""

    async def test() -> int:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{stack.http}/api/events", headers={"Last-Event-ID": "x"}) as response,
        ):
            return response.status

    assert _run(stack, test) == 400
    assert stack.gateway is not None
    assert stack.gateway.state.tail.watchers == 0


def test_keep_alive_pings_and_disconnect_frees_the_watcher(stack: Stack) -> None:
    """An idle stream gets ping events (interval in hello); a client that leaves is unsubscribed."""
    stack.stop_gateway()
    gateway = stack.start_gateway(sse_keepalive=0.05)
    tail = gateway.state.tail

    async def test() -> None:
        async with _connect(stack) as sse:
            hello = await sse.message()
            assert json.loads(hello["data"])["keepalive"] == 0.05
            assert tail.watchers == 1
            ping = await sse.message()
            assert ping == {"event": "ping", "data": "{}"}
        for _ in range(200):
            if tail.watchers == 0:
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the watcher of a closed stream was not freed")

    _run(stack, test)


def test_changes_without_run_events_are_announced_by_topic(stack: Stack) -> None:
    """A pool limit set, a schedule switched on, a run queued: `changed` topics on open streams."""
    stack.stop_gateway()
    stack.start_gateway(pulse_interval=0.05)
    loc = stack.register(basic.repo)

    async def next_change(sse: Sse) -> str:
        while True:
            message = await sse.message()
            if message.get("event") == "changed":
                return str(json.loads(message["data"])["topic"])

    async def test() -> None:
        async with _connect(stack) as sse:
            await sse.message()
            await asyncio.sleep(0.2)  # the pulse's first read is its baseline
            await asyncio.to_thread(stack.storage.set_pool_limit, "warehouse", 3)
            assert await next_change(sse) == "pools"
            await asyncio.to_thread(
                stack.storage.set_instigator_status,
                loc.identity,
                "nightly",
                InstigatorType.SCHEDULE,
                True,
            )
            assert await next_change(sse) == "instigators"
            await asyncio.to_thread(stack.add_run, loc, status=RunStatus.QUEUED)
            assert await next_change(sse) == "runs"

    _run(stack, test)
