"""The operations pages: backfills, automation, pools and code locations.

Each lives in its own module (``ops_backfills``, ``ops_automation``, ``ops_pools``,
``ops_locations``) with the JSON endpoints only it needs; ``static/ops.css`` and
``static/ops.js`` (toggle switches, the pool form, ticking "12 s ago") serve all four.
"""

from __future__ import annotations

from aiohttp import web

from rivers_ui.web import ops_automation, ops_backfills, ops_locations, ops_pools

__all__ = ["routes"]


def routes(app: web.Application) -> None:
    """Register this module's pages and JSON endpoints on ``app``."""
    for module in (ops_backfills, ops_automation, ops_pools, ops_locations):
        module.routes(app)
