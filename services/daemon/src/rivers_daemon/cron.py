"""Cron ticks of a schedule in its time zone, as POSIX times (croniter underneath).

The cron is read in local wall time. Around DST changes a local time that does not exist
(spring forward) is skipped, and one that exists twice (fall back) ticks once, at its first
occurrence: wall times are mapped with ``fold=0`` and ticks are compared as POSIX times.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

from rivers.partitions.cron import parse_cron

__all__ = ["due_ticks", "next_tick"]

_EPSILON = timedelta(microseconds=1)
# Enough for a year of minutely ticks; a bound so a pathological cron cannot spin forever.
_MAX_STEPS = 600_000


@functools.cache
def _expr(cron: str) -> str:
    """The 6-field (seconds first) form croniter takes; aliases expanded."""
    return parse_cron(cron).expr


@functools.cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _wall(moment: float, zone: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(moment, UTC).astimezone(zone).replace(tzinfo=None)


def _instant(wall: datetime, zone: ZoneInfo) -> float | None:
    """The POSIX time of a local wall time (first occurrence), or ``None`` if it never was."""
    aware = wall.replace(tzinfo=zone, fold=0)
    if aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall:
        return None  # in a spring-forward gap
    return aware.timestamp()


def due_ticks(cron: str, timezone: str, *, after: float, until: float, limit: int) -> list[float]:
    """The newest ``limit`` ticks in ``(after, until]``, oldest first.

    Example:
        >>> due_ticks("*/2 * * * * *", "UTC", after=0.0, until=7.0, limit=10)
        [2.0, 4.0, 6.0]
    """
    if limit <= 0 or until <= after:
        return []
    zone = _zone(timezone)
    it = croniter(_expr(cron), _wall(until, zone) + _EPSILON, second_at_beginning=True)
    found: list[float] = []
    for _ in range(_MAX_STEPS):
        moment = _instant(it.get_prev(datetime), zone)
        if moment is None:
            continue
        if moment <= after:
            break
        if moment <= until:
            found.append(moment)
            if len(found) >= limit:
                break
    found.reverse()
    return found


def next_tick(cron: str, timezone: str, *, after: float) -> float | None:
    """The first tick after ``after`` (``None`` if the cron never ticks again)."""
    zone = _zone(timezone)
    it = croniter(_expr(cron), _wall(after, zone), second_at_beginning=True)
    for _ in range(_MAX_STEPS):
        try:
            wall = it.get_next(datetime)
        except Exception:  # croniter gives up on expressions that never match again
            return None
        moment = _instant(wall, zone)
        if moment is not None and moment > after:
            return moment
    return None
