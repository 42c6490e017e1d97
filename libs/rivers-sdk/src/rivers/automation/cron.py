"""When a schedule's cron fires, as POSIX times, read in the schedule's time zone.

Daylight saving time follows Dagster's documented behaviour:

* a cron that names its hours (``30 2 * * *``) runs at the first existing time after a local
  time that does not exist (clocks jump 02:00 → 03:00: the 02:30 run happens at 03:00), and
  at the *second* occurrence of a local time that exists twice (clocks go back);
* a cron that fires every hour or more often (hour field ``*``) keeps running once per real
  interval: a skipped local hour has no run, and a repeated one runs in both occurrences.

Ticks are computed with croniter over local wall times and then mapped to instants.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

from rivers.partitions.cron import parse_cron

__all__ = ["cron_ticks", "next_cron_tick"]

_EPSILON = timedelta(microseconds=1)
_MARGIN = 2 * 3600.0  # wall and real time differ by at most this around a transition
_MAX_STEPS = 600_000  # a bound so a pathological expression cannot spin for ever


@functools.cache
def _parsed(cron: str) -> tuple[str, bool]:
    """The 6-field (seconds first) expression and whether it fires every hour."""
    expr = parse_cron(cron).expr
    return expr, expr.split()[2] == "*"


@functools.cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _wall(moment: float, zone: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(moment, UTC).astimezone(zone).replace(tzinfo=None)


def _margin(moment: float, zone: ZoneInfo) -> float:
    """How far wall and real order may disagree near ``moment`` (0 away from any DST change)."""
    offsets = {datetime.fromtimestamp(moment + d, zone).utcoffset() for d in (-_MARGIN, 0, _MARGIN)}
    return _MARGIN if len(offsets) > 1 else 0.0


def _transition(start: float, end: float, zone: ZoneInfo) -> float:
    """The first instant in ``(start, end]`` with ``end``'s UTC offset (a DST change)."""
    target = datetime.fromtimestamp(end, zone).utcoffset()
    low, high = start, end
    while high - low > 0.5:
        middle = (low + high) / 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == target:
            high = middle
        else:
            low = middle
    return float(round(high))


def _instants(wall: datetime, zone: ZoneInfo, every_hour: bool) -> list[float]:
    """The instants a local wall time of the cron stands for (0, 1 or 2 of them)."""
    first = wall.replace(tzinfo=zone, fold=0)
    second = wall.replace(tzinfo=zone, fold=1)
    early, late = first.timestamp(), second.timestamp()
    if early == late:
        return [early]
    if early < late:  # the wall time happens twice (clocks went back)
        return [early, late] if every_hour else [late]
    # It never happens (clocks jumped over it): fold=1 reads it with the new offset.
    return [] if every_hour else [_transition(late, early, zone)]


def cron_ticks(cron: str, timezone: str, *, after: float, until: float, limit: int) -> list[float]:
    """The newest ``limit`` times in ``(after, until]`` the cron fires, oldest first.

    Example:
        >>> cron_ticks("*/2 * * * * *", "UTC", after=0.0, until=7.0, limit=10)
        [2.0, 4.0, 6.0]
    """
    if limit <= 0 or until <= after:
        return []
    zone = _zone(timezone)
    expr, every_hour = _parsed(cron)
    start = _wall(until + _margin(until, zone), zone) + _EPSILON
    it = croniter(expr, start, second_at_beginning=True)
    found: set[float] = set()
    for _ in range(_MAX_STEPS):
        wall = it.get_prev(datetime)
        found.update(m for m in _instants(wall, zone, every_hour) if after < m <= until)
        lowest = wall.replace(tzinfo=zone, fold=0).timestamp()
        reach = lowest + _margin(lowest, zone)
        if reach <= after or (len(found) >= limit and reach < sorted(found)[-limit]):
            break
    return sorted(found)[-limit:]


def next_cron_tick(cron: str, timezone: str, *, after: float) -> float | None:
    """The first time strictly after ``after`` the cron fires (``None``: it never does again)."""
    zone = _zone(timezone)
    expr, every_hour = _parsed(cron)
    it = croniter(expr, _wall(after - _margin(after, zone), zone), second_at_beginning=True)
    best: float | None = None
    for _ in range(_MAX_STEPS):
        try:
            wall = it.get_next(datetime)
        except Exception:  # croniter gives up on expressions that never match again
            return best
        moments = [m for m in _instants(wall, zone, every_hour) if m > after]
        if moments and (best is None or min(moments) < best):
            best = min(moments)
        if best is not None:
            reached = wall.replace(tzinfo=zone, fold=1).timestamp()
            if reached >= best + _margin(reached, zone):
                return best
    return best
