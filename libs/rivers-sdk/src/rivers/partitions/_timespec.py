"""Key arithmetic of one time-window definition: count, key <-> index, windows.

A :class:`TimeSpec` is built once per definition (and cached on it). Key ``i`` is the start of
window ``i`` formatted with the definition's ``fmt`` in its time zone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, tzinfo

from rivers.partitions.calendars import Calendar, DayCalendar, build_calendar
from rivers.partitions.cron import Cadence, CronCalendar, parse_cron
from rivers.partitions.errors import PartitionError
from rivers.partitions.timewindow import TimeWindow, is_fixed_offset, localize, utc, zone

__all__ = ["TimeSpec", "default_fmt"]

_DATE = "%Y-%m-%d"
_LATE = time(22)  # DST shifts are at most 2 hours: an earlier start never leaves its date


def default_fmt(cadence: Cadence, tz: tzinfo, start: datetime, end: datetime | None) -> str:
    """Dagster's key format for a cadence, plus ``%z`` for sub-daily keys in a zone with DST.

    Daily and coarser: ``%Y-%m-%d``; hourly/minutely: ``%Y-%m-%d-%H:%M``; sub-minute:
    ``%Y-%m-%d-%H:%M:%S``. In a zone whose UTC offset changes, wall times repeat when clocks go
    back, so sub-daily keys end with the offset (``2024-11-03-01:00-0400``) to stay unique.
    """
    if not cadence.sub_daily:
        return _DATE
    fmt = "%Y-%m-%d-%H:%M:%S" if cadence.sub_minute else "%Y-%m-%d-%H:%M"
    return fmt if is_fixed_offset(tz, start, end) else fmt + "%z"


class TimeSpec:
    """Count, keys and windows of a time-window definition (O(1) for regular cadences)."""

    def __init__(
        self,
        *,
        start: datetime,
        cron_schedule: str,
        fmt: str,
        timezone: str,
        end: datetime | None = None,
        end_offset: int = 0,
        generic: bool = False,
    ) -> None:
        self.tz = zone(timezone)
        self.cadence = parse_cron(cron_schedule)
        self.fmt, self.end_offset, self.cron_schedule = fmt, end_offset, cron_schedule
        self.start = start.astimezone(self.tz)
        self.fixed = is_fixed_offset(self.tz, self.start, end)
        # A wall-clock pattern of several ticks a day is ambiguous around DST changes: only
        # croniter's enumeration handles those in zones with DST.
        kind = self.cadence.kind
        enumerate_ticks = kind == "generic" or (
            kind == "pattern" and self.cadence.sub_daily and not self.fixed
        )
        self.calendar: Calendar = (
            CronCalendar(self.cadence.expr, self.tz, self.start)
            if generic or enumerate_ticks
            else build_calendar(self.cadence, self.start, self.tz, fixed=self.fixed)
        )
        self.end_count = None if end is None else max(0, self.calendar.index_containing(end))
        # Daily/weekly keys in the default format are the local date of the window: computed
        # from date ordinals directly, unless DST could push a late start past midnight.
        cal = self.calendar
        self._dates = (
            cal
            if fmt == _DATE and isinstance(cal, DayCalendar) and (self.fixed or cal.at < _LATE)
            else None
        )

    def check_fmt(self, *, end: datetime | None) -> None:
        """Raise when ``fmt`` cannot tell windows apart or cannot be parsed back."""
        fmt = self.fmt
        if self.cadence.sub_daily and "%z" not in fmt and "%s" not in fmt and not self.fixed:
            raise PartitionError(
                f"fmt {fmt!r} would repeat keys when clocks go back in {self.tz}: add '%z' "
                f"(e.g. {fmt + '%z'!r}) or use a fixed-offset zone such as 'UTC'"
            )
        first, second = self.key_at(0), self.key_at(1)
        if first == second:
            raise PartitionError(
                f"fmt {fmt!r} gives consecutive windows the same key {first!r}: "
                f"it needs the fields of the cadence {self.cron_schedule!r}"
            )
        if "|" in first or first != first.strip() or not first:
            raise PartitionError(f"fmt {fmt!r} gives key {first!r}: keys cannot contain '|'")
        if self.parse(first) != 0 or self.parse(second) != 1:
            raise PartitionError(f"fmt {fmt!r} gives keys ({first!r}) that cannot be parsed back")

    @property
    def name(self) -> str:
        """``hourly``, ``daily``, ``weekly``, ``monthly``, ... or the cron expression."""
        c = self.cadence
        named = {
            ("interval", 60): "minutely",
            ("interval", 3600): "hourly",
            ("days", 1): "daily",
            ("days", 7): "weekly",
            ("months", 1): "monthly",
            ("months", 12): "yearly",
        }
        return named.get((c.kind, c.period), f"cron {self.cron_schedule!r}")

    def count(self, now: datetime | None) -> int:
        """Windows ended at ``now`` (+ ``end_offset``), never past ``end``."""
        moment = now if now is not None else datetime.now(UTC)
        if moment.tzinfo is None:
            moment = localize(moment.date(), moment.time(), self.tz)
        n = max(0, self.calendar.index_containing(moment)) + self.end_offset
        return max(0, n if self.end_count is None else min(n, self.end_count))

    def key_at(self, i: int) -> str:
        """The key of window ``i``."""
        if self._dates is not None:
            return date.fromordinal(self._dates.ordinal + i * self._dates.step).isoformat()
        return self.calendar.start_at(i).strftime(self.fmt)

    def keys(self, indices: range | tuple[int, ...]) -> list[str]:
        """The keys of several windows."""
        if self._dates is not None:
            first, step, day = self._dates.ordinal, self._dates.step, date.fromordinal
            return [day(first + i * step).isoformat() for i in indices]
        start_at, fmt = self.calendar.start_at, self.fmt
        return [start_at(i).strftime(fmt) for i in indices]

    def parse(self, key: str, limit: int | None = None) -> int | None:
        """The index of the window whose key is ``key`` (any index), or None if malformed.

        With ``limit``, a key of a window starting after window ``limit`` returns ``limit``
        unchecked, so that a far-future key never makes a generic cron enumerate up to it.
        """
        if self._dates is not None:
            try:
                i, rest = divmod(
                    date.fromisoformat(key).toordinal() - self._dates.ordinal, self._dates.step
                )
            except ValueError:
                return None
            return i if not rest and self.key_at(i) == key else None
        try:
            if self.fmt == _DATE:
                moment = datetime.combine(date.fromisoformat(key), datetime.min.time())
            else:
                moment = datetime.strptime(key, self.fmt)
            moment = (
                localize(moment.date(), moment.time(), self.tz)
                if moment.tzinfo is None
                else moment.astimezone(self.tz)
            )
            beyond = limit is not None and not self.calendar.regular
            if beyond and utc(moment) > utc(self.calendar.start_at(limit or 0)):
                return limit
            i = self.calendar.index_containing(moment)
            if self.calendar.start_at(i).astimezone(UTC) < moment.astimezone(UTC):
                i += 1  # a key may omit the window's time of day: take the first start after
            return i if self.key_at(i) == key else None
        except (ValueError, OverflowError):
            return None

    def window(self, i: int) -> TimeWindow:
        """The time window of window ``i``."""
        return TimeWindow(start=self.calendar.start_at(i), end=self.calendar.start_at(i + 1))

    def index_for_time(self, moment: datetime) -> int:
        """The index of the window containing ``moment`` (naive = in the definition's zone)."""
        if moment.tzinfo is None:
            moment = localize(moment.date(), moment.time(), self.tz)
        return self.calendar.index_containing(moment)

    def first_at_or_after(self, moment: datetime) -> int:
        """The index of the first window starting at or after ``moment``."""
        i = self.calendar.index_containing(moment)
        return i if self.calendar.start_at(i).astimezone(UTC) >= moment.astimezone(UTC) else i + 1
