"""Time windows across DST changes, weekly and monthly calendars."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from rivers.partitions import PartitionKeyRange, PartitionsDefinition

P = PartitionsDefinition
NY = ZoneInfo("America/New_York")
HOUR = timedelta(hours=1)
NOW = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("first", "last", "short"), [("03-01", "03-24", "03-10"), ("10-20", "11-12", "11-03")]
)
def test_daily_keys_are_local_dates_across_dst(first: str, last: str, short: str) -> None:
    """Daily keys in New York are consecutive local dates; the DST day lasts 23 or 25 hours."""
    daily = P.daily(start="2024-01-01", timezone="America/New_York")
    keys = daily.resolve(PartitionKeyRange.single(f"2024-{first}", f"2024-{last}"), now=NOW)
    assert len(keys) == 24 and len(set(keys)) == 24
    windows = [daily.time_window_for_key(k) for k in keys]
    for key, window in zip(keys, windows, strict=True):
        assert window.start.astimezone(NY).strftime("%Y-%m-%d %H:%M") == f"{key} 00:00"
    for before, after in itertools.pairwise(windows):
        assert before.end == after.start
    durations = {k: w.duration for k, w in zip(keys, windows, strict=True)}
    expected = timedelta(hours=23) if short == "03-10" else timedelta(hours=25)
    assert durations.pop(f"2024-{short}") == expected
    assert set(durations.values()) == {timedelta(hours=24)}


def test_daily_at_a_skipped_local_time_moves_forward() -> None:
    """A daily window at 02:30 starts at 03:30 local on the day 02:30 does not exist."""
    daily = P.daily(
        start="2024-03-08", timezone="America/New_York", hour_offset=2, minute_offset=30
    )
    window = daily.time_window_for_key("2024-03-10")
    assert window.start.astimezone(NY).strftime("%H:%M %z") == "03:30 -0400"
    assert daily.key_for_time(datetime(2024, 3, 10, 12, tzinfo=NY)) == "2024-03-10"
    assert daily.key_for_time(datetime(2024, 3, 10, 1, tzinfo=NY)) == "2024-03-09"


@pytest.mark.parametrize(
    ("day", "hours", "present", "absent"),
    [
        (
            "2024-03-10",
            23,
            ["2024-03-10-01:00-0500", "2024-03-10-03:00-0400"],
            ["2024-03-10-02:00-0500"],
        ),
        ("2024-11-03", 25, ["2024-11-03-01:00-0400", "2024-11-03-01:00-0500"], []),
    ],
)
def test_hourly_keys_carry_the_offset_in_a_dst_zone(
    day: str, hours: int, present: list[str], absent: list[str]
) -> None:
    """Hourly keys in New York end with %z: unique, and windows tile absolute time without gaps."""
    hourly = P.hourly(start=day, timezone="America/New_York")
    assert hourly.fmt == "%Y-%m-%d-%H:%M%z"
    next_day = datetime.fromisoformat(day) + timedelta(days=1)
    now = next_day.replace(tzinfo=NY)
    keys = hourly.get_partition_keys(now=now)
    assert len(keys) == hours and len(set(keys)) == hours
    windows = [hourly.time_window_for_key(k) for k in keys]
    assert all(w.duration == HOUR for w in windows)
    assert all(a.end == b.start for a, b in itertools.pairwise(windows))
    for key in present:
        assert key in keys
    for key in absent:
        assert key not in keys and not hourly.has_key(key, now=now)
    assert hourly.index_of(keys[-1], now=now) == hours - 1


def test_hourly_in_utc_and_fixed_offsets_has_no_offset_in_keys() -> None:
    """Zones without DST keep Dagster's plain hourly key format."""
    assert P.hourly(start="2024-01-01").fmt == "%Y-%m-%d-%H:%M"
    kolkata = P.hourly(start="2024-01-01", timezone="Asia/Kolkata")
    assert kolkata.fmt == "%Y-%m-%d-%H:%M"
    assert kolkata.time_window_for_key("2024-01-01-05:00").start == datetime(
        2023, 12, 31, 23, 30, tzinfo=UTC
    )


def test_multi_hour_cadence_keeps_absolute_length_across_dst() -> None:
    """Every-6-hours windows in a DST zone stay 6 hours long (their local hour shifts)."""
    six = P.time_window(
        start="2024-03-09", cron_schedule="0 */6 * * *", timezone="America/New_York"
    )
    keys = list(six.get_partition_keys(now=datetime(2024, 3, 11, tzinfo=NY)))
    assert keys[:5] == [
        "2024-03-09-00:00-0500",
        "2024-03-09-06:00-0500",
        "2024-03-09-12:00-0500",
        "2024-03-09-18:00-0500",
        "2024-03-10-00:00-0500",
    ]
    assert keys[5] == "2024-03-10-07:00-0400"
    assert all(six.time_window_for_key(k).duration == 6 * HOUR for k in keys)


@pytest.mark.parametrize(
    ("day_offset", "first"),
    [(0, "2024-01-07"), (1, "2024-01-01"), (3, "2024-01-03"), (6, "2024-01-06")],
)
def test_weekly_day_offset(day_offset: int, first: str) -> None:
    """weekly(day_offset=d) starts weeks on weekday d, 0 = Sunday."""
    weekly = P.weekly(start="2024-01-01", day_offset=day_offset)
    keys = weekly.get_partition_keys(now=NOW)
    assert keys[0] == first
    assert all(weekly.time_window_for_key(k).duration == timedelta(days=7) for k in keys[:3])
    assert weekly.count(now=NOW) == len(keys)
    assert not weekly.has_key("2024-01-02", now=NOW) or first == "2024-01-02"


def test_weekly_across_dst_is_a_calendar_week() -> None:
    """A weekly window containing a DST change lasts 7 days minus one hour."""
    weekly = P.weekly(start="2024-03-01", timezone="America/New_York")
    assert weekly.time_window_for_key("2024-03-10").duration == timedelta(days=7) - HOUR
    assert weekly.time_window_for_key("2024-03-03").duration == timedelta(days=7)


def test_monthly_windows() -> None:
    """Monthly windows start on day_offset and last a calendar month."""
    monthly = P.monthly(start="2024-01-15")
    keys = monthly.get_partition_keys(now=datetime(2024, 5, 31, tzinfo=UTC))
    assert list(keys) == ["2024-02-01", "2024-03-01", "2024-04-01"]
    assert monthly.time_window_for_key("2024-02-01").duration == timedelta(days=29)
    mid = P.monthly(start="2024-01-15", day_offset=15, hour_offset=6)
    assert list(mid.get_partition_keys(now=datetime(2024, 5, 15, 6, tzinfo=UTC))) == [
        "2024-01-15",
        "2024-02-15",
        "2024-03-15",
        "2024-04-15",
    ]
    assert mid.time_window_for_key("2024-03-15").start == datetime(2024, 3, 15, 6, tzinfo=UTC)
    assert not mid.has_key("2024-03-16", now=NOW)


def test_yearly_cron_is_calendar_arithmetic() -> None:
    """A once-a-year cron counts calendar years."""
    yearly = P.time_window(start="2000-01-01", cron_schedule="0 0 1 1 *")
    assert yearly.count(now=NOW) == 25
    assert yearly.key_at(-1, now=NOW) == "2024-01-01"
    assert yearly.time_window_for_key("2020-01-01").duration == timedelta(days=366)
