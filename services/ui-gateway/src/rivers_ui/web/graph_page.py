"""The asset graph page (``/``) and the config schemas its launch dialog builds forms from.

- ``GET /``: the page, with the whole graph (``rivers_ui.graph.asset_graph``, every code
  location) embedded as JSON so the first draw needs no second request; ``static/graph.js``
  draws it on a canvas and re-reads ``/api/graph`` when runs start, progress or finish.
- ``GET /api/assets/config-schema?location=NAME&keys=a,b`` →
  ``{"location": NAME, "schemas": {key: JSON schema or null}}``: the pydantic JSON schema of
  each asset's run config (``null``: the asset takes no config).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web
from markupsafe import Markup

from rivers_ui import graph
from rivers_ui.errors import InvalidArgument, NotFound
from rivers_ui.state import STATE, GatewayState
from rivers_ui.web.render import render

__all__ = ["config_schemas", "embed_json", "routes"]

#: Keys one config-schema request may name.
MAX_SCHEMA_KEYS = 500


def routes(app: web.Application) -> None:
    """Register this module's pages and JSON endpoints on ``app``."""
    app.router.add_get("/", _graph_page)
    app.router.add_get("/api/assets/config-schema", _config_schema)


def embed_json(value: Any) -> Markup:
    """``value`` as JSON safe inside ``<script type="application/json">`` (no ``<``/``>``/``&``)."""
    text = json.dumps(value, separators=(",", ":"))
    return Markup(  # noqa: S704 (the three characters HTML could act on are escaped)
        text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    )


async def _graph_page(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await asyncio.to_thread(graph.asset_graph, state.catalog)
    nodes = body["nodes"]
    context = {
        "graph_json": embed_json(body),
        "node_count": len(nodes),
        "groups": sorted({n["group"] for n in nodes}),
        "locations": sorted({n["location"] for n in nodes}),
    }
    return render(request, "graph.html", context)


def config_schemas(state: GatewayState, location: str | None, keys: list[str]) -> dict[str, Any]:
    """The config schema of each key of the location's current snapshot; blocks.

    Raises:
        NotFound: no such location, or it defines no asset with one of the keys.
        InvalidArgument: no location named while several are registered.
        FailedPrecondition: the location has not published a snapshot.
    """
    loc = state.catalog.location(location)
    snapshot = state.catalog.current_snapshot(loc)
    schemas: dict[str, Any] = {}
    for key in keys:
        asset = snapshot.assets_by_key.get(key)
        if asset is None:
            raise NotFound(f"code location {loc.name!r} has no asset {key!r}")
        schemas[key] = asset.config_schema
    return {"location": loc.name, "schemas": schemas}


async def _config_schema(request: web.Request) -> web.Response:
    keys = [k for k in request.query.get("keys", "").split(",") if k]
    if not keys:
        raise InvalidArgument("pass the assets as keys=a,b")
    if len(keys) > MAX_SCHEMA_KEYS:
        raise InvalidArgument(f"at most {MAX_SCHEMA_KEYS} keys per request, got {len(keys)}")
    body = await asyncio.to_thread(
        config_schemas, request.app[STATE], request.query.get("location") or None, keys
    )
    return web.json_response(body)
