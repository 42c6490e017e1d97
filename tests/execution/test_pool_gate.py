"""The pool gate: waiting for, holding and giving back pool slots from async step code."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest

from rivers.errors import RiversError
from rivers.execution.pools import PoolClaim, PoolGate, PoolLimitError
from rivers.storage import Storage

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@pytest.fixture
def storage() -> Iterator[Storage]:
    store = Storage.memory().open()
    yield store
    store.close()


@pytest.fixture
def gate(storage: Storage) -> Iterator[PoolGate]:
    pool_gate = PoolGate(storage, poll_interval=0.02)
    yield pool_gate
    pool_gate.close()


async def until(check: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(check):
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


def test_acquire_holds_slots_and_release_gives_them_back(storage: Storage, gate: PoolGate) -> None:
    """An acquired claim is a holder row of this gate's owner; release is idempotent."""
    storage.ensure_pool_limits({"wh": 2})

    async def main() -> PoolClaim:
        return await gate.acquire(["wh", "api"], 2, run_id="r1", step_key="load")

    claim = run(main())
    assert (claim.pools, claim.slots, claim.run_id, claim.step_key) == (
        ("wh", "api"),
        2,
        "r1",
        "load",
    )
    assert 0 <= claim.waited < 1
    (holder,) = storage.get_pool_slot_holders("wh")
    assert (holder.claim_id, holder.owner, holder.slots) == (claim.claim_id, gate.owner, 2)
    assert gate.held == [claim]
    gate.release(claim)
    gate.release(claim)
    assert storage.get_pool_info("wh").slots_in_use == 0
    assert storage.get_pool_info("api").slots_in_use == 0
    assert gate.held == []


def test_local_release_wakes_a_waiter_at_once(storage: Storage) -> None:
    """A release by the same gate wakes its waiter without waiting for the next poll."""
    storage.ensure_pool_limits({"wh": 1})

    async def main() -> float:
        with PoolGate(storage, poll_interval=30.0) as gate:
            first = await gate.acquire(["wh"], run_id="r", step_key="a")
            waiter = asyncio.create_task(gate.acquire(["wh"], run_id="r", step_key="b"))
            await until(lambda: storage.get_pool_info("wh").waiters == 1)
            released = time.monotonic()
            await gate.arelease(first)
            second = await asyncio.wait_for(waiter, 5)
            woke = time.monotonic() - released
            assert second.waited > 0
            await gate.arelease(second)
            return woke

    assert run(main()) < 1.0


def test_waiters_are_served_in_arrival_order(storage: Storage, gate: PoolGate) -> None:
    """A big claim queued first is served before a smaller one queued after it."""
    storage.ensure_pool_limits({"wh": 2})
    order: list[str] = []

    async def wait_for_slots(name: str, slots: int) -> PoolClaim:
        claim = await gate.acquire(["wh"], slots, run_id="r", step_key=name)
        order.append(name)
        return claim

    async def main() -> None:
        held = await gate.acquire(["wh"], 1, run_id="r", step_key="held")
        big = asyncio.create_task(wait_for_slots("big", 2))
        await until(lambda: storage.get_pool_info("wh").waiters == 1)
        small = asyncio.create_task(wait_for_slots("small", 1))
        await until(lambda: storage.get_pool_info("wh").waiters == 2)
        await asyncio.sleep(0.1)
        assert order == [], "one slot is free, but the big claim is first in line"
        await gate.arelease(held)
        big_claim = await asyncio.wait_for(big, 5)
        await asyncio.sleep(0.1)
        assert order == ["big"]
        await gate.arelease(big_claim)
        await gate.arelease(await asyncio.wait_for(small, 5))

    run(main())
    assert order == ["big", "small"]


def test_cancelled_waiter_leaves_the_queue(storage: Storage, gate: PoolGate) -> None:
    """Cancelling a waiting acquire removes its waiter row and takes nothing."""
    storage.ensure_pool_limits({"wh": 1})

    async def main() -> None:
        held = await gate.acquire(["wh"], run_id="r", step_key="held")
        waiter = asyncio.create_task(gate.acquire(["wh"], run_id="r", step_key="w"))
        await until(lambda: storage.get_pool_info("wh").waiters == 1)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        info = await asyncio.to_thread(storage.get_pool_info, "wh")
        assert (info.waiters, info.holders, info.slots_in_use) == (0, 1, 1)
        await gate.arelease(held)

    run(main())


class SlowClaims:
    """A storage whose claims take a while, to cancel a waiter while its claim is in flight."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.started = threading.Event()

    def claim_pool_slots(self, *args: Any, **kwargs: Any) -> bool:
        self.started.set()
        time.sleep(0.3)
        return self.storage.claim_pool_slots(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.storage, name)


def test_cancel_during_a_claim_in_flight_undoes_it(storage: Storage) -> None:
    """A claim that succeeds after its waiter was cancelled is released, not leaked."""
    storage.ensure_pool_limits({"wh": 1})
    slow = SlowClaims(storage)

    async def main() -> None:
        with PoolGate(slow, poll_interval=0.02) as gate:  # type: ignore[arg-type]
            task = asyncio.create_task(gate.acquire(["wh"], run_id="r", step_key="s"))
            await asyncio.to_thread(slow.started.wait, 5)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert gate.held == []

    run(main())
    info = storage.get_pool_info("wh")
    assert (info.slots_in_use, info.holders, info.waiters) == (0, 0, 0)


def test_unlimited_pools_never_wait(storage: Storage, gate: PoolGate) -> None:
    """Claims on a pool without a limit all succeed at once, and nobody queues."""
    storage.ensure_pool_limits({"limited": 1})

    async def main() -> list[PoolClaim]:
        blocker = await gate.acquire(["limited"], run_id="r", step_key="b")
        queued = asyncio.create_task(gate.acquire(["free", "limited"], run_id="r", step_key="q"))
        await until(lambda: storage.get_pool_info("free").waiters == 1)
        claims = await asyncio.gather(
            *(gate.acquire(["free"], 3, run_id="r", step_key=f"s{i}") for i in range(10))
        )
        queued.cancel()
        with pytest.raises(asyncio.CancelledError):
            await queued
        await gate.arelease(blocker)
        return list(claims)

    claims = run(main())
    assert all(c.waited < 1 for c in claims)
    assert storage.get_pool_info("free").slots_in_use == 30


def test_more_slots_than_the_limit_fail_fast(storage: Storage, gate: PoolGate) -> None:
    """pool_slots above a pool's limit raises at once, naming the pool; bad slots are refused."""
    storage.ensure_pool_limits({"wh": 1})

    async def main() -> None:
        with pytest.raises(PoolLimitError, match="pool 'wh' has a limit of 1"):
            await asyncio.wait_for(gate.acquire(["wh"], 2, run_id="r", step_key="s"), 5)
        with pytest.raises(RiversError, match="pool_slots must be an integer >= 1"):
            await gate.acquire(["wh"], 0, run_id="r", step_key="s")

    run(main())
    info = storage.get_pool_info("wh")
    assert (info.slots_in_use, info.waiters) == (0, 0)


def test_no_pools_means_no_wait_and_no_storage(gate: PoolGate) -> None:
    """A step without pools gets an empty claim at once; releasing it is a no-op."""
    claim = run(gate.acquire([], run_id="r", step_key="s"))
    assert (claim.pools, claim.waited) == ((), 0.0)
    gate.release(claim)


def test_heartbeat_keeps_leases_alive(storage: Storage) -> None:
    """The heartbeat renews held slots, so a short lease outlives its duration."""
    storage.ensure_pool_limits({"wh": 1})
    with PoolGate(storage, lease_duration=0.3) as gate:
        claim = run(gate.acquire(["wh"], run_id="r", step_key="s"))
        time.sleep(1.0)
        assert storage.reclaim_expired_pool_slots() == 0
        (holder,) = storage.get_pool_slot_holders("wh")
        assert holder.claim_id == claim.claim_id
        assert holder.lease_expires_at > time.time()
    assert storage.get_pool_info("wh").slots_in_use == 0


def test_a_lost_waiter_queues_again(storage: Storage) -> None:
    """A waiter whose row vanished (its lease lapsed and was reclaimed) puts itself back."""
    storage.ensure_pool_limits({"wh": 1})

    async def main() -> None:
        with PoolGate(storage, lease_duration=0.3, poll_interval=0.02) as gate:
            held = await gate.acquire(["wh"], run_id="r", step_key="held")
            waiter = asyncio.create_task(gate.acquire(["wh"], run_id="r", step_key="w"))
            await until(lambda: storage.get_pool_info("wh").waiters == 1)
            await asyncio.to_thread(storage._q, "DELETE pool_waiter;")
            await until(lambda: storage.get_pool_info("wh").waiters == 0)
            await until(lambda: storage.get_pool_info("wh").waiters == 1, timeout=5)
            await gate.arelease(held)
            await gate.arelease(await asyncio.wait_for(waiter, 5))

    run(main())


def test_close_releases_what_is_held(storage: Storage) -> None:
    """Closing a gate gives back every claim it still holds; it cannot acquire afterwards."""
    storage.ensure_pool_limits({"wh": 3})
    gate = PoolGate(storage)

    async def main() -> None:
        for i in range(3):
            await gate.acquire(["wh"], run_id="r", step_key=f"s{i}")

    run(main())
    assert storage.get_pool_info("wh").slots_in_use == 3
    gate.close()
    gate.close()
    assert storage.get_pool_info("wh").slots_in_use == 0
    with pytest.raises(RiversError, match="closed"):
        run(gate.acquire(["wh"], run_id="r", step_key="late"))


def test_hold_releases_when_the_step_fails(storage: Storage, gate: PoolGate) -> None:
    """``async with gate.hold(...)`` gives the slots back even when the body raises."""
    storage.ensure_pool_limits({"wh": 1})

    async def step() -> None:
        async with gate.hold(["wh"], run_id="r", step_key="s"):
            assert storage.get_pool_info("wh").slots_in_use == 1
            raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        run(step())
    assert storage.get_pool_info("wh").slots_in_use == 0


def test_busy_default_executor_does_not_delay_the_gate(storage: Storage, gate: PoolGate) -> None:
    """Sync steps filling asyncio's default executor do not hold up acquire or release."""
    storage.ensure_pool_limits({"wh": 1})
    release_steps = threading.Event()

    async def main() -> float:
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=1))
        busy = asyncio.create_task(asyncio.to_thread(release_steps.wait, 10))
        started = time.monotonic()
        claim = await asyncio.wait_for(gate.acquire(["wh"], run_id="r", step_key="s"), 5)
        await asyncio.wait_for(gate.arelease(claim), 5)
        took = time.monotonic() - started
        release_steps.set()
        await busy
        return took

    assert run(main()) < 2
    assert storage.get_pool_info("wh").slots_in_use == 0
