"""Service settings: flags or ``RIVERS_*`` environment variables (pydantic-settings)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ServiceSettings", "StorageSettings"]


class StorageSettings(BaseSettings):
    """Where a service finds the shared store (``RIVERS_STORAGE_URL`` etc.)."""

    model_config = SettingsConfigDict(env_prefix="RIVERS_", extra="ignore")

    storage_url: str = Field(
        default="ws://127.0.0.1:8000",
        description="ws:// URL of the store (a SurrealDB server or `rivers storage serve`)",
    )
    storage_user: str = "root"
    storage_password: str = "root"  # noqa: S105 - the local default, as SurrealDB's own docs use
    storage_namespace: str = "rivers"
    storage_database: str = "rivers"

    def open(self) -> object:
        """Connect to the store."""
        from rivers.storage import Storage

        return Storage.connect(
            self.storage_url,
            username=self.storage_user,
            password=self.storage_password,
            namespace=self.storage_namespace,
            database=self.storage_database,
        )


class ServiceSettings(StorageSettings):
    """Settings every service has: where it listens, how it logs, how it shuts down."""

    host: str = Field(default="127.0.0.1", description="interface to bind")
    grpc_port: int = Field(default=0, description="gRPC port (0: any free port)")
    http_port: int | None = Field(
        default=None, description="HTTP port for /metrics, /healthz and /readyz (None: none)"
    )
    log_format: Literal["pretty", "json"] = "json"
    log_level: str = "INFO"
    shutdown_grace: float = Field(
        default=10.0, description="seconds in-flight work gets to finish on SIGTERM"
    )
