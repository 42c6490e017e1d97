"""Runs through the code server: LaunchRun (as the daemon calls it), ExecuteRun, CancelRun.

The code server has no run queue of its own any more: the location's daemon claims queued runs
and launches them through LaunchRun, which these tests call directly.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import pytest

import rivers as rs
from rivers._convert.events import event_from_proto
from rivers._proto.rivers.v1 import codelocation_pb2 as pb
from rivers.execution.backfill import prepare_backfill
from rivers.execution.run import prepare_run
from tests.codeserver.support import (
    BASIC,
    PARTITIONED,
    SLOW,
    Running,
    Store,
    wait_finished,
    wait_for,
)


def _queue(store: Store, module: str, selection: list[str] | None = None) -> str:
    repo = store.repo(module)
    return prepare_run(repo, selection=selection, status=rs.RunStatus.QUEUED).record.run_id


def _kinds(events: list[rs.RunEvent]) -> list[rs.EventKind]:
    return [e.kind for e in events]


def test_launched_run_succeeds(serve: Callable[..., Running], store: Store) -> None:
    """A queued run launched through LaunchRun executes in a worker and succeeds."""
    running = serve(BASIC)
    run_id = _queue(store, BASIC)
    running.launch(run_id)
    record = wait_finished(store.storage, run_id)
    assert record.status is rs.RunStatus.SUCCESS, record.failure_reason
    kinds = _kinds(store.storage.get_run_events(run_id))
    assert kinds[0] is rs.EventKind.RUN_STARTED
    assert kinds[-1] is rs.EventKind.RUN_SUCCESS
    assert kinds.count(rs.EventKind.STEP_SUCCESS) == 4


def test_queued_runs_wait_for_the_daemon(serve: Callable[..., Running], store: Store) -> None:
    """The code server never claims queued runs by itself: they stay QUEUED until launched."""
    serve(BASIC)
    run_id = _queue(store, BASIC)
    time.sleep(1.0)
    record = store.storage.get_run(run_id)
    assert record is not None and record.status is rs.RunStatus.QUEUED


def test_launch_is_fast_with_a_warm_worker(serve: Callable[..., Running], store: Store) -> None:
    """LaunchRun to first step takes well under 300 ms: a spare worker with the code loaded."""
    running = serve(BASIC)
    latencies = []
    for _ in range(3):
        time.sleep(1.5)  # the spare started after the previous launch is ready again
        run_id = _queue(store, BASIC)
        asked = time.time()
        running.launch(run_id)
        wait_finished(store.storage, run_id)
        events = store.storage.get_run_events(run_id)
        step = next(e for e in events if e.kind is rs.EventKind.STEP_STARTED)
        latencies.append(step.timestamp - asked)
    metrics = running.server.metrics
    assert metrics.launches.labels("run", "true")._value.get() == 3
    # ~30 ms with a warm worker; a cold worker alone would take ~600 ms here.
    assert statistics.median(latencies) < 0.3, latencies


def test_execute_run_streams_every_event_in_order(
    serve: Callable[..., Running], store: Store
) -> None:
    """ExecuteRun launches a queued run and streams all its events, in order, then ends."""
    running = serve(BASIC)
    run_id = _queue(store, BASIC)
    streamed = [
        event_from_proto(reply.event)
        for reply in running.stub.ExecuteRun(pb.ExecuteRunRequest(run_id=run_id), timeout=60)
    ]
    stored = store.storage.get_run_events(run_id)
    assert streamed == stored
    seqs = [e.seq for e in streamed]
    assert seqs == sorted(seqs)
    assert streamed[-1].kind is rs.EventKind.RUN_SUCCESS
    record = store.storage.get_run(run_id)
    assert record is not None and record.status is rs.RunStatus.SUCCESS


def test_execute_run_resumes_after_seq(serve: Callable[..., Running], store: Store) -> None:
    """ExecuteRun with after_seq sends only the later events (a finished run: then ends)."""
    running = serve(BASIC)
    run_id = _queue(store, BASIC)
    running.launch(run_id)
    wait_finished(store.storage, run_id)
    stored = store.storage.get_run_events(run_id)
    middle = stored[len(stored) // 2].seq
    assert middle is not None
    replies = running.stub.ExecuteRun(
        pb.ExecuteRunRequest(run_id=run_id, after_seq=middle), timeout=30
    )
    assert [event_from_proto(r.event) for r in replies] == [
        e for e in stored if (e.seq or 0) > middle
    ]


def test_launch_run_refuses_what_it_cannot_launch(
    serve: Callable[..., Running], store: Store
) -> None:
    """LaunchRun answers launched=False with the reason for unknown and finished runs."""
    running = serve(BASIC)
    unknown = running.stub.LaunchRun(pb.LaunchRunRequest(run_id="nope"))
    assert not unknown.launched and "no run" in unknown.message
    run_id = _queue(store, BASIC)
    running.launch(run_id)
    wait_finished(store.storage, run_id)
    workers = running.server.workers
    assert workers is not None
    wait_for(lambda: not workers.is_active(run_id), what="the finished worker to be reaped")
    again = running.stub.LaunchRun(pb.LaunchRunRequest(run_id=run_id))
    assert not again.launched and "SUCCESS" in again.message


@pytest.mark.slow
def test_cancel_stops_a_cooperative_run(serve: Callable[..., Running], store: Store) -> None:
    """CancelRun of a long async run: its worker cancels the step and the run ends CANCELED."""
    running = serve(SLOW, run_worker_grace=20.0)
    run_id = _queue(store, SLOW, ["doze"])
    running.launch(run_id)
    wait_for(
        lambda: rs.EventKind.STEP_STARTED in _kinds(store.storage.get_run_events(run_id)),
        what="the step to start",
    )
    reply = running.stub.CancelRun(pb.CancelRunRequest(run_id=run_id))
    assert reply.canceled, reply.message
    record = wait_finished(store.storage, run_id, timeout=15)
    assert record.status is rs.RunStatus.CANCELED
    assert _kinds(store.storage.get_run_events(run_id))[-1] is rs.EventKind.RUN_CANCELED
    assert running.server.metrics.cancels.labels("SIGTERM")._value.get() == 0


@pytest.mark.slow
def test_cancel_terminates_a_worker_that_does_not_stop(
    serve: Callable[..., Running], store: Store
) -> None:
    """A run stuck in a sync step is SIGTERMed after the grace and recorded CANCELED."""
    running = serve(SLOW, run_worker_grace=0.5)
    run_id = _queue(store, SLOW, ["nap"])
    running.launch(run_id)
    wait_for(
        lambda: rs.EventKind.STEP_STARTED in _kinds(store.storage.get_run_events(run_id)),
        what="the step to start",
    )
    started = time.monotonic()
    assert running.stub.CancelRun(pb.CancelRunRequest(run_id=run_id)).canceled
    record = wait_finished(store.storage, run_id, timeout=15)
    assert record.status is rs.RunStatus.CANCELED
    assert time.monotonic() - started < 10
    assert _kinds(store.storage.get_run_events(run_id))[-1] is rs.EventKind.RUN_CANCELED
    assert running.server.metrics.cancels.labels("SIGTERM")._value.get() == 1


def test_cancel_of_a_queued_run(serve: Callable[..., Running], store: Store) -> None:
    """CancelRun of a run that has not started cancels it at once; finished runs refuse."""
    running = serve(BASIC)
    run_id = _queue(store, BASIC)
    reply = running.stub.CancelRun(pb.CancelRunRequest(run_id=run_id))
    assert reply.canceled
    record = store.storage.get_run(run_id)
    assert record is not None and record.status is rs.RunStatus.CANCELED
    again = running.stub.CancelRun(pb.CancelRunRequest(run_id=run_id))
    assert not again.canceled and "CANCELED" in again.message


def test_claimed_backfill_completes_in_a_worker(
    serve: Callable[..., Running], store: Store
) -> None:
    """A claimed backfill handed to the run workers is executed to completion, run after run."""
    running = serve(PARTITIONED)
    repo = store.repo(PARTITIONED)
    record, _plan = prepare_backfill(
        repo,
        ["daily_events"],
        rs.PartitionKeyRange.single("2024-01-01", "2024-01-03"),
        rs.BackfillStrategy.multi_run(),
        status=rs.BackfillState.REQUESTED,
    )
    (claimed,) = store.storage.claim_requested_backfills(repo.location_id(), limit=1)
    workers = running.server.workers
    assert workers is not None
    running.loop.run(workers.launch_backfill(claimed.backfill_id))

    def done() -> rs.BackfillStatus | None:
        status = repo.get_backfill(record.backfill_id)
        return status if status.record.status.is_finished else None

    final = wait_for(done, 60, "the backfill")
    assert final.record.status is rs.BackfillState.COMPLETED
    assert (final.requested, final.succeeded, final.failed) == (3, 3, 0)
