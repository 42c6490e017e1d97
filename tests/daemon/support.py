"""Daemon test helpers: settings for a test store, switching instigators, reading ticks."""

from __future__ import annotations

from typing import Any

import rivers as rs
from rivers.storage.records import InstigatorType, TickRecord, TickStatus
from rivers_daemon.settings import DaemonSettings
from tests.codeserver.support import PASSWORD, Running, Store

AUTOMATION = "tests.fixtures.code_locations.automation_basic"


def daemon_settings(
    store: Store, location_id: str, codeserver: str | None, **values: Any
) -> DaemonSettings:
    """Fast intervals on the test store; every loop on unless switched off in ``values``."""
    base: dict[str, Any] = {
        "location_identity": location_id,
        "codeserver_address": codeserver,
        "storage_url": store.url,
        "storage_password": PASSWORD,
        "grpc_port": 0,
        "tick_interval": 0.2,
        "queue_poll_interval": 0.05,
        "monitor_interval": 0.2,
        "backfill_interval": 0.2,
        "shutdown_grace": 5.0,
    }
    return DaemonSettings(**{**base, **values})


def address(server: Running) -> str:
    """Where a daemon dials the code server."""
    return f"127.0.0.1:{server.server.grpc_port}"


def location_id(server: Running) -> str:
    """The code server's location identity."""
    return server.server.location.identity


def switch_on(storage: rs.Storage, location: str, name: str, kind: InstigatorType) -> None:
    """Start a schedule or sensor (they are all STOPPED by default in the fixture)."""
    storage.set_instigator_status(location, name, kind, True)


def ticks_of(
    storage: rs.Storage, location: str, name: str, *statuses: TickStatus
) -> list[TickRecord]:
    """The instigator's ticks (of ``statuses``, if given), oldest first."""
    ticks = storage.get_ticks(
        location_id=location, instigator=name, statuses=statuses or None, limit=1000
    )
    return sorted(ticks, key=lambda t: t.timestamp)
