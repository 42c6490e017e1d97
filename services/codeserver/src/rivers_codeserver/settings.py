"""Settings of ``rivers serve``: flags or ``RIVERS_*`` environment variables."""

from __future__ import annotations

import socket
import uuid

from pydantic import Field, field_validator

from rivers._service.settings import ServiceSettings

__all__ = ["CodeServerSettings"]

_ANY_INTERFACE = {"", "0.0.0.0", "::", "[::]"}  # noqa: S104 - names of "every interface"


class CodeServerSettings(ServiceSettings):
    """One code location's server: which module, how it registers, runs and evaluates.

    Every field also reads ``RIVERS_<FIELD>`` (``RIVERS_MODULE``, ``RIVERS_LOCATION_IDENTITY``,
    ``RIVERS_EVALUATION_TIMEOUT``, ``RIVERS_NO_DAEMON``, ...); command-line flags win over the
    environment.
    """

    module: str = Field(description="the code location's module: pkg.mod or pkg.mod:attribute")
    location_name: str | None = Field(
        default=None, description="the location's name (default: the repository's name)"
    )
    location_identity: str | None = Field(
        default=None, description="the location's immutable identity (a UUID a deployment stamps)"
    )
    grpc_port: int = Field(default=7002, ge=0, le=65535, description="gRPC port (0: any)")
    heartbeat_interval: float = Field(
        default=5.0, gt=0, description="seconds between location heartbeats in storage"
    )
    run_worker_grace: float = Field(
        default=10.0, ge=0, description="seconds a canceled run worker gets before SIGTERM"
    )
    advertise_host: str | None = Field(
        default=None, description="host recorded in the location's endpoint (default: host)"
    )
    reload: bool = Field(default=False, description="reload the module when its files change")
    warm_workers: int = Field(
        default=1,
        ge=0,
        le=8,
        description="run workers started ahead of time with the code loaded (0: none)",
    )

    evaluation_workers: int = Field(
        default=2,
        ge=1,
        le=32,
        description="processes evaluating sync sensors and schedules, one tick at a time each",
    )
    evaluation_timeout: float = Field(
        default=60.0,
        gt=0,
        description="seconds a sensor or schedule evaluation may take before it is stopped",
    )
    no_daemon: bool = Field(
        default=False,
        description="`rivers serve` does not start the location's daemon in-process",
    )

    @field_validator("module")
    @classmethod
    def _check_module(cls, value: str) -> str:
        module, _, attribute = value.partition(":")
        if not module or not all(part.isidentifier() for part in module.split(".")):
            raise ValueError(f"{value!r} is not a module path like pkg.mod or pkg.mod:attr")
        if ":" in value and not attribute.isidentifier():
            raise ValueError(f"{value!r}: the attribute after ':' must be a Python name")
        return value

    @field_validator("location_identity")
    @classmethod
    def _check_identity(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise ValueError(f"{value!r} is not a UUID") from None

    @property
    def module_name(self) -> str:
        """The module part of :attr:`module`."""
        return self.module.partition(":")[0]

    @property
    def attribute(self) -> str | None:
        """The repository attribute after ``:``, if given."""
        return self.module.partition(":")[2] or None

    def endpoint(self, port: int) -> str:
        """The ``host:port`` other services dial for this location."""
        host = self.advertise_host or self.host
        if host in _ANY_INTERFACE:
            host = socket.gethostname()
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"{host}:{port}"

    def local_target(self, port: int) -> str:
        """The address this process dials to reach its own gRPC server."""
        host = "127.0.0.1" if self.host in _ANY_INTERFACE else self.host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"{host}:{port}"
