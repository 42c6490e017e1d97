"""Sensor loops against a real code server: cursors, isolation of a hanging sensor, failures."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

import pytest

from rivers.storage.records import InstigatorType, RunStatus, TickStatus
from rivers_daemon.server import Daemon
from tests.codeserver.support import Running, Store, wait_finished, wait_for
from tests.daemon.support import address, location_id, switch_on, ticks_of

SENSOR = InstigatorType.SENSOR


@pytest.mark.slow
def test_sensor_with_cursor_launches_runs_and_persists_cursor(
    store: Store, codeserver: Running, daemons: Callable[..., Daemon]
) -> None:
    """Each tick sees the stored cursor: three keyed runs succeed, then the sensor skips."""
    loc = location_id(codeserver)
    switch_on(store.storage, loc, "files", SENSOR)
    daemons(loc, address(codeserver))
    wait_for(
        lambda: ticks_of(store.storage, loc, "files", TickStatus.SKIPPED), 20, "a skipped tick"
    )
    state = store.storage.get_instigator_state(loc, "files")
    assert state is not None and state.cursor == "3"
    successes = ticks_of(store.storage, loc, "files", TickStatus.SUCCESS)
    assert [t.cursor for t in successes] == ["1", "2", "3"]
    assert [t.run_keys for t in successes] == [(f"sensor:files:file-{n}",) for n in (1, 2, 3)]
    skipped = ticks_of(store.storage, loc, "files", TickStatus.SKIPPED)[0]
    assert skipped.skip_reason == "no new files"
    for tick in successes:
        run = wait_finished(store.storage, tick.run_ids[0])
        assert run.status is RunStatus.SUCCESS, run.failure_reason
        assert run.tags["rivers/sensor"] == "files"


@pytest.mark.slow
def test_hanging_sensor_does_not_delay_another(
    store: Store, codeserver: Running, daemons: Callable[..., Daemon]
) -> None:
    """While one sensor hangs in its evaluation, another keeps ticking every second."""
    loc = location_id(codeserver)
    switch_on(store.storage, loc, "stuck", SENSOR)
    switch_on(store.storage, loc, "steady", SENSOR)
    daemons(loc, address(codeserver), enable_queue=False, enable_schedules=False)
    # Measured once the evaluation workers are warm (the first tick starts them).
    wait_for(lambda: len(ticks_of(store.storage, loc, "steady")) >= 2, 20, "steady ticking")
    warm = len(ticks_of(store.storage, loc, "steady")) - 1
    time.sleep(4.0)
    steady = ticks_of(store.storage, loc, "steady")
    stamps = [t.timestamp for t in steady[warm:]]
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert len(gaps) >= 3, gaps
    assert max(gaps) <= 1.5, gaps
    assert all(t.status is TickStatus.SKIPPED for t in steady[:-1])
    stuck = ticks_of(store.storage, loc, "stuck")
    assert [t.status for t in stuck] == [TickStatus.STARTED]  # still evaluating


def test_raising_sensor_records_failure_with_user_traceback(
    store: Store, codeserver: Running, daemons: Callable[..., Daemon]
) -> None:
    """A sensor that raises records a FAILURE tick carrying the user's error and frames."""
    loc = location_id(codeserver)
    switch_on(store.storage, loc, "exploding", SENSOR)
    daemons(loc, address(codeserver), enable_queue=False, enable_schedules=False)
    (tick, *_) = wait_for(
        lambda: ticks_of(store.storage, loc, "exploding", TickStatus.FAILURE), 20, "a failure"
    )
    assert tick.error is not None
    assert tick.error.error_type == "ValueError"
    assert "bucket not found: s3://missing" in tick.error.message
    assert "_read_bucket" in tick.error.traceback

    def state_failed() -> bool:
        state = store.storage.get_instigator_state(loc, "exploding")
        return state is not None and state.last_tick_status is TickStatus.FAILURE

    wait_for(state_failed, 10, "the sensor's state to record the failure")


def test_stopped_sensor_loses_its_task(
    store: Store, codeserver: Running, daemons: Callable[..., Daemon]
) -> None:
    """Switching a sensor off stops its loop; switching it on again restarts it."""
    loc = location_id(codeserver)
    switch_on(store.storage, loc, "steady", SENSOR)
    daemon = daemons(loc, address(codeserver), enable_queue=False, enable_schedules=False)
    assert daemon.sensors is not None
    wait_for(lambda: ticks_of(store.storage, loc, "steady"), 20, "a tick")
    store.storage.set_instigator_status(loc, "steady", SENSOR, False)
    wait_for(lambda: daemon.sensors is not None and not daemon.sensors.running, 10, "no task")
    count = len(ticks_of(store.storage, loc, "steady"))
    time.sleep(1.3)
    assert len(ticks_of(store.storage, loc, "steady")) == count
    switch_on(store.storage, loc, "steady", SENSOR)
    wait_for(
        lambda: daemon.sensors is not None and daemon.sensors.running == ["steady"], 10, "task"
    )
