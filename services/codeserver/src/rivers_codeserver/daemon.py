"""The location's daemon, started in this process by ``rivers serve``.

The daemon is another service (``services/daemon``): it is found through the entry point
``rivers.services: daemon`` and never imported by name, so the code server works (without
schedules, sensors or a run queue) where it is not installed. It gets the code server's store,
location and log settings, and dials this server's own gRPC address.
"""

from __future__ import annotations

import typing
from collections.abc import Awaitable, Callable
from importlib.metadata import entry_points
from typing import Any, Protocol

from rivers.telemetry import get_logger
from rivers_codeserver.settings import CodeServerSettings

__all__ = ["ENTRY_POINT_GROUP", "ENTRY_POINT_NAME", "Daemon", "daemon_settings", "start_daemon"]

log = get_logger("rivers.codeserver.daemon")

ENTRY_POINT_GROUP = "rivers.services"
ENTRY_POINT_NAME = "daemon"

DaemonStart = Callable[[Any], Awaitable["Daemon"]]


class Daemon(Protocol):
    """What the daemon's ``start(settings)`` returns."""

    async def stop(self) -> None:
        """Stop gracefully."""


def find_daemon() -> DaemonStart | None:
    """The daemon's ``start`` function, or ``None`` if no package provides it."""
    for entry in entry_points(group=ENTRY_POINT_GROUP, name=ENTRY_POINT_NAME):
        start: DaemonStart = entry.load()
        return start
    return None


def daemon_settings(
    start: DaemonStart,
    settings: CodeServerSettings,
    *,
    location_name: str,
    location_identity: str,
    codeserver_address: str,
) -> Any:
    """The daemon's settings (its ``start``'s annotated type) from the code server's."""
    settings_type = typing.get_type_hints(start)["settings"]
    values: dict[str, Any] = {
        "storage_url": settings.storage_url,
        "storage_user": settings.storage_user,
        "storage_password": settings.storage_password,
        "storage_namespace": settings.storage_namespace,
        "storage_database": settings.storage_database,
        "host": settings.host,
        "location_name": location_name,
        "location_identity": location_identity,
        "codeserver_address": codeserver_address,
        "evaluation_timeout": settings.evaluation_timeout,
        "log_format": settings.log_format,
        "log_level": settings.log_level,
    }
    return settings_type(**values)


async def start_daemon(
    settings: CodeServerSettings,
    *,
    location_name: str,
    location_identity: str,
    codeserver_address: str,
) -> Daemon | None:
    """Start the daemon through its entry point; ``None`` (and a warning) if not installed."""
    start = find_daemon()
    if start is None:
        log.warning(
            "codeserver.no_daemon",
            location=location_name,
            reason=f"no {ENTRY_POINT_GROUP}:{ENTRY_POINT_NAME} entry point (install "
            "rivers-daemon); schedules, sensors and queued runs are not processed",
        )
        return None
    daemon = await start(
        daemon_settings(
            start,
            settings,
            location_name=location_name,
            location_identity=location_identity,
            codeserver_address=codeserver_address,
        )
    )
    log.info("codeserver.daemon_started", location=location_name, codeserver=codeserver_address)
    return daemon
