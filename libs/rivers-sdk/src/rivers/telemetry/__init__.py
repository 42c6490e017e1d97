"""Logging and tracing set-up shared by the SDK, the CLI and the services."""

from rivers.telemetry.logs import configure_logging, get_logger

__all__ = ["configure_logging", "get_logger"]
