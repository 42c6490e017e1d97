"""The schedule loop against a real code server and store: launches, restarts, catch-up."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from rivers.execution.events import EventKind
from rivers.storage.records import InstigatorType, RunStatus, TickRecord, TickStatus
from rivers_daemon.schedules import schedule_run_key
from rivers_daemon.server import Daemon
from tests.codeserver.support import Running, Store, wait_finished, wait_for
from tests.daemon.support import address, location_id, switch_on, ticks_of

SCHEDULE = InstigatorType.SCHEDULE


def _schedule_runs(store: Store, location: str, name: str) -> list[str]:
    runs = store.storage.get_runs(location_id=location, limit=1000)
    return [r.run_id for r in runs if r.tags.get("rivers/schedule") == name]


@pytest.mark.slow
def test_running_schedule_launches_runs_that_succeed(
    store: Store, codeserver: Running, daemons: Callable[..., Daemon]
) -> None:
    """A RUNNING */2-seconds schedule queues a run per tick and each run succeeds."""
    loc = location_id(codeserver)
    switch_on(store.storage, loc, "fast", SCHEDULE)
    daemons(loc, address(codeserver))

    def two_ticks() -> list[TickRecord]:
        ticks = ticks_of(store.storage, loc, "fast", TickStatus.SUCCESS)
        return ticks[:2] if len(ticks) >= 2 else []

    ticks = wait_for(two_ticks, 20, "two successful ticks")
    for tick in ticks:
        assert tick.scheduled_time is not None and tick.scheduled_time % 2 == 0
        assert tick.run_keys == (f"schedule:fast:{schedule_run_key(tick.scheduled_time)}",)
        (run_id,) = tick.run_ids
        run = wait_finished(store.storage, run_id)
        assert run.status is RunStatus.SUCCESS, run.failure_reason
        assert run.tags["kind"] == "fast"  # the schedule's tags are on its runs
    # schedule due -> first step started, for the first tick
    first = ticks[0]
    assert first.scheduled_time is not None
    (step_start, *_) = store.storage.get_run_events(
        first.run_ids[0], kinds=[EventKind.STEP_STARTED]
    )
    latency = step_start.timestamp - first.scheduled_time
    print(f"schedule due -> first step started: {latency:.3f} s")  # noqa: T201 - the report reads it
    assert latency < 3.0


@pytest.mark.slow
def test_restart_does_not_duplicate_a_ticks_run(
    store: Store, codeserver: Running, daemons: Callable[..., Daemon]
) -> None:
    """A daemon that dies after queueing a tick's run but before recording it queues no twin."""
    loc = location_id(codeserver)
    switch_on(store.storage, loc, "fast", SCHEDULE)
    first = daemons(loc, address(codeserver), enable_queue=False)
    (tick,) = wait_for(
        lambda: ticks_of(store.storage, loc, "fast", TickStatus.SUCCESS)[:1], 20, "a tick"
    )
    assert tick.scheduled_time is not None
    # Crash simulation: the schedule's last tick goes back to before the tick it launched.
    codeserver.loop.run(first.stop())
    store.storage.update_instigator(loc, "fast", SCHEDULE, last_tick_time=tick.scheduled_time - 1)
    daemons(loc, address(codeserver), enable_queue=False)

    def again() -> bool:
        retried = [
            t
            for t in ticks_of(store.storage, loc, "fast")
            if t.scheduled_time == tick.scheduled_time and t.tick_id != tick.tick_id
        ]
        return bool(retried) and retried[0].status is TickStatus.SKIPPED

    wait_for(again, 20, "the restarted daemon to retry the tick")
    wait_for(lambda: len(ticks_of(store.storage, loc, "fast")) >= 4, 20, "more ticks")
    runs = store.storage.get_runs(location_id=loc, limit=1000)
    keys = Counter(r.run_key for r in runs if r.tags.get("rivers/schedule") == "fast")
    assert keys[f"schedule:fast:{schedule_run_key(tick.scheduled_time)}"] == 1
    assert all(count == 1 for count in keys.values()), keys


def test_catch_up_after_downtime_launches_max_catchup_ticks(
    store: Store, codeserver: Running, daemons: Callable[..., Daemon]
) -> None:
    """After ten missed hourly ticks only the newest three run; the others are SKIPPED ticks."""
    loc = location_id(codeserver)
    switch_on(store.storage, loc, "hourly", SCHEDULE)
    now = time.time()
    if now % 3600 > 3590 or now % 3600 < 10:  # too close to a tick to count on the grace
        time.sleep(20)
        now = time.time()
    store.storage.update_instigator(loc, "hourly", SCHEDULE, last_tick_time=now - 10 * 3600)
    daemons(loc, address(codeserver), enable_queue=False)
    wait_for(lambda: len(ticks_of(store.storage, loc, "hourly")) >= 10, 20, "ten ticks")
    time.sleep(0.5)  # nothing more comes
    ticks = ticks_of(store.storage, loc, "hourly")
    assert len(ticks) == 10
    by_time = sorted(ticks, key=lambda t: t.scheduled_time or 0)
    assert [t.status for t in by_time] == [TickStatus.SKIPPED] * 7 + [TickStatus.SUCCESS] * 3
    assert all("max_catchup_ticks" in (t.skip_reason or "") for t in by_time[:7])
    runs = _schedule_runs(store, loc, "hourly")
    assert len(runs) == 3
    state = store.storage.get_instigator_state(loc, "hourly")
    assert state is not None and state.last_tick_time == by_time[-1].scheduled_time


def test_partitioned_schedule_runs_the_latest_complete_partition(
    store: Store, codeserver: Running, daemons: Callable[..., Daemon]
) -> None:
    """A schedule on daily partitions without a key runs the day that ended before the tick."""
    loc = location_id(codeserver)
    switch_on(store.storage, loc, "daily_partition", SCHEDULE)
    daemons(loc, address(codeserver), enable_queue=False)
    (tick,) = wait_for(
        lambda: ticks_of(store.storage, loc, "daily_partition", TickStatus.SUCCESS)[:1],
        20,
        "a tick",
    )
    assert tick.scheduled_time is not None
    run = store.storage.get_run(tick.run_ids[0])
    assert run is not None
    day = datetime.fromtimestamp(tick.scheduled_time, UTC).date() - timedelta(days=1)
    assert run.tags["rivers/partition"] == day.isoformat()
