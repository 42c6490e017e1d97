"""The O(1) calendars behind regular time-window partitions.

Window ``i`` of a calendar starts at its ``i``-th tick at or after the definition's start and
ends where window ``i + 1`` starts; ``start_at`` and ``index_containing`` are O(1) (O(log c)
for patterns of ``c`` ticks). The calendars:

* :class:`IntervalCalendar` (evenly spaced sub-daily cadences): fixed intervals of *absolute*
  time from the first tick. A DST change never creates a gap, an overlap or a duplicate window;
  the price is that a multi-hour cadence (e.g. every 6 hours) in a zone with DST starts at a
  different local hour after a change. Keys of these windows carry the UTC offset (``%z``) in
  such zones.
* :class:`DayCalendar` / :class:`MonthCalendar` (daily and coarser): *calendar* arithmetic on
  local dates, so a daily window always starts at the same local time and DST makes some
  windows 23 or 25 hours long. A local start time that does not exist (skipped by DST) moves
  forward by the DST shift.
* :class:`PatternCalendar`: any other set of ticks repeating every day or every week
  (``0 9-17 * * 1-5``), on the local wall clock; used in fixed-offset zones, or with DST when
  there is at most one tick a day.
"""

from __future__ import annotations

import bisect
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Protocol

from rivers.partitions.cron import Cadence
from rivers.partitions.timewindow import localize, utc

__all__ = [
    "Calendar",
    "DayCalendar",
    "IntervalCalendar",
    "MonthCalendar",
    "PatternCalendar",
    "build_calendar",
]


class Calendar(Protocol):
    """Window starts of a time-window definition, indexed from its first window (0)."""

    regular: bool

    def start_at(self, i: int) -> datetime:
        """The start of window ``i`` (any integer), aware, in the definition's zone."""
        ...

    def index_containing(self, t: datetime) -> int:
        """The index of the window containing the aware datetime ``t`` (may be negative)."""
        ...


class IntervalCalendar:
    """Windows of ``period`` seconds of absolute time from ``anchor``: O(1) both ways."""

    regular = True

    def __init__(self, anchor: datetime, period: int, tz: tzinfo) -> None:
        self._anchor, self._tz = utc(anchor), tz
        self._period = timedelta(seconds=period)

    def start_at(self, i: int) -> datetime:
        """The start of window ``i``."""
        return (self._anchor + i * self._period).astimezone(self._tz)

    def index_containing(self, t: datetime) -> int:
        """The window containing ``t``."""
        return (t - self._anchor) // self._period


class DayCalendar:
    """Windows starting every ``step`` local days (1 or 7) at local time ``at``: O(1)."""

    regular = True

    def __init__(self, anchor: date, step: int, at: time, tz: tzinfo, fixed: bool) -> None:
        self.ordinal, self.step, self.at = anchor.toordinal(), step, at
        self._tz, self._fixed = tz, fixed

    def start_at(self, i: int) -> datetime:
        """The start of window ``i``."""
        day = date.fromordinal(self.ordinal + i * self.step)
        return localize(day, self.at, self._tz, fixed=self._fixed)

    def index_containing(self, t: datetime) -> int:
        """The window containing ``t``."""
        i = (t.astimezone(self._tz).toordinal() - self.ordinal) // self.step
        return i - 1 if utc(self.start_at(i)) > utc(t) else i


class MonthCalendar:
    """Windows starting every ``step`` months (1 or 12) on ``day`` at local time ``at``: O(1)."""

    regular = True

    def __init__(self, anchor: date, step: int, at: time, tz: tzinfo, fixed: bool) -> None:
        self._month = anchor.year * 12 + anchor.month - 1
        self._day, self._step, self._at, self._tz = anchor.day, step, at, tz
        self._fixed = fixed

    def start_at(self, i: int) -> datetime:
        """The start of window ``i``."""
        year, month = divmod(self._month + i * self._step, 12)
        return localize(date(year, month + 1, self._day), self._at, self._tz, fixed=self._fixed)

    def index_containing(self, t: datetime) -> int:
        """The window containing ``t``."""
        local = t.astimezone(self._tz)
        i = (local.year * 12 + local.month - 1 - self._month) // self._step
        return i - 1 if utc(self.start_at(i)) > utc(t) else i


class PatternCalendar:
    """Ticks at fixed local ``(day in cycle, second of day)`` offsets of a 1- or 7-day cycle.

    Raw tick ``r`` is tick ``r % c`` of cycle ``r // c`` (cycle 0 starts on ``origin``);
    window ``i`` is raw tick ``i + first``.
    """

    regular = True

    def __init__(
        self,
        origin: date,
        span: int,
        ticks: list[tuple[int, int]],
        tz: tzinfo,
        fixed: bool,
        start: datetime,
    ) -> None:
        self._origin, self._span, self._ticks = origin.toordinal(), span, ticks
        self._times = [_time_of_day(s) for _, s in ticks]
        self._tz, self._fixed, self._first = tz, fixed, 0
        self._first = self._raw_at_or_after(start)

    def _raw(self, i: int) -> tuple[int, int]:
        return divmod(i + self._first, len(self._ticks))

    def start_at(self, i: int) -> datetime:
        """The start of window ``i``."""
        cycle, j = self._raw(i)
        day = date.fromordinal(self._origin + cycle * self._span + self._ticks[j][0])
        return localize(day, self._times[j], self._tz, fixed=self._fixed)

    def _wall_index(self, t: datetime) -> int:
        local = t.astimezone(self._tz)
        cycle, day = divmod(local.toordinal() - self._origin, self._span)
        second = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
        j = bisect.bisect_right(self._ticks, (day, second)) - 1
        return cycle * len(self._ticks) + j - self._first

    def index_containing(self, t: datetime) -> int:
        """The window containing ``t``."""
        i = self._wall_index(t)
        return i - 1 if utc(self.start_at(i)) > utc(t) else i

    def _raw_at_or_after(self, start: datetime) -> int:
        i = self.index_containing(start)
        return i if utc(self.start_at(i)) >= utc(start) else i + 1


def _time_of_day(seconds: int) -> time:
    return time(seconds // 3600, seconds // 60 % 60, seconds % 60)


def build_calendar(cadence: Cadence, start: datetime, tz: tzinfo, *, fixed: bool) -> Calendar:
    """The O(1) calendar of a regular ``cadence`` whose first window is the first tick >= start.

    ``fixed``: ``tz`` never changes its UTC offset (wall times need no DST normalizing).
    """
    local, start = start.astimezone(tz), utc(start)
    at = _time_of_day(cadence.first)
    if cadence.kind == "interval":
        wall = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
        k = max(0, -(-(wall - cadence.first) // cadence.period))
        tick = cadence.first + int(k) * cadence.period
        day = local.date() + timedelta(days=tick // 86_400)
        anchor = utc(localize(day, _time_of_day(tick % 86_400), tz))
        while anchor < start:  # only around a DST change
            anchor += timedelta(seconds=cadence.period)
        return IntervalCalendar(anchor, cadence.period, tz)
    if cadence.kind == "days":
        day = local.date()
        if cadence.weekday is not None:
            day += timedelta(days=(cadence.weekday - (day.weekday() + 1)) % 7)
        if utc(localize(day, at, tz)) < start:
            day += timedelta(days=cadence.period)
        return DayCalendar(day, cadence.period, at, tz, fixed)
    if cadence.kind == "months":
        year, month = local.year, cadence.month or local.month
        if cadence.month is not None and month < local.month:
            year += 1
        if utc(localize(date(year, month, cadence.day), at, tz)) < start:
            year, month = divmod(year * 12 + month - 1 + cadence.period, 12)
            month += 1
        return MonthCalendar(date(year, month, cadence.day), cadence.period, at, tz, fixed)
    if cadence.kind == "pattern":
        span = 1 if not cadence.weekdays else 7
        days = cadence.weekdays or (0,)
        ticks = sorted((d, s) for d in days for s in cadence.times)
        origin = local.date()
        if span == 7:  # cycles start on Sundays, weekday 0 as in cron
            origin -= timedelta(days=(origin.weekday() + 1) % 7)
        return PatternCalendar(origin, span, ticks, tz, fixed, start)
    raise AssertionError(f"not a regular cadence: {cadence.kind}")
