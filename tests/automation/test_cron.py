"""Schedule cron ticks in a time zone, with daylight saving time handled as Dagster documents."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from rivers.automation.cron import cron_ticks, next_cron_tick

AMS = ZoneInfo("Europe/Amsterdam")
LA = ZoneInfo("America/Los_Angeles")


def _local(ticks: list[float], zone: ZoneInfo = AMS) -> list[str]:
    return [datetime.fromtimestamp(t, zone).isoformat() for t in ticks]


def _between(cron: str, zone: ZoneInfo, start: datetime, end: datetime) -> list[str]:
    ticks = cron_ticks(cron, str(zone), after=start.timestamp(), until=end.timestamp(), limit=100)
    return _local(ticks, zone)


def test_six_field_cron_ticks_every_two_seconds() -> None:
    """A leading seconds field ticks within the minute; the window is (after, until]."""
    assert cron_ticks("*/2 * * * * *", "UTC", after=0.0, until=7.0, limit=10) == [2.0, 4.0, 6.0]
    assert cron_ticks("*/2 * * * * *", "UTC", after=0.0, until=7.0, limit=2) == [4.0, 6.0]
    assert next_cron_tick("*/2 * * * * *", "UTC", after=4.0) == 6.0


def test_daily_time_in_the_spring_gap_runs_at_the_next_existing_time() -> None:
    """02:30 does not exist when clocks jump 02:00 -> 03:00: that day's run is at 03:00."""
    ticks = _between(
        "30 2 * * *", LA, datetime(2024, 3, 9, 12, tzinfo=LA), datetime(2024, 3, 11, 12, tzinfo=LA)
    )
    assert ticks == ["2024-03-10T03:00:00-07:00", "2024-03-11T02:30:00-07:00"]
    gap_day = datetime(2024, 3, 10, 0, tzinfo=LA).timestamp()
    assert _local(
        [next_cron_tick("30 2 * * *", "America/Los_Angeles", after=gap_day) or 0], LA
    ) == ["2024-03-10T03:00:00-07:00"]


def test_daily_time_that_repeats_runs_at_its_second_occurrence() -> None:
    """01:30 happens twice when clocks go back: the daily run is at the second one."""
    ticks = _between(
        "30 1 * * *", LA, datetime(2024, 11, 2, 12, tzinfo=LA), datetime(2024, 11, 3, 12, tzinfo=LA)
    )
    assert ticks == ["2024-11-03T01:30:00-08:00"]


def test_hourly_cron_runs_once_per_real_hour_across_both_transitions() -> None:
    """Every hour: no run in the skipped hour, a run in each occurrence of the repeated one."""
    spring = _between(
        "30 * * * *",
        AMS,
        datetime(2024, 3, 31, 0, tzinfo=AMS),
        datetime(2024, 3, 31, 4, tzinfo=AMS),
    )
    assert spring == [
        "2024-03-31T00:30:00+01:00",
        "2024-03-31T01:30:00+01:00",
        "2024-03-31T03:30:00+02:00",
    ]
    fall_start = datetime(2024, 10, 27, 0, tzinfo=AMS)
    fall = _between("30 * * * *", AMS, fall_start, datetime(2024, 10, 27, 4, tzinfo=AMS))
    assert fall == [
        "2024-10-27T00:30:00+02:00",
        "2024-10-27T01:30:00+02:00",
        "2024-10-27T02:30:00+02:00",
        "2024-10-27T02:30:00+01:00",
        "2024-10-27T03:30:00+01:00",
    ]


def test_newest_ticks_after_a_long_downtime() -> None:
    """Only the newest ``limit`` ticks come back, however long the window."""
    ticks = cron_ticks("* * * * *", "UTC", after=0.0, until=10 * 86400.0, limit=3)
    assert ticks == [10 * 86400.0 - 120, 10 * 86400.0 - 60, 10 * 86400.0]
