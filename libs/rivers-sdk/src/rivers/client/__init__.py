"""The typed client of the rivers public API: ``from rivers.client import RiversClient``.

Not imported by ``import rivers`` (it loads grpc); import it where you use it.
"""

from rivers.client.client import RiversClient
from rivers.client.errors import ClientError, InvalidRequestError, NotFoundError, UnavailableError
from rivers.client.models import (
    AssetDetails,
    AssetSummary,
    CodeLocationInfo,
    InstigatorInfo,
    PoolDetails,
)

__all__ = [
    "AssetDetails",
    "AssetSummary",
    "ClientError",
    "CodeLocationInfo",
    "InstigatorInfo",
    "InvalidRequestError",
    "NotFoundError",
    "PoolDetails",
    "RiversClient",
    "UnavailableError",
]
