"""The O(1) calendars agree with brute-force croniter enumeration (property test)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rivers.partitions import PartitionsDefinition
from rivers.partitions.cron import parse_cron

FIXED_ZONES = ["UTC", "Asia/Kolkata", "Etc/GMT-3"]
DST_ZONES = ["America/New_York", "Europe/Paris"]
_LIMIT = 400  # windows enumerated per example


@st.composite
def cadences(draw: st.DrawFn) -> tuple[str, str, int]:
    """(cron, zone, approximate period in seconds) of a regular cadence."""
    zone = draw(st.sampled_from(FIXED_ZONES + DST_ZONES))
    dst = zone in DST_ZONES
    # DST zones switch at 01:00-03:00 local: daily-and-coarser ticks avoid those hours, and
    # sub-daily steps divide the hour (multi-hour steps keep absolute length by design).
    hour = draw(st.sampled_from([0, 4, 5, 12, 22, 23]) if dst else st.integers(0, 23))
    minute = draw(st.integers(0, 59))
    kinds = ["seconds", "minutes", "hours", "daily", "weekly", "monthly", "yearly", "pattern"]
    kind = draw(st.sampled_from(kinds))
    if kind == "pattern":
        return draw(patterns(dst, hour, minute)), zone, 86_400
    if kind == "seconds":
        step = draw(st.sampled_from([1, 5, 10, 15, 20, 30]))
        return f"{draw(st.integers(0, step - 1))}-59/{step} * * * * *", zone, step
    if kind == "minutes":
        step = draw(st.sampled_from([1, 2, 5, 10, 12, 15, 20, 30]))
        return f"{draw(st.integers(0, step - 1))}-59/{step} * * * *", zone, 60 * step
    if kind == "hours":
        step = 1 if dst else draw(st.sampled_from([1, 2, 3, 4, 6, 8, 12]))
        return f"{minute} {draw(st.integers(0, step - 1))}-23/{step} * * *", zone, 3600 * step
    if kind == "daily":
        return f"{minute} {hour} * * *", zone, 86_400
    if kind == "weekly":
        return f"{minute} {hour} * * {draw(st.integers(0, 6))}", zone, 7 * 86_400
    if kind == "monthly":
        return f"{minute} {hour} {draw(st.integers(1, 28))} * *", zone, 31 * 86_400
    month = draw(st.integers(1, 12))
    return f"{minute} {hour} {draw(st.integers(1, 28))} {month} *", zone, 366 * 86_400


@st.composite
def patterns(draw: st.DrawFn, dst: bool, hour: int, minute: int) -> str:
    """An irregular daily or weekly cron (several hours and minutes, some weekdays)."""
    hours = (
        [hour] if dst else draw(st.lists(st.integers(0, 23), min_size=1, max_size=5, unique=True))
    )
    minutes = (
        [minute] if dst else draw(st.lists(st.integers(0, 59), min_size=1, max_size=3, unique=True))
    )
    days = draw(st.none() | st.lists(st.integers(0, 6), min_size=1, max_size=6, unique=True))
    weekdays = "*" if days is None else ",".join(map(str, days))
    return f"{','.join(map(str, minutes))} {','.join(map(str, hours))} * * {weekdays}"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cadence=cadences(),
    start=st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2030, 1, 1)),
    windows=st.integers(0, _LIMIT - 5),
    fraction=st.floats(0, 0.999),
)
def test_regular_cadences_agree_with_croniter(
    cadence: tuple[str, str, int], start: datetime, windows: int, fraction: float
) -> None:
    """key_at, index_of, count and windows of regular cadences match croniter's ticks."""
    cron, zone, period = cadence
    parsed = parse_cron(cron)
    assert parsed.kind != "generic", cron
    if parsed.kind == "pattern":  # average spacing of the ticks
        period = 7 * 86_400 // (len(parsed.times) * len(parsed.weekdays or range(7)))
    tz = ZoneInfo(zone)
    definition = PartitionsDefinition.time_window(start=start, cron_schedule=cron, timezone=zone)
    assert definition.start is not None
    # Arithmetic and comparisons in UTC: aware datetimes sharing a zone ignore DST folds.
    first = definition.start.astimezone(UTC)
    now = first + timedelta(seconds=(windows + fraction) * period)

    it = croniter(parsed.expr, definition.start - timedelta(seconds=1), second_at_beginning=True)
    ticks: list[datetime] = []  # in UTC
    while not ticks or ticks[-1] <= now:
        tick = datetime.fromtimestamp(it.get_next(float), UTC)
        if tick >= first:
            ticks.append(tick)
    ended = sum(1 for a, b in itertools.pairwise(ticks) if b <= now)
    fmt = definition.fmt
    assert fmt is not None
    expected = [t.astimezone(tz).strftime(fmt) for t in ticks[:ended]]

    keys = definition.get_partition_keys(now=now)
    assert definition.count(now=now) == ended == len(keys)
    assert list(keys) == expected
    for j in sorted({0, ended // 2, ended - 1}):
        if 0 <= j < ended:
            assert definition.key_at(j, now=now) == expected[j]
            assert definition.index_of(expected[j], now=now) == j
            window = definition.time_window_for_key(expected[j])
            assert (window.start, window.end) == (ticks[j], ticks[j + 1])
            assert definition.key_for_time(ticks[j] + (ticks[j + 1] - ticks[j]) / 2) == expected[j]
    assert not definition.has_key(ticks[ended].astimezone(tz).strftime(fmt), now=now)
