"""Service settings: flags or ``RIVERS_*`` environment variables (pydantic-settings)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeVar

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from rivers.errors import RiversError

__all__ = ["ServiceSettings", "StorageSettings", "load_service_settings", "settings_problems"]

_Settings = TypeVar("_Settings", bound=BaseSettings)


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


def settings_problems(exc: ValidationError, *, whole: str = "settings") -> str:
    """One line naming each bad setting: ``grpc_port: Input should be ...; ...``.

    ``whole`` names an error of the settings as a whole (a model validator's); empty: the
    message alone.
    """
    problems = []
    for error in exc.errors():
        where = ".".join(map(str, error["loc"])) or whole
        problems.append(f"{where}: {error['msg']}" if where else error["msg"])
    return "; ".join(problems)


def load_service_settings(
    cls: type[_Settings], service: str, values: Mapping[str, Any], *, whole: str = "settings"
) -> _Settings:
    """``cls`` from ``values`` over the environment (``None`` values are left to it).

    Raises:
        RiversError: a value is invalid: ``invalid <service> settings: ...``, one line naming
            each bad setting (see :func:`settings_problems`).
    """
    given = {name: value for name, value in values.items() if value is not None}
    try:
        return cls(**given)
    except ValidationError as exc:
        problems = settings_problems(exc, whole=whole)
        raise RiversError(f"invalid {service} settings: {problems}") from None
