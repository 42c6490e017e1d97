"""Sensor ticks through a real code server and daemon: one write per fast tick, cursors kept."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from rivers.storage.records import InstigatorType, TickStatus
from rivers_codeserver.server import start as start_codeserver
from rivers_daemon.server import Daemon
from rivers_daemon.ticks import STARTED_AFTER
from tests.codeserver.support import LoopThread, Running, Store, wait_for
from tests.daemon.support import address, location_id, switch_on, ticks_of

SENSOR = InstigatorType.SENSOR
MODULE = "tests.fixtures.code_locations.sensor_ticks"
pytestmark = pytest.mark.slow


@pytest.fixture
def sensors_server(
    store: Store, loop: LoopThread, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Running]:
    """The sensor_ticks location's code server (no daemon of its own), on port 0."""
    monkeypatch.chdir(tmp_path)
    server = loop.run(start_codeserver(store.settings(MODULE), storage=store.storage))
    running = Running(loop, server)
    yield running
    running.stop()


def _spy(daemon: Daemon, method: str) -> list[Any]:
    """Record the calls of one method of the daemon's (real) store connection."""
    calls: list[Any] = []
    real = getattr(daemon.storage, method)

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return real(*args, **kwargs)

    setattr(daemon.storage, method, spy)
    return calls


def test_a_fast_tick_is_written_once_in_its_final_status(
    store: Store, sensors_server: Running, daemons: Callable[..., Daemon]
) -> None:
    """Quick ticks are never stored STARTED; each leaves one final row with the cursor it set."""
    loc = location_id(sensors_server)
    daemon = daemons(loc, address(sensors_server), enable_queue=False, enable_schedules=False)
    started = _spy(daemon, "add_tick")
    switch_on(store.storage, loc, "fast", SENSOR)
    wait_for(lambda: len(ticks_of(store.storage, loc, "fast")) >= 3, 20, "three fast ticks")
    ticks = ticks_of(store.storage, loc, "fast")
    assert {t.status for t in ticks} == {TickStatus.SKIPPED}
    assert [t.cursor for t in ticks[:3]] == ["1", "2", "3"]
    # A STARTED row is written only for a tick that took STARTED_AFTER (on a loaded machine the
    # first evaluation may, while it spawns the code server's worker); never for a quick one.
    slow_ids = {t.tick_id for t in ticks if t.duration_ms >= STARTED_AFTER * 1000}
    assert {record.tick_id for (record,) in started} <= slow_ids
    assert len(slow_ids) < len(ticks)
    state = store.storage.get_instigator_state(loc, "fast")
    assert state is not None and int(state.cursor or 0) >= 3


def test_a_slow_tick_is_visible_as_started_while_it_runs(
    store: Store, sensors_server: Running, daemons: Callable[..., Daemon]
) -> None:
    """A tick still evaluating after a second shows as STARTED, then as its outcome."""
    loc = location_id(sensors_server)
    daemons(loc, address(sensors_server), enable_queue=False, enable_schedules=False)
    switch_on(store.storage, loc, "slow", SENSOR)
    wait_for(lambda: ticks_of(store.storage, loc, "slow", TickStatus.STARTED), 10, "a STARTED tick")
    done = wait_for(
        lambda: ticks_of(store.storage, loc, "slow", TickStatus.SKIPPED), 10, "its outcome"
    )
    assert done[0].duration_ms >= 2000 and done[0].cursor == "1"


def test_cursors_live_in_the_task_and_a_reset_through_storage_is_picked_up(
    store: Store, sensors_server: Running, daemons: Callable[..., Daemon]
) -> None:
    """Ticks never read the stored state; a cursor reset and a stop made in storage still apply."""
    loc = location_id(sensors_server)
    daemon = daemons(loc, address(sensors_server), enable_queue=False, enable_schedules=False)
    reads = _spy(daemon, "get_instigator_state")
    switch_on(store.storage, loc, "busy", SENSOR)

    def cursors() -> list[int]:
        return [int(t.cursor or 0) for t in ticks_of(store.storage, loc, "busy")]

    wait_for(lambda: max(cursors(), default=0) >= 3, 20, "busy ticking")
    store.storage.update_instigator(loc, "busy", SENSOR, cursor="100")
    wait_for(lambda: max(cursors()) >= 101, 20, "the reset cursor to be used")
    store.storage.set_instigator_status(loc, "busy", SENSOR, running=False)
    time.sleep(0.6)  # a stop is honoured within one tick_interval (0.2 s here)
    settled = len(cursors())
    time.sleep(0.8)
    assert len(cursors()) == settled  # no tick after the stop
    assert reads == []  # the cursor came from memory, not a read per tick
