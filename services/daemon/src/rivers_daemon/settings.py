"""Settings of ``rivers daemon``: flags or ``RIVERS_*`` environment variables."""

from __future__ import annotations

import os
import uuid
from typing import Any

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from rivers._service.settings import ServiceSettings, load_service_settings

__all__ = ["DaemonSettings", "load_settings"]

#: Environment variables of the daemon's own ports (not RIVERS_GRPC_PORT: see DaemonSettings).
_PORT_ENV = {"grpc_port": "RIVERS_DAEMON_GRPC_PORT", "http_port": "RIVERS_DAEMON_HTTP_PORT"}


class _DaemonEnv(PydanticBaseSettingsSource):
    """The ``RIVERS_*`` environment, with the ports read from ``RIVERS_DAEMON_*`` instead."""

    def __init__(self, settings_cls: type[BaseSettings], inner: PydanticBaseSettingsSource):
        super().__init__(settings_cls)
        self.inner = inner

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        """Unused: :meth:`__call__` reads every field through the wrapped source."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        values = {k: v for k, v in self.inner().items() if k not in _PORT_ENV}
        for name, variable in _PORT_ENV.items():
            raw = os.environ.get(variable)
            if raw:
                values[name] = raw
        return values


class DaemonSettings(ServiceSettings):
    """One code location's daemon: which location, where its code server is, how often to tick.

    Every field also reads ``RIVERS_<FIELD>`` (``RIVERS_LOCATION``, ``RIVERS_LOCATION_IDENTITY``,
    ``RIVERS_CODESERVER_ADDRESS``, ``RIVERS_TICK_INTERVAL``, ...). The ports read
    ``RIVERS_DAEMON_GRPC_PORT`` / ``RIVERS_DAEMON_HTTP_PORT``: ``rivers serve`` hosts the daemon
    in the code server's process, whose ``RIVERS_GRPC_PORT`` the daemon must not try to bind.
    """

    model_config = SettingsConfigDict(env_prefix="RIVERS_", extra="ignore")

    location: str | None = Field(
        default=None, description="the code location's name (required unless an identity is)"
    )
    location_identity: str | None = Field(
        default=None, description="the location's immutable identity (a UUID a deployment stamps)"
    )
    codeserver_address: str | None = Field(
        default=None,
        description="host:port of the location's code server (default: the endpoint its code "
        "server records in storage)",
    )
    grpc_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="gRPC port of health checks and reflection (0: any free port)",
    )
    http_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="HTTP port for /metrics, /healthz and /readyz (None: no HTTP server)",
    )
    tick_interval: float = Field(
        default=1.0, gt=0, description="seconds between schedule checks, at most"
    )
    queue_poll_interval: float = Field(
        default=0.2, gt=0, description="seconds between run-queue polls"
    )
    queue_batch_size: int = Field(
        default=16, ge=1, description="queued runs claimed (and launched) per poll, at most"
    )
    evaluation_timeout: float = Field(
        default=60.0, gt=0, description="seconds a sensor or schedule evaluation may take"
    )
    tick_retention_days: float = Field(
        default=7.0, gt=0, description="days ticks are kept before the monitor purges them"
    )
    retention_days: float | None = Field(
        default=None,
        gt=0,
        description="prune the location's finished runs (their events and captured logs) and "
        "ticks older than this many days, as `rivers storage prune` does (None: never)",
    )
    retention_keep_last: int = Field(
        default=0, ge=0, description="runs the retention prune always keeps, newest first"
    )
    retention_interval: float = Field(
        default=3600.0, gt=0, description="seconds between retention prunes"
    )
    retention_batch_size: int = Field(
        default=1000, ge=1, description="rows the retention prune deletes per transaction"
    )
    stale_run_timeout: float = Field(
        default=30.0, gt=0, description="seconds without a run heartbeat before it is failed"
    )
    monitor_interval: float = Field(
        default=5.0, gt=0, description="seconds between monitor sweeps (stale runs, leases)"
    )
    metrics_finished_runs_interval: float = Field(
        default=60.0,
        gt=0,
        description="seconds between counts of the location's finished runs for the "
        "rivers_daemon_runs gauge (they grow with history; unfinished ones count every sweep)",
    )
    backfill_interval: float = Field(
        default=1.0, gt=0, description="seconds between backfill daemon iterations"
    )
    backfill_chunk_size: int = Field(
        default=500, ge=1, description="runs a backfill enqueues per statement"
    )
    backfill_max_queued: int = Field(
        default=1000,
        ge=1,
        description="a backfill's runs waiting in the queue at most (more are enqueued later)",
    )
    automation_interval: float = Field(
        default=30.0, gt=0, description="seconds between automation condition ticks"
    )
    enable_schedules: bool = Field(default=True, description="evaluate schedules")
    enable_sensors: bool = Field(default=True, description="evaluate sensors")
    enable_queue: bool = Field(default=True, description="dequeue and launch queued runs")
    enable_backfills: bool = Field(default=True, description="turn backfills into runs")
    enable_automation: bool = Field(default=True, description="evaluate automation conditions")
    enable_monitor: bool = Field(
        default=True,
        description="fail stale runs, reclaim pool leases, purge old ticks, refresh gauges, "
        "prune old history (with retention_days)",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Flags first, then the environment (ports from ``RIVERS_DAEMON_*``), then files."""
        env = _DaemonEnv(settings_cls, env_settings)
        return init_settings, env, dotenv_settings, file_secret_settings

    def __init__(self, **values: Any) -> None:
        # `rivers serve` and `rivers dev` pass the code server's spelling, `location_name`;
        # as a flag it wins over RIVERS_LOCATION like every other one.
        name = values.pop("location_name", None)
        if values.get("location") is None and name is not None:
            values["location"] = name
        super().__init__(**values)

    @field_validator("location_identity")
    @classmethod
    def _check_identity(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise ValueError(f"{value!r} is not a UUID") from None

    @model_validator(mode="after")
    def _needs_location(self) -> DaemonSettings:
        if not self.location and self.location_identity is None:
            raise ValueError(
                "no code location given: pass --location NAME (or set RIVERS_LOCATION) "
                "or its identity (RIVERS_LOCATION_IDENTITY)"
            )
        return self


def load_settings(**values: Any) -> DaemonSettings:
    """Settings from ``values`` over the environment (``None`` values are left to it).

    Raises:
        RiversError: a value is invalid; one line naming each bad setting.
    """
    return load_service_settings(DaemonSettings, "daemon", values, whole="")
