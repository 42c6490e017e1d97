"""Schedule cron ticks: 5/6-field crons in a time zone, DST gaps skipped, repeats once."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from rivers_daemon.cron import due_ticks, next_tick

AMS = ZoneInfo("Europe/Amsterdam")


def _local(ticks: list[float]) -> list[str]:
    return [datetime.fromtimestamp(t, AMS).isoformat() for t in ticks]


def test_six_field_cron_ticks_every_two_seconds() -> None:
    """A leading seconds field ticks within the minute; the window is (after, until]."""
    assert due_ticks("*/2 * * * * *", "UTC", after=0.0, until=7.0, limit=10) == [2.0, 4.0, 6.0]
    assert due_ticks("*/2 * * * * *", "UTC", after=0.0, until=7.0, limit=2) == [4.0, 6.0]
    assert next_tick("*/2 * * * * *", "UTC", after=4.0) == 6.0


def test_spring_forward_skips_the_missing_local_time() -> None:
    """02:30 does not exist on the day clocks jump to 03:00: that day has no tick."""
    after = datetime(2024, 3, 30, 12, tzinfo=AMS).timestamp()
    until = datetime(2024, 4, 1, 12, tzinfo=AMS).timestamp()
    ticks = due_ticks("30 2 * * *", "Europe/Amsterdam", after=after, until=until, limit=10)
    assert _local(ticks) == ["2024-04-01T02:30:00+02:00"]


def test_fall_back_runs_a_repeated_local_time_once() -> None:
    """02:30 happens twice when clocks go back: the hourly cron ticks there once."""
    after = datetime(2024, 10, 27, 0, tzinfo=AMS).timestamp()
    until = datetime(2024, 10, 27, 5, tzinfo=AMS).timestamp()
    ticks = due_ticks("30 * * * *", "Europe/Amsterdam", after=after, until=until, limit=10)
    assert _local(ticks) == [
        "2024-10-27T00:30:00+02:00",
        "2024-10-27T01:30:00+02:00",
        "2024-10-27T02:30:00+02:00",
        "2024-10-27T03:30:00+01:00",
        "2024-10-27T04:30:00+01:00",
    ]
