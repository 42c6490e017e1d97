"""Being written."""

from __future__ import annotations

from aiohttp import web

__all__ = ["routes"]


def routes(app: web.Application) -> None:
    """Register this module's pages and JSON endpoints on ``app``."""
