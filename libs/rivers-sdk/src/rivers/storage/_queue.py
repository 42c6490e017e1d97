"""The run queue: global limits, batch enqueueing with idempotency keys, and limited claims.

Claims are optimistic and serialised on one row, ``run_queue:lock``, whose counter every
successful claim bumps. A claim reads the counter, the in-progress runs of every location
(``STARTING``, ``STARTED``, ``CANCELING``) and its location's queued runs, picks what fits the
limits in Python, then commits ONE transaction that checks the counter is unchanged, bumps it
and moves the picked runs to ``STARTING`` (only those still ``QUEUED``). Two claims that
overlap both write the lock row, so SurrealDB commits one and retries the other, which then
sees a newer counter and starts over from a fresh read: every claim decides on the state the
previous claim left, and no limit is ever exceeded by claims. (Runs that enter an in-progress
status without a claim, such as a run launched directly rather than queued, are counted by
the next claim but are not themselves held back.)
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

from rivers.errors import StorageError
from rivers.storage._base import StorageBase
from rivers.storage._runs import RUN_FIELDS, run_row
from rivers.storage.records import RunQueueConfig, RunRecord
from rivers.telemetry import get_logger

__all__ = ["QueueStore", "pick_runs"]

log = get_logger("rivers.storage")

IN_PROGRESS = ("STARTING", "STARTED", "CANCELING")
_MARK = "rivers-queue:stale"
_CLAIM_ATTEMPTS = 100

_READ = f"""
RETURN run_queue:lock.n ?? 0;
RETURN run_queue:config.data;
SELECT VALUE tags FROM run WHERE status IN {list(IN_PROGRESS)!r};
"""

# Index `run_queue_order` (location_id, status, queue_order, created_at) gives this order
# without sorting the queue: queue_order is -priority, computed by the engine.
_CANDIDATES = """
SELECT run_id, tags, queue_order, created_at FROM run WHERE location_id = $loc
    AND status = 'QUEUED'{where} ORDER BY queue_order, created_at LIMIT $page START $start;
"""

_CLAIM = f"""
BEGIN;
LET $seen = run_queue:lock.n ?? 0;
IF $seen != $version {{ THROW '{_MARK}' }};
UPSERT run_queue:lock SET n = $version + 1 RETURN NONE;
LET $claimed = (UPDATE $ids.map(|$i| type::record('run', $i)) SET status = 'STARTING',
    worker = $worker, heartbeat_at = $now WHERE status = 'QUEUED' RETURN {RUN_FIELDS});
COMMIT;
RETURN $claimed;
"""


def _usage(
    active: Iterable[dict[str, str]], config: RunQueueConfig
) -> tuple[int, Counter[tuple[int, str]]]:
    """How many runs are in progress, and how many count against each tag limit's bucket."""
    running = 0
    in_use: Counter[tuple[int, str]] = Counter()
    for tags in active:
        running += 1
        for i, tag_limit in enumerate(config.tag_concurrency_limits):
            bucket = tag_limit.bucket(tags or {})
            if bucket is not None:
                in_use[(i, bucket)] += 1
    return running, in_use


def pick_runs(
    candidates: Iterable[dict[str, Any]],
    active: Iterable[dict[str, str]],
    config: RunQueueConfig,
    limit: int,
) -> tuple[list[str], bool]:
    """The run ids to claim from ``candidates`` (in claim order) under ``config``.

    ``active`` holds the tags of every in-progress run. A candidate held back by a tag limit
    is skipped and later ones are still considered; the global limit stops the pick.

    Returns:
        The picked run ids, and whether the pick is complete (``limit`` runs, or the global
        limit reached): otherwise more candidates could still be taken.
    """
    limits = config.tag_concurrency_limits
    running, in_use = _usage(active, config)
    picked: list[str] = []
    cap = config.max_concurrent_runs
    for row in candidates:
        if len(picked) >= limit or (cap is not None and running >= cap):
            return picked, True
        tags = row.get("tags") or {}
        hits = [(i, b) for i, lim in enumerate(limits) if (b := lim.bucket(tags)) is not None]
        if any(in_use[hit] >= limits[hit[0]].limit for hit in hits):
            continue
        picked.append(row["run_id"])
        running += 1
        for hit in hits:
            in_use[hit] += 1
    return picked, len(picked) >= limit or (cap is not None and running >= cap)


def _exclusions(
    config: RunQueueConfig, in_use: Counter[tuple[int, str]]
) -> tuple[str, dict[str, Any]]:
    """A WHERE fragment leaving out the queued runs that full tag limits hold back.

    Only an optimisation (``pick_runs`` checks every limit again): the claim need not read
    past a long run of held-back runs to reach one that fits.
    """
    full: list[tuple[int, str | None]] = [
        (i, None) for i, lim in enumerate(config.tag_concurrency_limits) if lim.limit == 0
    ]
    full += [
        (i, b) for (i, b), used in in_use.items() if used >= config.tag_concurrency_limits[i].limit
    ]
    clauses: list[str] = []
    variables: dict[str, Any] = {}
    for n, (i, bucket) in enumerate(full):
        tag_limit = config.tag_concurrency_limits[i]
        variables[f"k{n}"] = tag_limit.key
        value = tag_limit.value if not tag_limit.per_value else bucket
        if value is None:  # every run with the tag is held back
            clauses.append(f" AND tags[$k{n}] = NONE")
        else:
            clauses.append(f" AND tags[$k{n}] != $v{n}")
            variables[f"v{n}"] = value
    return "".join(clauses), variables


class QueueStore(StorageBase):
    """The run queue: its global limits, enqueueing runs and claiming them."""

    # --- configuration ---------------------------------------------------------------------

    def get_run_queue_config(self) -> RunQueueConfig:
        """The global run queue limits (unlimited until set)."""
        (data,) = self._q("RETURN run_queue:config.data;")
        return RunQueueConfig.model_validate(data or {})

    def set_run_queue_config(self, config: RunQueueConfig) -> None:
        """Replace the global run queue limits (every location's queue uses them)."""
        self._q(
            "UPSERT run_queue:config SET data = $data, updated_at = $now RETURN NONE;",
            {"data": config.model_dump(mode="json"), "now": time.time()},
        )

    # --- enqueueing ------------------------------------------------------------------------

    def add_runs(self, runs: Iterable[RunRecord]) -> list[RunRecord]:
        """Store many new runs in one statement; returns those actually added, in order.

        A run whose ``(location_id, run_key)`` exists already (or repeats an earlier run of
        the batch) is skipped, as is a run whose id exists: enqueueing is idempotent, also
        when two processes add the same keys at once.
        """
        batch = list(runs)
        if not batch:
            return []
        (added,) = self._q(
            "INSERT IGNORE INTO run $rows RETURN VALUE run_id;",
            {"rows": [{**run_row(r), "id": r.run_id} for r in batch]},
        )
        kept = set(added)
        out: list[RunRecord] = []
        for run in batch:
            if run.run_id in kept:
                kept.discard(run.run_id)  # a repeated run id counts once
                row = run_row(run)
                out.append(run.model_copy(update={"priority": row.get("priority", 0)}))
        return out

    def get_run_by_key(self, location_id: str, run_key: str) -> RunRecord | None:
        """The run of ``location_id`` with idempotency key ``run_key``, or ``None``."""
        (rows,) = self._q(
            f"SELECT {RUN_FIELDS} FROM run WHERE location_id = $loc AND run_key = $key LIMIT 1;",
            {"loc": location_id, "key": run_key},
        )
        return RunRecord.model_validate(rows[0]) if rows else None

    # --- claiming --------------------------------------------------------------------------

    def claim_queued_runs(
        self,
        location_id: str,
        *,
        limit: int = 1,
        worker: str | None = None,
        config: RunQueueConfig | None = None,
    ) -> list[RunRecord]:
        """Move up to ``limit`` of a location's queued runs to ``STARTING``, within the limits.

        Runs are taken by ``priority`` (highest first), then oldest first. The global
        ``max_concurrent_runs`` and tag concurrency limits (``config``, default: the stored
        :meth:`get_run_queue_config`) count the in-progress runs of **every** location; a run
        a tag limit holds back does not hold back later runs that fit. Safe with several
        claimers at once (see the module docstring).

        Returns:
            The claimed runs, in claim order (empty when nothing fits).
        """
        if limit <= 0:
            return []
        for attempt in range(_CLAIM_ATTEMPTS):
            picked, version = self._pick(location_id, limit, config)
            if not picked:
                return []
            try:
                result = self._q(
                    _CLAIM,
                    {"version": version, "ids": picked, "worker": worker, "now": time.time()},
                )
            except StorageError as exc:
                if _MARK not in str(exc):
                    raise
                # Another claim committed since our read: decide again on fresh state.
                time.sleep(random.uniform(0, min(0.001 * 2**attempt, 0.02)))  # noqa: S311 - jitter
                continue
            rows = {r["run_id"]: RunRecord.model_validate(r) for r in result[-1] or []}
            return [rows[run_id] for run_id in picked if run_id in rows]
        log.warning("storage.claim_contended", location_id=location_id, attempts=_CLAIM_ATTEMPTS)
        return []

    def _pick(
        self, location_id: str, limit: int, config: RunQueueConfig | None
    ) -> tuple[list[str], int]:
        page_size = max(4 * limit, 32)
        paging: dict[str, Any] = {"loc": location_id, "page": page_size, "start": 0}
        # The first page comes with the state, in one round trip; it is read again only when a
        # full tag limit must be filtered out of the queue.
        version, stored, active, page = self._q(_READ + _CANDIDATES.format(where=""), paging)
        if config is None:
            config = RunQueueConfig.model_validate(stored or {})
        running, in_use = _usage(active, config)
        cap = config.max_concurrent_runs
        if cap is not None and running >= cap:
            return [], int(version or 0)
        where, variables = _exclusions(config, in_use)
        sql = _CANDIDATES.format(where=where)
        candidates: list[dict[str, Any]] = []
        while True:
            if where or paging["start"] > 0:
                (page,) = self._q(sql, {**variables, **paging})
            candidates += page
            picked, complete = pick_runs(candidates, active, config, limit)
            if complete or len(page) < page_size:
                return picked, int(version or 0)
            # The runs read fill tag limits among themselves: look further down the queue.
            paging["start"] += page_size
