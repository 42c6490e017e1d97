"""What the planner computes, over definitions snapshots read from storage (never user code).

Plain functions do the work (:func:`run_target` and :func:`run_partition_keys`, which live in
``rivers.planning.targets`` so the daemon plans the same way, and :func:`partition_keys_page`);
:class:`Planner` serves them to the event loop: it finds snapshots by id through storage,
caches snapshots and plans, and runs blocking or heavy work in threads.

Plans are cached by (snapshot id, selection): both are immutable, so a cached plan never goes
stale. Partition keys are resolved on every call: which keys exist depends on the clock (time
windows) and on storage (dynamic partitions).
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from rivers.errors import RiversError
from rivers.partitions import BackfillStrategy, PartitionError, PartitionsDefinition
from rivers.planning import plan_backfill
from rivers.planning.selection import normalize_selection
from rivers.planning.targets import ALL_PARTITIONS, RunTarget, run_partition_keys, run_target
from rivers_planner.cache import AsyncLRU
from rivers_planner.metrics import PlannerMetrics

if TYPE_CHECKING:
    from rivers.definitions.snapshot import DefinitionsSnapshot
    from rivers.storage import Storage

__all__ = [
    "ALL_PARTITIONS",
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "BackfillSummary",
    "KeysPage",
    "NotFoundError",
    "Planner",
    "RequestError",
    "RunPlan",
    "RunTarget",
    "decode_page_token",
    "encode_page_token",
    "partition_keys_page",
    "run_partition_keys",
    "run_target",
]

DEFAULT_PAGE_SIZE: Final = 100
MAX_PAGE_SIZE: Final = 10_000
_PAGE_PREFIX: Final = "offset:"


class NotFoundError(RiversError):
    """The request names a snapshot or asset that does not exist."""


class RequestError(RiversError):
    """A request field is malformed (a page token, a page size, a missing id)."""


@dataclass(frozen=True, slots=True)
class RunPlan:
    """A planned run: its target and its partition keys (``None``: unpartitioned)."""

    target: RunTarget
    partition_keys: tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class BackfillSummary:
    """A planned backfill: the plan every run executes, how many partitions and runs."""

    target: RunTarget
    requested: int
    run_count: int
    strategy: BackfillStrategy


@dataclass(frozen=True, slots=True)
class KeysPage:
    """One page of an asset's partition keys."""

    keys: tuple[str, ...]
    total: int
    next_offset: int | None


def partition_keys_page(
    pdef: PartitionsDefinition, offset: int, page_size: int, storage: object
) -> KeysPage:
    """Keys ``offset`` to ``offset + page_size`` of ``pdef``, without listing the others."""
    keys = pdef.get_partition_keys(storage)  # lazy: len and slices are index arithmetic
    total = len(keys)
    end = min(offset + page_size, total)
    page = tuple(keys[offset:end]) if offset < end else ()
    return KeysPage(page, total, end if end < total else None)


def encode_page_token(offset: int) -> str:
    """An opaque token for the page starting at ``offset``."""
    return base64.urlsafe_b64encode(f"{_PAGE_PREFIX}{offset}".encode()).decode().rstrip("=")


def decode_page_token(token: str) -> int:
    """The offset of a page token (``""``: the first page).

    Raises:
        RequestError: the token was not made by :func:`encode_page_token`.
    """
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        offset = int(text.removeprefix(_PAGE_PREFIX)) if text.startswith(_PAGE_PREFIX) else -1
    except ValueError:
        offset = -1
    if offset < 0:
        raise RequestError(f"invalid page_token {token!r}: pass the next_page_token of a reply")
    return offset


class Planner:
    """Plans from snapshots stored in ``storage``, caching snapshots and plans.

    Its coroutines run on one event loop; storage calls and heavy planning run in threads.
    """

    def __init__(
        self,
        storage: Storage,
        *,
        plan_cache_size: int = 1024,
        snapshot_cache_size: int = 16,
        metrics: PlannerMetrics | None = None,
    ) -> None:
        self.storage = storage
        self.metrics = metrics or PlannerMetrics()
        self._snapshots: AsyncLRU[str, DefinitionsSnapshot] = AsyncLRU(snapshot_cache_size)
        self._targets: AsyncLRU[tuple[str, tuple[str, ...]], RunTarget] = AsyncLRU(plan_cache_size)

    async def snapshot(self, snapshot_id: str) -> DefinitionsSnapshot:
        """The snapshot with that id.

        Raises:
            NotFoundError: storage has no such snapshot.
            RequestError: no id was given.
        """
        if not snapshot_id:
            raise RequestError("snapshot_id is required")
        snapshot, hit = await self._snapshots.get(snapshot_id, lambda: self._read(snapshot_id))
        self.metrics.snapshot_cache.labels("hit" if hit else "miss").inc()
        return snapshot

    async def _read(self, snapshot_id: str) -> DefinitionsSnapshot:
        snapshot = await asyncio.to_thread(self.storage.get_snapshot, snapshot_id)
        if snapshot is None:
            raise NotFoundError(
                f"no definitions snapshot {snapshot_id!r} in storage (code servers store "
                "theirs when they load their code location)"
            )
        return snapshot

    async def target(self, snapshot_id: str, selection: Sequence[str]) -> RunTarget:
        """The (cached) plan of ``selection`` (empty: every asset) of the snapshot."""
        normalized = normalize_selection(selection or None)

        async def load() -> RunTarget:
            snapshot = await self.snapshot(snapshot_id)
            return await asyncio.to_thread(run_target, snapshot, normalized)

        target, hit = await self._targets.get((snapshot_id, normalized), load)
        self.metrics.plan_cache.labels("hit" if hit else "miss").inc()
        return target

    async def plan_run(
        self, snapshot_id: str, selection: Sequence[str], partitions: Any
    ) -> RunPlan:
        """Plan a run; ``partitions`` as :func:`run_partition_keys` takes them."""
        with self._timed("plan_run"):
            target = await self.target(snapshot_id, selection)
            if not target.partitioned and partitions is None:
                return RunPlan(target, None)
            keys = await asyncio.to_thread(self._run_keys, target, partitions)
            return RunPlan(target, keys)

    def _run_keys(self, target: RunTarget, partitions: Any) -> tuple[str, ...] | None:
        keys = run_partition_keys(target, partitions, self.storage)
        return None if keys is None else tuple(keys)

    async def plan_backfill(
        self,
        snapshot_id: str,
        selection: Sequence[str],
        partitions: Any,
        strategy: BackfillStrategy | None,
    ) -> BackfillSummary:
        """Plan a backfill of ``partitions`` (``None`` or :data:`ALL_PARTITIONS`: all)."""
        with self._timed("plan_backfill"):
            target = await self.target(snapshot_id, selection)
            snapshot = await self.snapshot(snapshot_id)
            plan = await asyncio.to_thread(
                plan_backfill,
                snapshot,
                target.plan.selection,
                None if partitions is ALL_PARTITIONS else partitions,
                strategy,
                storage=self.storage,
            )
            return BackfillSummary(target, plan.requested, len(plan.runs), plan.strategy)

    async def partition_keys(
        self, snapshot_id: str, asset_key: str, page_size: int, page_token: str
    ) -> KeysPage:
        """A page of an asset's partition keys (``page_size`` 0: the default size).

        Raises:
            NotFoundError: no such snapshot, or no such asset in it.
            PartitionError: the asset is not partitioned.
            RequestError: a negative page size or a malformed page token.
        """
        with self._timed("list_partition_keys"):
            if page_size < 0:
                raise RequestError(f"page_size must not be negative, got {page_size}")
            size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
            offset = decode_page_token(page_token)
            snapshot = await self.snapshot(snapshot_id)
            asset = snapshot.assets_by_key.get(asset_key)
            if asset is None:
                raise NotFoundError(f"no asset {asset_key!r} in snapshot {snapshot_id!r}")
            if asset.partitions_def is None:
                raise PartitionError(f"asset {asset_key!r} is not partitioned")
            return await asyncio.to_thread(
                partition_keys_page, asset.partitions_def, offset, size, self.storage
            )

    def _timed(self, operation: str) -> AbstractContextManager[object]:
        # Failed operations are timed too: a slow failure is still a slow answer.
        return self.metrics.planning_seconds.labels(operation).time()
