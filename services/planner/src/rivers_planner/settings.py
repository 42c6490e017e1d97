"""Settings of ``rivers planner``: flags or ``RIVERS_*`` environment variables."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from rivers._service.settings import ServiceSettings, load_service_settings

__all__ = ["DEFAULT_GRPC_PORT", "PlannerSettings", "load_settings"]

DEFAULT_GRPC_PORT = 7001


class PlannerSettings(ServiceSettings):
    """Where the planner listens, which store it reads snapshots from, how much it caches.

    Every field also reads ``RIVERS_<NAME>`` (``RIVERS_STORAGE_URL``, ``RIVERS_GRPC_PORT``,
    ``RIVERS_HTTP_PORT``, ``RIVERS_PLAN_CACHE_SIZE``, ...).
    """

    model_config = SettingsConfigDict(env_prefix="RIVERS_", extra="ignore")

    grpc_port: int = Field(
        default=DEFAULT_GRPC_PORT, ge=0, le=65535, description="gRPC port (0: any free port)"
    )
    http_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="HTTP port for /metrics, /healthz and /readyz (None: no HTTP server)",
    )
    shutdown_grace: float = Field(
        default=10.0, ge=0, description="seconds in-flight calls get to finish on SIGTERM"
    )
    plan_cache_size: int = Field(
        default=1024, ge=0, description="plans kept, by (snapshot id, selection); 0 disables"
    )
    snapshot_cache_size: int = Field(
        default=16, ge=0, description="decoded definitions snapshots kept, by id; 0 disables"
    )


def load_settings(**values: Any) -> PlannerSettings:
    """Settings from ``values`` over the environment (``None`` values are left to it).

    Raises:
        RiversError: a value is invalid; one line naming each bad setting.
    """
    return load_service_settings(PlannerSettings, "planner", values)
