"""The asset page ``/assets/{location}/{key}`` and the JSON endpoints behind it.

- ``GET /assets/{location}/{key}``: the page (live fragments ``header`` and ``history``);
- ``GET /api/assets/{location}/{key}``: definition, status, latest materialization
  (``rivers_ui.assets_view.asset_view``);
- ``GET /api/assets/{location}/{key}/history?limit=&before=``: materializations newest
  first, ``{materializations: [...], next_before}``;
- ``GET /api/assets/{location}/{key}/partitions?offset=&limit=``: partition status, one
  character per key (``assets_view.partition_status``); ``keys=0`` leaves the
  keys out (a live refresh of keys the page already has).

Keys may contain ``/`` (prefixed keys), so the history and partitions routes are registered
before the asset route, whose ``{key:.+}`` would otherwise swallow their suffix.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from rivers_ui import assets_view
from rivers_ui.state import STATE
from rivers_ui.web.render import query_int, render

__all__ = ["routes"]

_KEY = "/{location}/{key:.+}"


def routes(app: web.Application) -> None:
    """Register this module's pages and JSON endpoints on ``app``."""
    app.router.add_get("/api/assets" + _KEY + "/history", _history)
    app.router.add_get("/api/assets" + _KEY + "/partitions", _partitions)
    app.router.add_get("/api/assets" + _KEY, _asset)
    app.router.add_get("/assets" + _KEY, _page)


def _target(request: web.Request) -> tuple[str, str]:
    return request.match_info["location"], request.match_info["key"]


async def _asset(request: web.Request) -> web.Response:
    state = request.app[STATE]
    location, key = _target(request)
    view = await asyncio.to_thread(assets_view.asset_view, state.catalog, location, key)
    return web.json_response(view)


async def _history(request: web.Request) -> web.Response:
    state = request.app[STATE]
    location, key = _target(request)
    body = await asyncio.to_thread(
        assets_view.history,
        state.catalog,
        location,
        key,
        limit=query_int(request, "limit", assets_view.DEFAULT_HISTORY) or 0,
        before=query_int(request, "before", None),
    )
    return web.json_response(body)


async def _partitions(request: web.Request) -> web.Response:
    state = request.app[STATE]
    location, key = _target(request)
    body = await asyncio.to_thread(
        assets_view.partition_status,
        state.catalog,
        location,
        key,
        offset=query_int(request, "offset", 0) or 0,
        limit=query_int(request, "limit", assets_view.DEFAULT_PARTITION_PAGE) or 0,
        with_keys=request.query.get("keys", "1").lower() not in ("0", "false", "no"),
    )
    return web.json_response(body)


def _context(request: web.Request) -> dict[str, Any]:
    state = request.app[STATE]
    location, key = _target(request)
    view = assets_view.asset_view(state.catalog, location, key)
    limit = query_int(request, "limit", assets_view.DEFAULT_HISTORY) or assets_view.DEFAULT_HISTORY
    page = assets_view.history(
        state.catalog,
        location,
        key,
        limit=min(limit, assets_view.MAX_HISTORY),
        before=query_int(request, "before", None),
    )
    return {"asset": view, "history": page, "paged": "before" in request.query}


async def _page(request: web.Request) -> web.Response:
    context = await asyncio.to_thread(_context, request)
    return render(request, "asset.html", context)
