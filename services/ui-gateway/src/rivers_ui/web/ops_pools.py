"""``/pools`` and ``/pools/{name}``: limits (code default vs operator override), holders, waiters.

JSON endpoints (the same functions as the gRPC ``ListPools``, ``GetPool``, ``SetPoolLimit``):

- ``GET /api/pools`` → ``[pool]``;
- ``GET /api/pools/{name}`` → ``{"pool": pool, "holders": [PoolSlotHolder]}``;
- ``POST /api/pools/{name}`` ``{"limit": int | null}`` → ``pool`` (``null`` clears the
  operator limit, ``0`` pauses the pool).

A ``pool`` is the stored ``PoolInfo`` plus ``limit`` (the limit in force, ``null`` when
unlimited) and ``source`` (``manual``, ``code`` or ``default``).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from aiohttp import web

from rivers.storage.records import PoolInfo
from rivers_ui import pools
from rivers_ui.errors import InvalidArgument
from rivers_ui.state import STATE
from rivers_ui.web.render import dump, json_body, render

if TYPE_CHECKING:
    from rivers.storage import Storage
    from rivers_ui.catalog import Catalog

__all__ = ["pool_users", "pool_view", "pools_context", "routes"]


def pool_view(info: PoolInfo) -> dict[str, Any]:
    """The pool's JSON with the limit in force and where it comes from."""
    return {**dump(info), "limit": info.limit, "source": info.source}


def pool_users(catalog: Catalog) -> dict[str, list[str]]:
    """The assets (``location/key``) of every published snapshot using each pool."""
    users: dict[str, list[str]] = {}
    for loc in catalog.storage.list_locations():
        snapshot = catalog.snapshot(loc.snapshot_id) if loc.snapshot_id else None
        for asset in () if snapshot is None else snapshot.assets:
            for pool in asset.pools:
                users.setdefault(pool, []).append(f"{loc.name}/{asset.key}")
    return users


def pools_context(storage: Storage, catalog: Catalog, only: str | None = None) -> dict[str, Any]:
    """Every pool (or one) with its holders and the assets using it, for the page.

    Pools the assets name but storage does not know yet (no run used them, no limit set)
    are listed too, unlimited.
    """
    users = pool_users(catalog)
    if only is None:
        infos = pools.list_pools(storage)
        known = {i.name for i in infos}
        infos += [PoolInfo(name=name) for name in sorted(users) if name not in known]
    else:
        infos = [pools.get_pool(storage, only).info]
    out = []
    for info in infos:
        details = pools.get_pool(storage, info.name)
        out.append(
            {
                "pool": pool_view(details.info),
                "holders": [dump(h) for h in details.holders],
                "users": users.get(info.name, []),
            }
        )
    return {"pools": out, "only": only}


def _limit(body: dict[str, Any]) -> int | None:
    if "limit" not in body:
        raise InvalidArgument('the body needs "limit": an integer >= 0, or null to clear it')
    value = body["limit"]
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"limit must be an integer >= 0 or null, not {value!r}")
    return value


# --- pages -------------------------------------------------------------------------------------


async def _page(request: web.Request) -> web.Response:
    state = request.app[STATE]
    context = await asyncio.to_thread(pools_context, state.storage, state.catalog)
    return render(request, "pools.html", context)


async def _pool_page(request: web.Request) -> web.Response:
    state = request.app[STATE]
    context = await asyncio.to_thread(
        pools_context, state.storage, state.catalog, request.match_info["name"]
    )
    return render(request, "pools.html", context)


# --- JSON --------------------------------------------------------------------------------------


async def _list(request: web.Request) -> web.Response:
    state = request.app[STATE]
    infos = await asyncio.to_thread(pools.list_pools, state.storage)
    return web.json_response([pool_view(i) for i in infos])


async def _get(request: web.Request) -> web.Response:
    state = request.app[STATE]
    details = await asyncio.to_thread(pools.get_pool, state.storage, request.match_info["name"])
    return web.json_response(
        {"pool": pool_view(details.info), "holders": [dump(h) for h in details.holders]}
    )


async def _set(request: web.Request) -> web.Response:
    state = request.app[STATE]
    limit = _limit(await json_body(request))
    info = await asyncio.to_thread(
        pools.set_pool_limit, state.storage, request.match_info["name"], limit
    )
    return web.json_response(pool_view(info))


def routes(app: web.Application) -> None:
    """Register the pool pages and their JSON endpoints."""
    app.router.add_get("/pools", _page)
    app.router.add_get("/pools/{name}", _pool_page)
    app.router.add_get("/api/pools", _list)
    app.router.add_get("/api/pools/{name}", _get)
    app.router.add_post("/api/pools/{name}", _set)
