"""The run queue under global limits with two daemons, and the monitor failing stale runs."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from rivers._proto.rivers.v1 import codelocation_pb2 as pb
from rivers.automation.launch import launch_requests
from rivers.automation.requests import RunRequest, SensorResult
from rivers.definitions.snapshot import DefinitionsSnapshot
from rivers.execution.events import EventKind
from rivers.storage.records import RunQueueConfig, RunRecord, RunStatus
from rivers_daemon.server import Daemon
from tests.codeserver.support import Running, Store, wait_finished, wait_for
from tests.daemon.support import address, location_id

_IN_PROGRESS = (RunStatus.STARTING, RunStatus.STARTED, RunStatus.CANCELING)


@pytest.mark.slow
def test_two_daemons_never_exceed_max_concurrent_runs(
    store: Store, codeserver: Running, daemons: Callable[..., Daemon]
) -> None:
    """Two daemons claiming one location's queue keep at most max_concurrent_runs in progress."""
    loc = location_id(codeserver)
    store.storage.set_run_queue_config(RunQueueConfig(max_concurrent_runs=2))
    reply = codeserver.stub.GetDefinitions(pb.GetDefinitionsRequest(), timeout=10)
    snapshot = DefinitionsSnapshot.from_proto(reply.snapshot)
    requests = tuple(RunRequest(["slow_numbers"], run_key=f"r{i}") for i in range(5))
    launched = launch_requests(
        store.storage,
        snapshot,
        loc,
        SensorResult(run_requests=requests),
        instigator="queue-test",
        instigator_type="SENSOR",
    )
    assert len(launched.run_ids) == 5
    for _ in range(2):
        daemons(loc, address(codeserver), enable_schedules=False, enable_sensors=False)
    most = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        runs = [store.storage.get_run(run_id) for run_id in launched.run_ids]
        statuses = [r.status for r in runs if r is not None]
        most = max(most, sum(s in _IN_PROGRESS for s in statuses))
        if all(s.is_finished for s in statuses):
            break
        time.sleep(0.02)
    assert most == 2
    for run_id in launched.run_ids:
        assert wait_finished(store.storage, run_id, 1).status is RunStatus.SUCCESS


def test_monitor_fails_a_run_whose_worker_stopped_heartbeating(
    store: Store, daemons: Callable[..., Daemon]
) -> None:
    """A STARTED run without a recent heartbeat is failed, with a RUN_FAILURE event saying why."""
    loc = store.storage.ensure_location("stale-location").identity
    other = store.storage.ensure_location("other-location").identity
    now = time.time()
    for run_id, location in (("stale-run", loc), ("elsewhere", other)):
        store.storage.add_run(
            RunRecord(
                run_id=run_id,
                location_id=location,
                status=RunStatus.STARTED,
                created_at=now - 120,
                start_time=now - 110,
                heartbeat_at=now - 100,
                worker="gone",
            )
        )
    daemon = daemons(
        loc,
        "127.0.0.1:9",  # never dialed: only the monitor runs
        stale_run_timeout=5,
        enable_queue=False,
        enable_schedules=False,
        enable_sensors=False,
    )
    run = wait_finished(store.storage, "stale-run", 10)
    assert run.status is RunStatus.FAILURE
    assert run.failure_reason is not None and "heartbeat" in run.failure_reason
    # the failure is claimed first (one conditional update), then its event is written
    events = wait_for(
        lambda: store.storage.get_run_events("stale-run", kinds=[EventKind.RUN_FAILURE]),
        what="the RUN_FAILURE event",
    )
    assert "heartbeat" in (events[0].message or "")
    # Another location's runs are its own daemon's business.
    elsewhere = store.storage.get_run("elsewhere")
    assert elsewhere is not None and elsewhere.status is RunStatus.STARTED
    monitor = daemon.monitor
    assert monitor is not None
    wait_for(lambda: monitor.sweeps >= 1, what="the sweep to finish")  # failing comes first
