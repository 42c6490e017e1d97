"""Logging and tracing set-up shared by the SDK, the CLI and the services."""

from rivers.telemetry.logs import bind_ids, configure_logging, get_logger, is_internal_logger

__all__ = ["bind_ids", "configure_logging", "get_logger", "is_internal_logger"]
