"""The web UI: server-rendered pages (Jinja2), live over ``/api/events``, a little JavaScript.

Each page module registers its page routes and the JSON endpoints only it needs:

- ``graph_page``: ``/`` the asset graph of every code location;
- ``asset_page``: ``/assets/{location}/{key}`` one asset (definition, history, partitions);
- ``runs_page``: ``/runs`` and ``/runs/{run_id}`` (timeline, live log, cancel, re-execute);
- ``ops_pages``: ``/backfills``, ``/automation``, ``/pools``, ``/locations``.

``render`` holds the templates' environment and the live-fragment protocol; ``static/``
holds ``app.css`` and ``live.js`` (the SSE stream, the Live indicator, live regions).
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from rivers_ui.web import asset_page, graph_page, ops_pages, runs_page

__all__ = ["STATIC", "add_routes"]

#: The stylesheet and scripts, served under ``/static/``.
STATIC = Path(__file__).parent / "static"


def add_routes(app: web.Application) -> None:
    """Register the static files and every page's routes on ``app``."""
    app.router.add_static("/static", STATIC, append_version=False)
    for module in (graph_page, asset_page, runs_page, ops_pages):
        module.routes(app)
