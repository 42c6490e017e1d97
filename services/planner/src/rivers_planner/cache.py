"""A least-recently-used cache for the event loop, loading each missing key once."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["AsyncLRU"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class AsyncLRU(Generic[K, V]):
    """Keeps the ``maxsize`` most recently used values (``0``: keeps none).

    Used from one event loop only, so it needs no lock. Concurrent requests for a key being
    loaded wait for that one load instead of starting their own (a newly deployed snapshot is
    asked for by many callers at once). A failed load is not cached.
    """

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[K, V] = OrderedDict()
        self._loading: dict[K, asyncio.Task[V]] = {}

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: K) -> bool:
        return key in self._items

    async def get(self, key: K, load: Callable[[], Awaitable[V]]) -> tuple[V, bool]:
        """The value of ``key`` and whether it was cached; ``load()`` computes a missing one."""
        items = self._items
        if key in items:
            items.move_to_end(key)
            return items[key], True
        task = self._loading.get(key)
        if task is None:
            task = asyncio.ensure_future(self._load(key, load))
            task.add_done_callback(_retrieve)
            self._loading[key] = task
        # Shielded: a caller that gives up (a cancelled RPC) does not cancel the others' load.
        return await asyncio.shield(task), False

    async def _load(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        try:
            value = await load()
        finally:
            del self._loading[key]
        if self.maxsize > 0:
            self._items[key] = value
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        """Forget every cached value (loads in progress finish and are kept)."""
        self._items.clear()


def _retrieve(task: asyncio.Task[object]) -> None:
    # Every waiter may have been cancelled; mark the failure seen so asyncio does not log it
    # as never retrieved (the waiters that remain get it raised).
    if not task.cancelled():
        task.exception()
