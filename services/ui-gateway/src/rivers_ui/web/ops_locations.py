"""``/locations``: every code location's status, heartbeat, endpoint, snapshot, and Reload.

JSON endpoint: ``POST /api/locations/{name}/reload`` → 202 ``{"location", "identity",
"requested_at", "server_id"}``.

No RPC asks a code server to reload (it reloads on file edits under ``--reload``), so a
reload request is stored: the key ``location-reload/<identity>`` of the store's key-value
table holds ``{"requested_at", "server_id"}`` (the incarnation serving when it was asked).
A code server honours it by polling that key, reloading when ``requested_at`` is newer than
the last request it handled, and then deleting the key; the page shows the request as
pending until the location's ``server_id`` changes (a reload makes a new incarnation).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from rivers._service.reload import reload_key
from rivers.telemetry import get_logger
from rivers_ui.state import STATE
from rivers_ui.web.render import dump, render

if TYPE_CHECKING:
    from rivers.storage import Storage
    from rivers_ui.catalog import Catalog

__all__ = ["RELOAD_KEY", "locations_context", "request_reload", "routes"]

log = get_logger("rivers.ui")

#: The key-value key (``.format(identity=...)``) a reload request is stored under; the code
#: server watches it (``rivers._service.reload``).
RELOAD_KEY = reload_key("{identity}")


def request_reload(storage: Storage, catalog: Catalog, name: str) -> dict[str, Any]:
    """Store a request that the location's code server reload its code.

    Raises:
        NotFound: no location has that name.
    """
    loc = catalog.location(name)
    request = {"requested_at": time.time(), "server_id": loc.server_id}
    storage.kv_set(RELOAD_KEY.format(identity=loc.identity), request)
    log.info("ui.reload_requested", location=loc.name, server_id=loc.server_id)
    return {"location": loc.name, "identity": loc.identity, **request}


def locations_context(storage: Storage, catalog: Catalog) -> dict[str, Any]:
    """Every location with its liveness, snapshot contents and any pending reload request."""
    now = time.time()
    requests = storage.kv_list(RELOAD_KEY.format(identity=""))
    out = []
    for loc in storage.list_locations():
        info = catalog.info(loc, now)
        snapshot = catalog.snapshot(loc.snapshot_id) if loc.snapshot_id else None
        reload = requests.get(RELOAD_KEY.format(identity=loc.identity))
        pending = isinstance(reload, dict) and reload.get("server_id") == loc.server_id
        requested_at = reload.get("requested_at") if isinstance(reload, dict) else None
        out.append(
            {
                **dump(info),
                "server_id": loc.server_id,
                "created_at": loc.created_at,
                "assets": None if snapshot is None else len(snapshot.assets),
                "schedules": None if snapshot is None else len(snapshot.schedules),
                "sensors": None if snapshot is None else len(snapshot.sensors),
                "reload_requested_at": requested_at if pending else None,
            }
        )
    return {"locations": out, "timeout": catalog.location_timeout}


async def _page(request: web.Request) -> web.Response:
    state = request.app[STATE]
    context = await asyncio.to_thread(locations_context, state.storage, state.catalog)
    return render(request, "locations.html", context)


async def _reload(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await asyncio.to_thread(
        request_reload, state.storage, state.catalog, request.match_info["name"]
    )
    return web.json_response(body, status=202)


def routes(app: web.Application) -> None:
    """Register the locations page and the reload endpoint."""
    app.router.add_get("/locations", _page)
    app.router.add_post("/api/locations/{name}/reload", _reload)
