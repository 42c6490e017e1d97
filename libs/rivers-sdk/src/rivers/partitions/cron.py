"""Cron expressions of time-window partitions: parsing, classification, generic enumeration.

An expression has 5 fields (``minute hour day-of-month month day-of-week``) or 6 with a
*leading* seconds field (``"*/30 * * * * *"`` is every 30 seconds); ``@daily``-style aliases
work too. :func:`parse_cron` recognises the regular cadences that allow O(1) arithmetic:

* ``interval``: every N seconds where N divides the day (``*/30 * * * * *``, ``15 * * * *``,
  ``0 */6 * * *``);
* ``days``: once a day at a fixed time, or once a week on one weekday (period 1 or 7 days);
* ``months``: once a month on a day from 1 to 28, or once a year (period 1 or 12 months);
* ``pattern``: any other set of ticks repeating every day or week (``0 9-17 * * 1-5``), at
  most 100,000 ticks per cycle.

Anything else is ``generic`` and is enumerated lazily by :class:`CronCalendar` with croniter,
which is imported only then: its first count is O(n) in the number of windows up to ``now``,
later calls reuse the cached ticks.
"""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any, Literal

from rivers.partitions.errors import PartitionError

__all__ = ["Cadence", "CronCalendar", "parse_cron"]

_ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
# (low, high, names) per field of the 6-field form: second minute hour dom month dow.
_BOUNDS: tuple[tuple[int, int, list[str] | None], ...] = (
    (0, 59, None),
    (0, 59, None),
    (0, 23, None),
    (1, 31, None),
    (1, 12, _MONTHS),
    (0, 7, _DAYS),
)
_MAX_PATTERN = 100_000


@dataclass(frozen=True)
class Cadence:
    """What a cron expression means for partition arithmetic.

    Attributes:
        kind: ``interval``, ``days``, ``months`` or ``generic``.
        expr: The expression in 6-field form (seconds first), as croniter takes it.
        period: Seconds (interval), days (1 or 7) or months (1 or 12).
        first: Interval: the first tick of a day, in seconds after midnight. Days and months:
            the time of day of the tick, in seconds after midnight.
        weekday: Weekly ticks: the weekday, 0 = Sunday as in cron.
        day: Monthly ticks: the day of the month (1-28).
        month: Yearly ticks: the month (1-12).
        times: Pattern: the ticks of a day, in seconds after midnight (sorted).
        weekdays: Pattern: the weekdays with ticks (0 = Sunday); empty for every day.
        sub_daily: Whether windows can be shorter than a day (keys then need a time).
        sub_minute: Whether ticks can fall on a second other than 0 (keys then need seconds).
    """

    kind: Literal["interval", "days", "months", "pattern", "generic"]
    expr: str
    period: int = 0
    first: int = 0
    weekday: int | None = None
    day: int = 1
    month: int | None = None
    times: tuple[int, ...] = ()
    weekdays: tuple[int, ...] = ()
    sub_daily: bool = False
    sub_minute: bool = False


def _value(text: str, names: list[str] | None) -> int | None:
    if text.isdigit():
        return int(text)
    if names is not None and text.lower() in names:
        return names.index(text.lower()) + (1 if names is _MONTHS else 0)
    return None


def _field(text: str, low: int, high: int, names: list[str] | None) -> set[int] | None:
    """The values of one cron field, or None when only croniter can tell (L, W, #, H, ...)."""
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text.isdigit() else 0
        if step_text and step == 0:
            return None
        if base in ("*", "?"):
            first, last = low, high
        elif "-" in base:
            a, _, b = base.partition("-")
            first_v, last_v = _value(a, names), _value(b, names)
            if first_v is None or last_v is None:
                return None
            first, last = first_v, last_v
        else:
            one = _value(base, names)
            if one is None:
                return None
            first, last = one, (high if step_text else one)
        if not low <= first <= last <= high:
            return None
        values.update(range(first, last + 1, step or 1))
    return values


def _even_step(values: set[int], modulus: int) -> int | None:
    """The spacing of ``values`` if they are evenly spaced around a circle of ``modulus``."""
    ordered = sorted(values)
    if modulus % len(ordered):
        return None
    step = modulus // len(ordered)
    return step if ordered == list(range(ordered[0], modulus, step)) else None


def _validate_with_croniter(expr6: str, original: str) -> None:
    from croniter import croniter  # imported here: `import rivers` must stay light

    try:
        croniter(expr6, datetime(2000, 1, 1), second_at_beginning=True).get_next(datetime)
    except Exception as exc:  # croniter raises several unrelated types for bad input
        raise PartitionError(f"invalid cron schedule {original!r}: {exc}") from None


def parse_cron(expr: str) -> Cadence:
    """Parse and classify a 5- or 6-field cron expression (6 fields: seconds first).

    Raises:
        PartitionError: The expression is not valid cron.

    Example:
        >>> parse_cron("0 * * * *").period
        3600
    """
    if not isinstance(expr, str):
        raise PartitionError(f"cron schedule must be a string, got {expr!r}")
    text = _ALIASES.get(expr.strip().lower(), expr.strip())
    parts = text.split()
    if len(parts) not in (5, 6):
        raise PartitionError(
            f"invalid cron schedule {expr!r}: expected 5 fields (minute hour day month weekday) "
            "or 6 with leading seconds, e.g. '0 0 * * *' or '*/30 * * * * *'"
        )
    if len(parts) == 5:
        parts = ["0", *parts]
    expr6 = " ".join(parts)
    fields = [_field(p, lo, hi, names) for p, (lo, hi, names) in zip(parts, _BOUNDS, strict=True)]
    if any(f is None for f in fields):
        _validate_with_croniter(expr6, expr)
        times = fields[:3]
        sub_minute = times[0] is None or times[0] != {0}
        sub_daily = any(f is None or len(f) > 1 for f in times)
        return Cadence("generic", expr6, sub_daily=sub_daily, sub_minute=sub_minute)
    sec, minute, hour, dom, month, dow = (f for f in fields if f is not None)
    dow = {d % 7 for d in dow}
    units = ((sec, 60, 1), (minute, 60, 60), (hour, 24, 3600))
    first = min(hour) * 3600 + min(minute) * 60 + min(sec)
    single_time = all(len(values) == 1 for values, _, _ in units)
    sub_minute = sec != {0}
    dom_any, dow_any = parts[3] in ("*", "?"), parts[5] in ("*", "?")
    every_month = month == set(range(1, 13))
    if dom_any and dow_any and every_month:
        if single_time:
            return Cadence("days", expr6, period=1, first=first)
        finest = next(i for i, (values, _, _) in enumerate(units) if len(values) > 1)
        values, modulus, unit = units[finest]
        step = _even_step(values, modulus)
        coarser_full = all(len(v) == m for v, m, _ in units[finest + 1 :])
        if step is not None and coarser_full:
            return Cadence(
                "interval",
                expr6,
                period=step * unit,
                first=first,
                sub_daily=True,
                sub_minute=sub_minute,
            )
    elif single_time and dom_any and every_month and len(dow) == 1:
        return Cadence("days", expr6, period=7, first=first, weekday=dow.pop())
    elif (
        single_time
        and dow_any
        and len(dom) == 1
        and max(dom) <= 28
        and (every_month or len(month) == 1)
    ):
        return Cadence(
            "months",
            expr6,
            period=1 if every_month else 12,
            first=first,
            day=max(dom),
            month=None if every_month else max(month),
        )
    ticks_per_day = len(sec) * len(minute) * len(hour)
    if dom_any and every_month and ticks_per_day * (1 if dow_any else len(dow)) <= _MAX_PATTERN:
        ticks = sorted(h * 3600 + m * 60 + s for h in hour for m in minute for s in sec)
        return Cadence(
            "pattern",
            expr6,
            first=first,
            times=tuple(ticks),
            weekdays=() if dow_any else tuple(sorted(dow)),
            sub_daily=not single_time,
            sub_minute=sub_minute,
        )
    _validate_with_croniter(expr6, expr)
    return Cadence("generic", expr6, sub_daily=not single_time, sub_minute=sub_minute)


class CronCalendar:
    """Windows of any cron expression, enumerated lazily with croniter and cached.

    Window ``i`` starts at the ``i``-th tick at or after ``start`` (negative ``i`` counts ticks
    before it). Looking up a time far from the ticks seen so far costs O(ticks in between) once.
    """

    regular = False

    def __init__(self, expr6: str, tz: tzinfo, start: datetime) -> None:
        from croniter import croniter  # imported here: `import rivers` must stay light

        self._expr, self._tz, self._start = expr6, tz, start
        self._lock = threading.Lock()
        origin = start.astimezone(tz) - timedelta(seconds=1)
        self._next = croniter(expr6, origin, second_at_beginning=True)
        first = self._tick(self._next, forward=True)
        while first < start.timestamp():  # ``start`` may have sub-second precision
            first = self._tick(self._next, forward=True)
        self._fwd: list[float] = [first]
        self._prev = croniter(
            expr6, datetime.fromtimestamp(self._fwd[0], tz), second_at_beginning=True
        )
        self._neg_back: list[float] = []  # -timestamp of ticks before the first, ascending

    def __reduce__(self) -> tuple[Any, ...]:
        # The caches and croniter iterators are rebuilt on demand; the lock cannot be pickled.
        return (CronCalendar, (self._expr, self._tz, self._start))

    @staticmethod
    def _tick(it: Any, *, forward: bool) -> float:
        try:
            return float(it.get_next(float) if forward else it.get_prev(float))
        except Exception as exc:  # CroniterBadDateError: no more ticks in range
            raise PartitionError(f"cron schedule has no further ticks: {exc}") from None

    def _extend_forward(self, index: int = -1, until: float | None = None) -> None:
        with self._lock:
            while len(self._fwd) <= index or (until is not None and self._fwd[-1] <= until):
                self._fwd.append(self._tick(self._next, forward=True))

    def _extend_back(self, count: int = 0, until: float | None = None) -> None:
        with self._lock:
            while len(self._neg_back) < count or (
                until is not None and (not self._neg_back or -self._neg_back[-1] > until)
            ):
                self._neg_back.append(-self._tick(self._prev, forward=False))

    def start_at(self, i: int) -> datetime:
        """The start of window ``i``, in the calendar's time zone."""
        if i >= 0:
            self._extend_forward(index=i)
            return datetime.fromtimestamp(self._fwd[i], self._tz)
        self._extend_back(count=-i)
        return datetime.fromtimestamp(-self._neg_back[-i - 1], self._tz)

    def index_containing(self, t: datetime) -> int:
        """The index of the window containing ``t`` (the last one starting at or before it)."""
        ts = t.timestamp()
        if ts >= self._fwd[0]:
            self._extend_forward(until=ts)
            return bisect.bisect_right(self._fwd, ts) - 1
        self._extend_back(until=ts)
        return -(bisect.bisect_left(self._neg_back, -ts) + 1)
