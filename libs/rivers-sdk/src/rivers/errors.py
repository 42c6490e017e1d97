"""Errors raised by rivers.

Every error a user can see derives from :class:`RiversError`. Errors caused by user code keep
the user's own exception type, message and traceback (:class:`UserCodeError`), so nothing of the
original failure is lost on its way through the executor, the event log or a gRPC reply.
"""

from __future__ import annotations

__all__ = [
    "DefinitionError",
    "RiversError",
    "RunConfigError",
    "SelectionError",
    "StorageError",
    "UserCodeError",
]


class RiversError(Exception):
    """Base class of every error rivers raises on purpose."""


class DefinitionError(RiversError):
    """Asset, job or repository definitions are invalid (raised at definition time)."""


class SelectionError(RiversError):
    """A selection string names no asset, group or job that exists."""


class RunConfigError(RiversError):
    """Run config does not validate against an asset's config type; nothing was run."""


class StorageError(RiversError):
    """The store could not be opened, or a statement failed after its retries."""


class UserCodeError(RiversError):
    """User code raised; carries the original exception type, message and traceback text."""

    def __init__(self, message: str, *, error_type: str, user_traceback: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.user_traceback = user_traceback
