"""``/automation`` and ``/automation/{location}/{name}``: schedules, sensors, their ticks.

JSON endpoints (the same function as the gRPC ``SetInstigatorStatus``):

- ``POST /api/instigators/{location}/{name}/start`` → the instigator (``InstigatorInfo``);
- ``POST /api/instigators/{location}/{name}/stop`` → the instigator.

The listing and the ticks themselves are ``GET /api/instigators`` and ``GET /api/ticks``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from rivers.client.models import InstigatorInfo
from rivers.definitions.snapshot import ScheduleSnap, SensorSnap
from rivers.storage.records import TickRecord
from rivers_ui import instigators
from rivers_ui.errors import NotFound
from rivers_ui.state import STATE
from rivers_ui.web.render import dump, query_int, render

if TYPE_CHECKING:
    from rivers.storage import Storage
    from rivers_ui.catalog import Catalog

__all__ = ["automation_context", "instigator_context", "routes"]

#: Ticks the automation page shows, and one instigator's page.
PAGE_TICKS = 30
INSTIGATOR_TICKS = 100


@dataclass(frozen=True, slots=True)
class Row:
    """An instigator as the page shows it: its state, what it targets, where it is defined."""

    location: str
    info: InstigatorInfo
    target: str
    description: str | None


def _rows(storage: Storage, catalog: Catalog, location: str | None) -> list[Row]:
    infos = instigators.list_instigators(storage, catalog, location)
    names = catalog.location_names()
    targets: dict[tuple[str, str], tuple[str, str | None]] = {}
    for loc in storage.list_locations():
        snapshot = catalog.snapshot(loc.snapshot_id) if loc.snapshot_id else None
        if snapshot is None:
            continue
        items: list[ScheduleSnap | SensorSnap] = [*snapshot.schedules, *snapshot.sensors]
        for item in items:
            target = item.job_name or ", ".join(item.selection) or "all assets"
            targets[(loc.identity, item.name)] = (target, item.description)
    rows = []
    for info in infos:
        target, description = targets.get(
            (info.location_id, info.name), ("assets with automation conditions", None)
        )
        rows.append(Row(names.get(info.location_id, "?"), info, target, description))
    return rows


def _tick_views(ticks: list[TickRecord], names: dict[str, str]) -> list[dict[str, Any]]:
    return [{"tick": t, "location": names.get(t.location_id, "?")} for t in ticks]


def automation_context(storage: Storage, catalog: Catalog) -> dict[str, Any]:
    """Every location's instigators (grouped by location) and the newest ticks."""
    rows = _rows(storage, catalog, None)
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(row.location, []).append(row)
    ticks = instigators.list_ticks(storage, catalog, limit=PAGE_TICKS)
    return {
        "groups": groups,
        "running": sum(1 for r in rows if r.info.running),
        "total": len(rows),
        "ticks": _tick_views(ticks, catalog.location_names()),
    }


def instigator_context(
    storage: Storage, catalog: Catalog, location: str, name: str, limit: int
) -> dict[str, Any]:
    """One instigator and its newest ticks.

    Raises:
        NotFound: no such location, or it defines no instigator of that name.
    """
    rows = [r for r in _rows(storage, catalog, location) if r.info.name == name]
    if not rows:
        raise NotFound(f"code location {location!r} has no schedule or sensor named {name!r}")
    ticks = instigators.list_ticks(
        storage, catalog, location=location, instigator=name, limit=limit
    )
    return {"row": rows[0], "ticks": _tick_views(ticks, catalog.location_names())}


# --- pages -------------------------------------------------------------------------------------


async def _page(request: web.Request) -> web.Response:
    state = request.app[STATE]
    context = await asyncio.to_thread(automation_context, state.storage, state.catalog)
    return render(request, "automation.html", context)


async def _instigator_page(request: web.Request) -> web.Response:
    state = request.app[STATE]
    location, name = request.match_info["location"], request.match_info["name"]
    try:
        context = await asyncio.to_thread(
            instigator_context,
            state.storage,
            state.catalog,
            location,
            name,
            query_int(request, "limit", INSTIGATOR_TICKS, minimum=1),
        )
    except NotFound as exc:
        return render(
            request, "instigator.html", {"row": None, "ticks": [], "error": str(exc)}, status=404
        )
    return render(request, "instigator.html", {**context, "error": None})


# --- JSON --------------------------------------------------------------------------------------


async def _set_status(request: web.Request, running: bool) -> web.Response:
    state = request.app[STATE]
    info = await asyncio.to_thread(
        instigators.set_instigator_status,
        state.storage,
        state.catalog,
        location=request.match_info["location"],
        name=request.match_info["name"],
        running=running,
    )
    return web.json_response(dump(info))


async def _start(request: web.Request) -> web.Response:
    return await _set_status(request, True)


async def _stop(request: web.Request) -> web.Response:
    return await _set_status(request, False)


def routes(app: web.Application) -> None:
    """Register the automation pages and the start/stop endpoints."""
    app.router.add_get("/automation", _page)
    app.router.add_get("/automation/{location}/{name}", _instigator_page)
    app.router.add_post("/api/instigators/{location}/{name}/start", _start)
    app.router.add_post("/api/instigators/{location}/{name}/stop", _stop)
