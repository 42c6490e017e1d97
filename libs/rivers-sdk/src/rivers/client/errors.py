"""Errors of the public API client: what went wrong, never a raw ``grpc.RpcError``.

Every error derives from :class:`ClientError` (itself a :class:`rivers.errors.RiversError`), so
``except rivers.RiversError`` catches client failures as well as local ones.
"""

from __future__ import annotations

from rivers.errors import RiversError

__all__ = ["ClientError", "InvalidRequestError", "NotFoundError", "UnavailableError"]


class ClientError(RiversError):
    """A call to the rivers API failed.

    Attributes:
        code: the gRPC status name the gateway answered with (``"INTERNAL"`` ...), if any.
    """

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class NotFoundError(ClientError):
    """The run, backfill, asset, code location or pool does not exist."""


class InvalidRequestError(ClientError):
    """The request was refused as it stands: unknown selection, bad partitions, bad config."""


class UnavailableError(ClientError):
    """The gateway, or a service behind it (planner, storage), could not be reached.

    Raised after the client's bounded retries ran out; the call may succeed later.
    """
