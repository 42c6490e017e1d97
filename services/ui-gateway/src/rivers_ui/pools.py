"""Concurrency pools: limits, usage and slot holders."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rivers.client.models import PoolDetails
from rivers.errors import StorageError
from rivers.storage.records import PoolInfo
from rivers_ui.errors import InvalidArgument

if TYPE_CHECKING:
    from rivers.storage import Storage

__all__ = ["get_pool", "list_pools", "set_pool_limit"]


def list_pools(storage: Storage) -> list[PoolInfo]:
    """Every pool with a limit, a holder or a waiter, by name."""
    return storage.get_all_pool_infos()


def _name(name: str) -> str:
    if not name or not name.strip():
        raise InvalidArgument("a pool name is required")
    return name


def get_pool(storage: Storage, name: str) -> PoolDetails:
    """One pool and its slot holders (an unknown pool is unlimited and idle).

    Raises:
        InvalidArgument: no name.
    """
    name = _name(name)
    return PoolDetails(
        info=storage.get_pool_info(name), holders=tuple(storage.get_pool_slot_holders(name))
    )


def set_pool_limit(storage: Storage, name: str, limit: int | None) -> PoolInfo:
    """Set the operator limit of a pool (0 pauses it), or clear it with ``None``.

    Raises:
        InvalidArgument: no name, or a negative limit.
    """
    name = _name(name)
    if limit is not None and limit < 0:
        raise InvalidArgument(f"pool {name!r}: invalid limit {limit} (an integer >= 0)")
    try:
        if limit is None:
            storage.clear_pool_limit(name)
        else:
            storage.set_pool_limit(name, limit)
    except StorageError as exc:
        if "invalid" in str(exc):
            raise InvalidArgument(str(exc)) from None
        raise
    return storage.get_pool_info(name)
