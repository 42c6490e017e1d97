"""Settings of the gateway: flags of ``rivers ui`` or ``RIVERS_*`` environment variables."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from rivers._service.settings import ServiceSettings, load_service_settings

__all__ = ["DEFAULT_GRPC_PORT", "DEFAULT_HTTP_PORT", "GatewaySettings", "load_settings"]

DEFAULT_GRPC_PORT = 7000
DEFAULT_HTTP_PORT = 3000


class GatewaySettings(ServiceSettings):
    """Where the gateway listens, where the planner is, and how it watches runs.

    Each field also reads ``RIVERS_<NAME>`` (``RIVERS_PLANNER_ADDRESS``, ``RIVERS_HTTP_PORT``,
    ``RIVERS_STALE_RUN_TIMEOUT`` ...); flags of ``rivers ui`` win over the environment.
    """

    grpc_port: int = Field(
        default=DEFAULT_GRPC_PORT, ge=0, le=65535, description="public gRPC API port"
    )
    http_port: int | None = Field(
        default=DEFAULT_HTTP_PORT,
        ge=0,
        le=65535,
        description="HTTP port: UI, JSON API, /metrics, probes",
    )
    planner_address: str = Field(
        default="127.0.0.1:7001", description="host:port of the planner service"
    )
    location_timeout: float = Field(
        default=15.0,
        gt=0,
        description="a code location is available while its heartbeat is younger than this",
    )
    stale_run_timeout: float = Field(
        default=30.0,
        gt=0,
        description="a running run whose worker has not heartbeated for this long is failed",
    )
    monitor_interval: float = Field(
        default=2.0, gt=0, description="seconds between two sweeps for stale runs"
    )
    event_poll_interval: float = Field(
        default=0.01, gt=0, description="seconds between two polls of the event table"
    )
    sse_keepalive: float = Field(
        default=15.0, gt=0, description="seconds between keep-alive pings on /api/events"
    )
    pulse_interval: float = Field(
        default=1.0,
        gt=0,
        description="seconds between two checks for changed ticks, backfills, pools, locations",
    )
    planner_timeout: float = Field(
        default=30.0, gt=0, description="deadline of one planner call, in seconds"
    )


def load_settings(**values: Any) -> GatewaySettings:
    """Settings from ``values`` over the environment (``None`` values are left to it).

    Raises:
        RiversError: a value is invalid; one line naming each bad setting.
    """
    return load_service_settings(GatewaySettings, "gateway", values)
