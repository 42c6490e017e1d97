"""``TimeWindow`` and the time-zone helpers of time-window partitions.

Aware datetimes that share one ``tzinfo`` compare and subtract by wall time, ignoring DST folds,
so every comparison and difference in this package goes through UTC.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, model_validator

from rivers.partitions.errors import PartitionError

__all__ = [
    "TimeWindow",
    "coerce_datetime",
    "is_fixed_offset",
    "localize",
    "utc",
    "zone",
]


class TimeWindow(BaseModel):
    """The half-open span ``[start, end)`` of one time-window partition.

    Example:
        >>> daily = PartitionsDefinition.daily(start="2024-01-01")
        >>> daily.time_window_for_key("2024-01-15").end
        datetime.datetime(2024, 1, 16, 0, 0, tzinfo=zoneinfo.ZoneInfo(key='UTC'))
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    start: datetime
    end: datetime

    @model_validator(mode="after")
    def _check(self) -> TimeWindow:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise PartitionError("a TimeWindow needs time-zone-aware start and end")
        if not utc(self.start) < utc(self.end):
            raise PartitionError(f"TimeWindow start {self.start} must be before end {self.end}")
        return self

    @property
    def duration(self) -> timedelta:
        """How long the window lasts in absolute time (23 or 25 hours across a DST change)."""
        return utc(self.end) - utc(self.start)

    def __contains__(self, moment: object) -> bool:
        if not isinstance(moment, datetime) or moment.tzinfo is None:
            return False
        return utc(self.start) <= utc(moment) < utc(self.end)


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC: the safe way to compare or subtract aware datetimes."""
    return moment.astimezone(UTC)


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (``"UTC"``, ``"America/New_York"``, ...)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise PartitionError(
            f"unknown time zone {name!r}: use an IANA name such as 'UTC' or 'Europe/Paris'"
        ) from None


def localize(day: date, at: time, tz: tzinfo, *, fixed: bool = False) -> datetime:
    """``day`` at local wall time ``at`` in ``tz``; a time skipped by DST moves forward.

    ``fixed``: the zone never changes offset, so the wall time needs no normalizing.
    """
    wall = datetime.combine(day, at, tzinfo=tz)
    return wall if fixed else wall.astimezone(UTC).astimezone(tz)


def is_fixed_offset(tz: tzinfo, start: datetime, end: datetime | None) -> bool:
    """Whether ``tz`` keeps one UTC offset from ``start`` to ``end`` (or 2040 when open).

    Sampled monthly: a DST rule or a one-off change of offset always shows between samples.
    """
    return _fixed(tz, start.year, max(end.year if end is not None else 0, 2040))


@functools.lru_cache(maxsize=256)
def _fixed(tz: tzinfo, first_year: int, last_year: int) -> bool:
    offsets = set()
    for year in range(max(first_year, 1900), last_year + 1):
        for month in range(1, 13):
            offsets.add(datetime(year, month, 1, 12, tzinfo=tz).utcoffset())
            if len(offsets) > 1:
                return False
    return True


_FORMATS = ("%Y-%m-%d-%H:%M", "%Y-%m-%d-%H:%M:%S")


def coerce_datetime(value: object, tz: tzinfo, what: str) -> datetime:
    """A ``datetime``/``date``/string as an aware datetime in ``tz`` (naive = in ``tz``).

    Strings: ``YYYY-MM-DD``, ``YYYY-MM-DD HH:MM[:SS]``, ISO 8601 (with or without offset), or
    Dagster's ``YYYY-MM-DD-HH:MM``.
    """
    if isinstance(value, str):
        parsed: datetime | None = None
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            for fmt in _FORMATS:
                try:
                    parsed = datetime.strptime(value.strip(), fmt)
                    break
                except ValueError:
                    continue
        if parsed is None:
            raise PartitionError(
                f"{what} {value!r} is not a date: use a datetime or 'YYYY-MM-DD' / "
                "'YYYY-MM-DD HH:MM[:SS]', e.g. '2024-01-01'"
            )
        value = parsed
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime.combine(value, time())
    if not isinstance(value, datetime):
        raise PartitionError(f"{what} must be a datetime or a 'YYYY-MM-DD' string, got {value!r}")
    if value.tzinfo is None:
        return localize(value.date(), value.time(), tz)
    # Through UTC: ``astimezone`` into the value's own zone returns it unchanged, keeping a wall
    # time that DST skipped or a fold that means nothing. The canonical form makes one instant
    # one value (equal definitions, exact wire round trips, a stable snapshot id).
    return value.astimezone(UTC).astimezone(tz)
