"""Schedules, sensors and automation conditions: their state, their next tick, their ticks.

What exists comes from the locations' current definitions snapshots (the gateway never imports
user code); whether it runs, its cursor and its latest tick come from storage, written by the
location's daemon and by ``SetInstigatorStatus``. A state without a stored status follows the
definition's ``default_status``; the automation conditions run by default, as in Dagster.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rivers.automation.cron import next_cron_tick
from rivers.client.models import InstigatorInfo
from rivers.storage.records import InstigatorState, InstigatorType, TickRecord, TickStatus
from rivers.telemetry import get_logger
from rivers_ui.errors import InvalidArgument, NotFound

if TYPE_CHECKING:
    from rivers.definitions.snapshot import DefinitionsSnapshot
    from rivers.storage import Storage
    from rivers.storage.records import LocationRecord
    from rivers_ui.catalog import Catalog

__all__ = [
    "AUTOMATION",
    "DEFAULT_TICK_LIMIT",
    "MAX_TICK_LIMIT",
    "list_instigators",
    "list_ticks",
    "next_cron_time",
    "set_instigator_status",
]

log = get_logger("rivers.ui")

#: The name of a location's automation-conditions instigator (one per location).
AUTOMATION = "automation"
DEFAULT_TICK_LIMIT = 100
MAX_TICK_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class _Defined:
    """An instigator as the snapshot defines it."""

    name: str
    type: InstigatorType
    default_running: bool
    cron: str | None = None
    timezone: str = "UTC"
    minimum_interval: float | None = None


def _defined(snapshot: DefinitionsSnapshot) -> list[_Defined]:
    """The snapshot's schedules, sensors and (if any asset has a condition) automation."""
    out = [
        _Defined(
            s.name,
            InstigatorType.SCHEDULE,
            s.default_status == "RUNNING",
            cron=s.cron,
            timezone=s.timezone,
        )
        for s in snapshot.schedules
    ]
    out.extend(
        _Defined(
            s.name,
            InstigatorType.SENSOR,
            s.default_status == "RUNNING",
            minimum_interval=s.minimum_interval,
        )
        for s in snapshot.sensors
    )
    if any(a.automation_condition is not None for a in snapshot.assets):
        out.append(_Defined(AUTOMATION, InstigatorType.AUTOMATION, default_running=True))
    return out


def next_cron_time(cron: str, timezone: str, after: float) -> float | None:
    """The first time strictly after ``after`` that ``cron`` fires, read in ``timezone``.

    The daemon's rule (``rivers.automation.cron``, DST as Dagster does it). ``None`` when the
    expression or the zone cannot be read (logged; the snapshot was validated by the code
    server, so this means a version mismatch).
    """
    try:
        return next_cron_tick(cron, timezone, after=after)
    except Exception as exc:  # croniter and zoneinfo raise several unrelated types
        log.warning("ui.bad_cron", cron=cron, timezone=timezone, error=str(exc))
        return None


def _info(
    location: LocationRecord,
    defined: _Defined,
    state: InstigatorState | None,
    now: float,
) -> InstigatorInfo:
    status = None if state is None else state.status
    running = defined.default_running if status is None else status == "RUNNING"
    last_tick_time = None if state is None else state.last_tick_time
    next_tick: float | None = None
    if running and defined.cron is not None:
        next_tick = next_cron_time(defined.cron, defined.timezone, now)
    elif running and defined.minimum_interval is not None and last_tick_time is not None:
        next_tick = last_tick_time + defined.minimum_interval
    return InstigatorInfo(
        location_id=location.identity,
        name=defined.name,
        type=defined.type,
        running=running,
        cursor=None if state is None else state.cursor,
        last_tick_time=last_tick_time,
        last_tick_status=None if state is None else state.last_tick_status,
        next_tick_time=next_tick,
        cron=defined.cron,
        minimum_interval=defined.minimum_interval,
    )


def list_instigators(
    storage: Storage, catalog: Catalog, location: str | None = None, *, now: float | None = None
) -> list[InstigatorInfo]:
    """Every schedule and sensor (and automation instigator) of one location or of all.

    Listed per location (by name) in snapshot order: schedules, then sensors, then the
    automation conditions. State stored for an instigator no longer defined is not listed.

    Raises:
        NotFound: no location has that name.
    """
    moment = time.time() if now is None else now
    if location:
        chosen = [catalog.location(location)]
        states = storage.get_instigator_states(chosen[0].identity)
    else:
        chosen = [loc for loc in storage.list_locations() if loc.snapshot_id]
        states = storage.get_instigator_states()
    stored = {(s.location_id, s.name): s for s in states}
    out: list[InstigatorInfo] = []
    for loc in chosen:
        if loc.snapshot_id is None:
            continue
        snapshot = catalog.snapshot(loc.snapshot_id)
        if snapshot is None:
            log.warning("ui.snapshot_missing", location=loc.name, snapshot=loc.snapshot_id)
            continue
        out.extend(
            _info(loc, d, stored.get((loc.identity, d.name)), moment) for d in _defined(snapshot)
        )
    return out


def set_instigator_status(
    storage: Storage, catalog: Catalog, *, location: str | None, name: str, running: bool
) -> InstigatorInfo:
    """Switch a schedule, sensor or the automation conditions on or off (stored; wins over code).

    Raises:
        InvalidArgument: no name, or no location named while several are registered.
        NotFound: no such location, or it defines no instigator of that name.
        FailedPrecondition: the location has not published its definitions.
    """
    if not name:
        raise InvalidArgument("an instigator name is required")
    loc = catalog.location(location)
    snapshot = catalog.current_snapshot(loc)
    defined = {d.name: d for d in _defined(snapshot)}
    if name not in defined:
        known = ", ".join(defined) or "none"
        raise NotFound(
            f"code location {loc.name!r} has no schedule or sensor named {name!r} (known: {known})"
        )
    found = defined[name]
    state = storage.set_instigator_status(loc.identity, name, found.type, running)
    return _info(loc, found, state, time.time())


def list_ticks(
    storage: Storage,
    catalog: Catalog,
    *,
    location: str | None = None,
    instigator: str | None = None,
    statuses: Sequence[TickStatus] = (),
    limit: int = 0,
    before: float | None = None,
) -> list[TickRecord]:
    """The newest ticks (by start time), filtered; ``limit`` 0 means 100, at most 1000.

    Raises:
        NotFound: no location has that name.
        InvalidArgument: a negative limit.
    """
    if limit < 0:
        raise InvalidArgument(f"limit must not be negative, got {limit}")
    location_id = catalog.location(location).identity if location else None
    return storage.get_ticks(
        location_id=location_id,
        instigator=instigator or None,
        statuses=list(statuses) or None,
        limit=min(limit or DEFAULT_TICK_LIMIT, MAX_TICK_LIMIT),
        before=before,
    )
