"""Concurrency pools: limits, slot claims under leases, and a fair FIFO queue of waiters.

Every pool has one ``pool`` row holding its limits and the slots in use. A claim takes its
slots from all of its pools in ONE transaction: it returns expired holders' slots first, fails
fast when a pool's limit is smaller than the claim, gives way to any live earlier waiter on a
limited pool (strict FIFO per pool), then adds its slots to each pool row and ``THROW``s when
one goes over its limit, which rolls the whole claim back (all or nothing). Two claims on one
pool both write its row, so SurrealDB lets only one commit and retries the other: there is no
write skew. A successful claim writes one ``pool_holder`` row per (claim, pool) with a lease
its owner renews; whoever next touches the pool (or :meth:`PoolStore.reclaim_expired_pool_slots`)
returns an expired lease's slots, so a crashed process cannot hold capacity for good.
Time is the engine's clock, so the leases of processes on different machines agree.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from rivers.errors import RiversError, StorageError
from rivers.storage._base import StorageBase
from rivers.storage.records import PoolInfo, PoolSlotHolder

__all__ = ["PoolLimitError", "PoolStore"]

_NOW = "LET $now = $at ?? time::nano(time::now()) / 1000000000.0;"
# Fixed THROW texts: they must never look like a retryable conflict to the connection layer
# (so they name no pool), and tell the outcome apart.
_MARK = "rivers-pool:"

_CLAIM = f"""
BEGIN;
{_NOW}
IF record::exists(type::record('pool_holder', [$claim, $pools[0]])) {{ THROW '{_MARK}held' }};
LET $expired = (DELETE pool_holder WHERE pool IN $pools AND lease_expires_at < $now RETURN BEFORE);
FOR $h IN $expired {{
    UPDATE type::record('pool', $h.pool) SET in_use -= $h.slots RETURN NONE;
}};
LET $ids = $pools.map(|$p| type::record('pool', $p));
IF (SELECT VALUE name FROM $ids WHERE (manual_limit ?? code_limit) > 0
        AND (manual_limit ?? code_limit) < $slots) != [] {{ THROW '{_MARK}impossible' }};
LET $limited = (SELECT VALUE name FROM $ids WHERE (manual_limit ?? code_limit) != NONE);
LET $me = type::record('pool_waiter', $claim).seq;
IF $limited != [] AND (SELECT VALUE claim_id FROM pool_waiter WHERE lease_expires_at >= $now
        AND pools CONTAINSANY $limited AND claim_id != $claim AND ($me == NONE OR seq < $me)
        LIMIT 1) != [] {{ THROW '{_MARK}queued' }};
FOR $p IN $pools {{
    LET $row = (UPSERT type::record('pool', $p) SET name = $p, in_use = (in_use ?? 0) + $slots
        RETURN AFTER)[0];
    IF ($row.manual_limit ?? $row.code_limit) != NONE
        AND $row.in_use > ($row.manual_limit ?? $row.code_limit) {{ THROW '{_MARK}full' }};
}};
INSERT INTO pool_holder $pools.map(|$p| {{
    id: [$claim, $p], claim_id: $claim, pool: $p, run_id: $run, step_key: $step,
    slots: $slots, owner: $owner, claimed_at: $now, lease_expires_at: $now + $lease
}}) RETURN NONE;
DELETE type::record('pool_waiter', $claim) RETURN NONE;
COMMIT;
"""

_REGISTER = f"""
BEGIN;
{_NOW}
IF record::exists(type::record('pool_waiter', $claim)) {{
    UPDATE type::record('pool_waiter', $claim) SET lease_expires_at = $now + $lease RETURN NONE;
}} ELSE {{
    LET $seq = (UPSERT counter:pool_waiter SET n = (n ?? 0) + 1 RETURN AFTER)[0].n;
    CREATE type::record('pool_waiter', $claim) SET claim_id = $claim, seq = $seq,
        pools = $pools, slots = $slots, run_id = $run, step_key = $step, owner = $owner,
        registered_at = $now, lease_expires_at = $now + $lease RETURN NONE;
}};
COMMIT;
RETURN type::record('pool_waiter', $claim).seq;
"""

# Deleting with RETURN BEFORE gives back exactly the slots this transaction removed, so a
# release racing a reclaim (or a second release) never returns slots twice.
_RETURN_SLOTS = """
FOR $h IN $gone {
    UPDATE type::record('pool', $h.pool) SET in_use -= $h.slots RETURN NONE;
};
"""

_RELEASE = f"""
BEGIN;
LET $gone = (DELETE pool_holder WHERE claim_id = $claim RETURN BEFORE);
{_RETURN_SLOTS}
DELETE type::record('pool_waiter', $claim) RETURN NONE;
COMMIT;
RETURN math::sum($gone.slots);
"""

_RECLAIM = f"""
BEGIN;
{_NOW}
LET $gone = (DELETE pool_holder WHERE lease_expires_at < $now RETURN BEFORE);
{_RETURN_SLOTS}
DELETE pool_waiter WHERE lease_expires_at < $now RETURN NONE;
COMMIT;
RETURN math::sum($gone.slots);
"""

_RENEW = f"""
BEGIN;
{_NOW}
LET $held = (UPDATE pool_holder SET lease_expires_at = $now + $lease WHERE owner = $owner
    RETURN VALUE id);
LET $waiting = (UPDATE pool_waiter SET lease_expires_at = $now + $lease WHERE owner = $owner
    RETURN VALUE id);
COMMIT;
RETURN array::len($held) + array::len($waiting);
"""

_INFOS = f"""
{_NOW}
SELECT name, manual_limit, code_limit, in_use FROM pool WHERE $pool == NONE OR name = $pool;
SELECT pool, count() AS n FROM pool_holder WHERE $pool == NONE OR pool = $pool GROUP BY pool;
SELECT VALUE pools FROM pool_waiter WHERE lease_expires_at >= $now;
"""


class PoolLimitError(RiversError):
    """A claim asks for more slots than a pool's limit: it could never run."""


def _names(pools: Sequence[str]) -> list[str]:
    names = [pools] if isinstance(pools, str) else list(pools)
    for name in names:
        if not isinstance(name, str) or not name.strip():
            raise StorageError(f"invalid pool name {name!r}: a non-empty string, e.g. 'warehouse'")
    if not names:
        raise StorageError("a pool claim needs at least one pool")
    return list(dict.fromkeys(names))


def _check_slots(slots: int) -> int:
    if isinstance(slots, bool) or not isinstance(slots, int) or slots < 1:
        raise StorageError(f"invalid pool slots {slots!r} (an integer >= 1)")
    return slots


def _check_limit(pool: str, limit: int) -> None:
    _names([pool])
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise StorageError(f"pool {pool!r}: invalid limit {limit!r} (an integer >= 0)")


class PoolStore(StorageBase):
    """Typed access to concurrency pools: limits, slot holders and waiters."""

    # --- limits ----------------------------------------------------------------------------

    def set_pool_limit(self, pool: str, limit: int) -> None:
        """Set an operator's limit on ``pool``; it wins over the code default (0 pauses it).

        Raises:
            StorageError: ``limit`` is not an integer >= 0.
        """
        _check_limit(pool, limit)
        self._q(
            "UPSERT type::record('pool', $p) SET name = $p, manual_limit = $limit, "
            "in_use = in_use ?? 0 RETURN NONE;",
            {"p": pool, "limit": limit},
        )

    def clear_pool_limit(self, pool: str) -> None:
        """Drop the manual limit of ``pool``: the code default applies again, else none."""
        self._q("UPDATE type::record('pool', $p) SET manual_limit = NONE RETURN NONE;", {"p": pool})

    def ensure_pool_limits(self, limits: Mapping[str, int]) -> None:
        """Record a repository's ``pool_limits`` as code defaults, in one transaction.

        The code default is kept beside a manual limit rather than replacing it, so a manual
        limit (``rivers pools set``) stays in force and ``clear_pool_limit`` falls back to it.
        """
        for pool, limit in limits.items():
            _check_limit(pool, limit)
        if not limits:
            return
        self._q(
            "BEGIN; FOR $e IN $entries { UPSERT type::record('pool', $e.name) SET "
            "name = $e.name, code_limit = $e.limit, in_use = in_use ?? 0 RETURN NONE; }; COMMIT;",
            {"entries": [{"name": k, "limit": v} for k, v in limits.items()]},
        )

    # --- introspection ---------------------------------------------------------------------

    def get_all_pool_infos(self) -> list[PoolInfo]:
        """Every pool with a limit, a holder or a waiter, by name."""
        return self._infos(None)

    def get_pool_info(self, pool: str) -> PoolInfo:
        """One pool's limits and usage (an unknown pool is unlimited and idle)."""
        infos = self._infos(pool)
        return infos[0] if infos else PoolInfo(name=pool)

    def get_pool_slot_holders(self, pool: str) -> list[PoolSlotHolder]:
        """The claims holding slots of ``pool``, oldest first (expired leases included)."""
        (rows,) = self._q(
            "SELECT * OMIT id FROM pool_holder WHERE pool = $p ORDER BY claimed_at;", {"p": pool}
        )
        return [PoolSlotHolder.model_validate(r) for r in rows]

    def _infos(self, pool: str | None) -> list[PoolInfo]:
        _, rows, holders, waiting = self._q(_INFOS, {"pool": pool, "at": None})
        waiters = Counter(name for pools in waiting for name in set(pools))
        infos = {
            r["name"]: {
                "name": r["name"],
                "manual_limit": r.get("manual_limit"),
                "code_limit": r.get("code_limit"),
                "slots_in_use": r.get("in_use", 0),
            }
            for r in rows
        }
        for h in holders:
            infos.setdefault(h["pool"], {"name": h["pool"]})["holders"] = h["n"]
        for name, count in waiters.items():
            if pool is None or name == pool:
                infos.setdefault(name, {"name": name})["waiters"] = count
        return [PoolInfo.model_validate(infos[name]) for name in sorted(infos)]

    # --- claims ----------------------------------------------------------------------------

    def claim_pool_slots(
        self,
        claim_id: str,
        pools: Sequence[str],
        slots: int,
        *,
        run_id: str,
        step_key: str,
        owner: str,
        lease_duration: float,
    ) -> bool:
        """Take ``slots`` of every pool in ``pools`` for ``claim_id``, all or nothing.

        Succeeds only if each limited pool has room and no live waiter registered before this
        claim (see :meth:`register_pool_waiter`; an unregistered claim comes after all of them)
        wants one of those pools. Expired holders of these pools are reclaimed first. Claiming
        a claim id that already holds its slots succeeds again without taking more.

        Returns:
            Whether the slots were taken; ``False`` means wait and try again.

        Raises:
            PoolLimitError: ``slots`` exceeds the (non-zero) limit of a pool.
        """
        names = _names(pools)
        variables: dict[str, Any] = {
            "claim": claim_id,
            "pools": names,
            "slots": _check_slots(slots),
            "run": run_id,
            "step": step_key,
            "owner": owner,
            "lease": float(lease_duration),
            "at": None,
        }
        try:
            self._q(_CLAIM, variables)
        except StorageError as exc:
            outcome = str(exc).partition(_MARK)[2]
            if outcome.startswith("held"):
                return True
            if outcome.startswith(("queued", "full")):
                return False
            if outcome.startswith("impossible"):
                raise self._limit_error(names, slots) from None
            raise
        return True

    def _limit_error(self, pools: list[str], slots: int) -> PoolLimitError:
        for name in pools:
            info = self.get_pool_info(name)
            if info.limit and info.limit < slots:
                return PoolLimitError(
                    f"pool {name!r} has a limit of {info.limit} slot(s) ({info.source}), "
                    f"fewer than the {slots} this step needs: it could never run. Lower the "
                    f"step's pool_slots or raise the limit (rivers pools set {name} {slots})"
                )
        return PoolLimitError(f"pools {pools}: {slots} slot(s) exceed a pool's limit")

    def register_pool_waiter(
        self,
        claim_id: str,
        pools: Sequence[str],
        slots: int,
        *,
        run_id: str,
        step_key: str,
        owner: str,
        lease_duration: float,
    ) -> int:
        """Queue ``claim_id`` for its pools (idempotent: renews an existing waiter's lease).

        Returns:
            The waiter's place in the global FIFO sequence.
        """
        (seq,) = self._q(
            _REGISTER,
            {
                "claim": claim_id,
                "pools": _names(pools),
                "slots": _check_slots(slots),
                "run": run_id,
                "step": step_key,
                "owner": owner,
                "lease": float(lease_duration),
                "at": None,
            },
        )[-1:]
        return int(seq)

    def release_pool_slots(self, claim_id: str) -> int:
        """Return a claim's slots to their pools and drop its waiter (idempotent).

        Returns:
            The slots returned, summed over the claim's pools (0 if none were held).
        """
        result = self._q(_RELEASE, {"claim": claim_id})
        return int(result[-1] or 0)

    def renew_pool_leases(self, owner: str, lease_duration: float) -> int:
        """Extend the lease of every holder and waiter of ``owner`` to now + ``lease_duration``.

        Returns:
            How many holder and waiter rows were renewed.
        """
        result = self._q(_RENEW, {"owner": owner, "lease": float(lease_duration), "at": None})
        return int(result[-1] or 0)

    def reclaim_expired_pool_slots(self, now: float | None = None) -> int:
        """Return the slots of every holder whose lease expired, and drop expired waiters.

        Args:
            now: the time to compare leases with (default: the engine's clock).

        Returns:
            The slots returned, summed over pools.
        """
        result = self._q(_RECLAIM, {"at": now})
        return int(result[-1] or 0)
