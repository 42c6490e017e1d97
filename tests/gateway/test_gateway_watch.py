"""WatchRun: stored then live events in order, resume after a sequence number, latency, end."""

from __future__ import annotations

import statistics
import time

import grpc
import pytest

from rivers._proto.rivers.v1 import api_pb2 as pb
from rivers.execution.events import EventKind, RunEvent
from rivers.storage import RunStatus
from rivers_ui.tail import EventTail
from rivers_ui.watch import watch_run
from tests.fixtures.code_locations import basic
from tests.gateway.harness import Stack, collect, in_thread, wait_until

K = EventKind


def test_watch_streams_stored_then_live_events_and_ends(stack: Stack) -> None:
    """Events written before and during the watch arrive once, in order; the final one ends it."""
    run = stack.add_run(stack.register(basic.repo))
    before = stack.emit(run, K.RUN_STARTED, K.STEP_STARTED)
    received: list[tuple[float, RunEvent]] = []
    watcher = in_thread(lambda: collect(stack.client().watch_run(run.run_id), received))
    wait_until(lambda: len(received) == 2, what="the stored events")
    during = stack.emit(run, K.LOG, K.ASSET_MATERIALIZATION, K.STEP_SUCCESS)
    during += stack.emit(run, K.RUN_SUCCESS, finish=RunStatus.SUCCESS)
    watcher.join(10)
    assert not watcher.is_alive()
    assert [e for _, e in received] == before + during


def test_watch_resumes_after_a_sequence_number(stack: Stack) -> None:
    """after_seq skips what the caller has already seen."""
    run = stack.add_run(stack.register(basic.repo))
    events = stack.emit(run, K.RUN_STARTED, K.LOG, K.LOG, K.RUN_FAILURE, finish=RunStatus.FAILURE)
    seq = events[1].seq
    assert seq is not None
    resumed = list(stack.client().watch_run(run.run_id, after_seq=seq))
    assert resumed == events[2:]


def test_watch_of_a_finished_run_returns_its_events_and_ends(stack: Stack) -> None:
    """A finished run's stream is its stored events, then the end (no waiting)."""
    run = stack.add_run(stack.register(basic.repo))
    events = stack.emit(run, K.RUN_STARTED, K.RUN_SUCCESS, finish=RunStatus.SUCCESS)
    started = time.perf_counter()
    assert list(stack.client().watch_run(run.run_id)) == events
    assert time.perf_counter() - started < 1.0


def test_watch_ends_when_the_run_finishes_without_a_final_event(stack: Stack) -> None:
    """A run marked finished with no final event (a crashed worker) still ends the stream."""
    run = stack.add_run(stack.register(basic.repo))
    events = stack.emit(run, K.RUN_STARTED)
    received: list[tuple[float, RunEvent]] = []
    watcher = in_thread(lambda: collect(stack.client().watch_run(run.run_id), received))
    wait_until(lambda: len(received) == 1, what="the first event")
    late = stack.emit(run, K.LOG)
    stack.storage.update_run(run.run_id, status=RunStatus.FAILURE, end_time=time.time())
    watcher.join(5)
    assert not watcher.is_alive()
    assert [e for _, e in received] == events + late


def test_watch_latency_from_write_to_receipt(stack: Stack) -> None:
    """An event written while a run is watched reaches the client well within 0.5 s."""
    run = stack.add_run(stack.register(basic.repo))
    stack.emit(run, K.RUN_STARTED)
    received: list[tuple[float, RunEvent]] = []
    watcher = in_thread(lambda: collect(stack.client().watch_run(run.run_id), received))
    wait_until(lambda: len(received) == 1, what="the first event")
    written: dict[int, float] = {}
    for _ in range(20):
        (event,) = stack.emit(run, K.LOG)
        assert event.seq is not None
        written[event.seq] = time.perf_counter()
        time.sleep(0.02)
    stack.emit(run, K.RUN_SUCCESS, finish=RunStatus.SUCCESS)
    watcher.join(10)
    delays = [at - written[e.seq] for at, e in received if e.seq in written]
    assert len(delays) == 20
    assert statistics.median(delays) < 0.5
    assert max(delays) < 0.5


def test_shutdown_ends_watch_streams_with_unavailable(stack: Stack) -> None:
    """Stopping the gateway ends open watches promptly with UNAVAILABLE, naming the resume point."""
    run = stack.add_run(stack.register(basic.repo))
    (event,) = stack.emit(run, K.RUN_STARTED)
    stream = stack.stub().WatchRun(pb.WatchRunRequest(run_id=run.run_id))
    assert next(stream).event.seq == event.seq
    started = time.perf_counter()
    stack.stop_gateway()
    with pytest.raises(grpc.RpcError) as info:
        next(stream)
    assert time.perf_counter() - started < 2.0
    assert info.value.code() is grpc.StatusCode.UNAVAILABLE
    assert f"after seq {event.seq}" in info.value.details()


def test_a_watcher_that_overflows_catches_up_from_storage(stack: Stack) -> None:
    """A watcher whose queue overflows re-reads from storage: no event lost or repeated."""
    run = stack.add_run(stack.register(basic.repo))
    tail = EventTail(stack.storage, interval=0.01, queue_size=3)

    async def watch_all() -> list[RunEvent]:
        await tail.start()
        try:
            return [e async for e in watch_run(stack.storage, tail, run.run_id)]
        finally:
            await tail.close()

    def write() -> None:
        time.sleep(0.2)
        stack.emit(run, K.RUN_STARTED, *[K.LOG] * 40)
        stack.emit(run, K.RUN_SUCCESS, finish=RunStatus.SUCCESS)

    writer = in_thread(write)
    events = stack.loop.run(watch_all(), timeout=20)
    writer.join(5)
    assert [e.kind for e in events] == [K.RUN_STARTED, *[K.LOG] * 40, K.RUN_SUCCESS]
    seqs = [e.seq for e in events]
    assert seqs == sorted(set(seqs))
