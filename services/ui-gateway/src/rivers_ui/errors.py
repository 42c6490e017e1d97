"""Errors the gateway's functions raise; ``api.py`` and ``http.py`` map them to status codes."""

from __future__ import annotations

from rivers.errors import RiversError

__all__ = ["FailedPrecondition", "GatewayError", "InvalidArgument", "NotFound", "Unavailable"]


class GatewayError(RiversError):
    """An error the caller should see with its message (never a traceback)."""


class NotFound(GatewayError):
    """The run, backfill, asset or code location does not exist."""


class InvalidArgument(GatewayError):
    """The request does not fit: bad selection, partitions, config, page token, pool limit."""


class FailedPrecondition(GatewayError):
    """The request is fine but the system is not ready for it (a location without snapshot)."""


class Unavailable(GatewayError):
    """A service behind the gateway (planner, storage) cannot be reached; retry later."""
