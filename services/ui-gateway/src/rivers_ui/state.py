"""What the gateway's API functions share: the store, the catalog, the planner, the tail."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from rivers.storage import Storage
    from rivers_ui.catalog import Catalog
    from rivers_ui.planner import PlannerClient
    from rivers_ui.settings import GatewaySettings
    from rivers_ui.tail import EventTail

__all__ = ["STATE", "GatewayState"]


@dataclass(frozen=True, slots=True)
class GatewayState:
    """The gateway's collaborators, built once by ``server.start``."""

    settings: GatewaySettings
    storage: Storage
    catalog: Catalog
    planner: PlannerClient
    tail: EventTail


#: Where the aiohttp application keeps the gateway's state (``request.app[STATE]``).
STATE: web.AppKey[GatewayState] = web.AppKey("state", GatewayState)
