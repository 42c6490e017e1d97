"""The pool gate: how a run process's steps wait for and hold concurrency pool slots.

A :class:`PoolGate` serves every step of one process. :meth:`PoolGate.acquire` first tries to
claim at once; if it cannot, it queues a waiter (so claims are served first come, first served
per pool, across every process) and polls until the claim succeeds. A release by this gate
wakes its own waiters at once; other processes' releases are seen at the next poll. A daemon
heartbeat thread renews the leases of everything the gate holds or waits for, so only a dead
process's slots expire and come back.

Storage calls block, so the async methods run them on the gate's own few threads rather than
asyncio's default executor: steps that fill the default executor (sync step bodies run with
``asyncio.to_thread``) cannot delay a release or a poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self

from rivers.errors import RiversError
from rivers.storage._pools import PoolLimitError
from rivers.telemetry import get_logger

if TYPE_CHECKING:
    from rivers.storage import Storage

__all__ = ["PoolClaim", "PoolGate", "PoolLimitError"]

log = get_logger("rivers.pools")


@dataclass(frozen=True, slots=True)
class PoolClaim:
    """Slots of one or more pools held by one step.

    Attributes:
        claim_id: the claim's id in storage (its holder rows).
        pools: the pools the slots are held in (empty: the step uses no pool).
        slots: slots held in each pool.
        run_id: the run of the step.
        step_key: the step holding the slots.
        waited: seconds spent waiting for the slots.
    """

    claim_id: str
    pools: tuple[str, ...]
    slots: int
    run_id: str
    step_key: str
    waited: float


def default_owner() -> str:
    """A name for this process as a slot owner: ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class PoolGate:
    """Acquires and releases pool slots for the steps of one process.

    Args:
        storage: the store the pools live in.
        owner: the owner name leases are renewed under (default: host, pid and a random id).
        lease_duration: seconds a lease lasts without renewal; the heartbeat renews every
            third of it, so a crashed process's slots come back within this time.
        poll_interval: seconds between claim attempts while waiting.
    """

    def __init__(
        self,
        storage: Storage,
        *,
        owner: str | None = None,
        lease_duration: float = 60.0,
        poll_interval: float = 0.05,
    ) -> None:
        if lease_duration <= 0 or poll_interval <= 0:
            raise RiversError("pool gate: lease_duration and poll_interval must be > 0")
        self.storage = storage
        self.owner = owner or default_owner()
        self.lease_duration = float(lease_duration)
        self.poll_interval = float(poll_interval)
        self._lock = threading.Lock()
        self._held: dict[str, PoolClaim] = {}
        self._pending: set[str] = set()  # claims being acquired (waiting or in flight)
        self._orphans: set[str] = set()  # claims whose undo failed; retried by the heartbeat
        self._wakers: set[Callable[[], None]] = set()
        self._tasks: set[asyncio.Future[None]] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="rivers-pool")
        self._closed = False

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        """Start the heartbeat thread (idempotent; :meth:`acquire` starts it too)."""
        with self._lock:
            if self._closed:
                raise RiversError("pool gate is closed")
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._beat, name="rivers-pool-heartbeat", daemon=True
                )
                self._thread.start()
        return self

    def close(self) -> None:
        """Stop the heartbeat and release every claim still held (idempotent)."""
        with self._lock:
            self._closed = True
            thread, self._thread = self._thread, None
            held = list(self._held.values())
        self._stop.set()
        if thread is not None:
            thread.join(timeout=30)
        for claim in held:
            self.release(claim)
        self._retry_orphans()
        self._executor.shutdown(wait=False)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def held(self) -> list[PoolClaim]:
        """The claims this gate holds now."""
        with self._lock:
            return list(self._held.values())

    # --- acquire and release ---------------------------------------------------------------

    async def acquire(
        self, pools: Sequence[str], slots: int = 1, *, run_id: str, step_key: str
    ) -> PoolClaim:
        """Wait until every pool in ``pools`` has ``slots`` free for this step, and take them.

        Waiting is first come, first served per pool. Cancelling the waiting task removes its
        place in the queue (and undoes a claim that was being made at that moment).

        Raises:
            PoolLimitError: ``slots`` exceeds a pool's (non-zero) limit: it could never run.
            RiversError: ``slots`` is not a positive integer, or the gate is closed.
            StorageError: the store failed.
        """
        names = (pools,) if isinstance(pools, str) else tuple(dict.fromkeys(pools))
        if isinstance(slots, bool) or not isinstance(slots, int) or slots < 1:
            raise RiversError(
                f"step {step_key!r}: pool_slots must be an integer >= 1, not {slots!r}"
            )
        claim_id = uuid.uuid4().hex
        if not names:
            return PoolClaim(claim_id, (), slots, run_id, step_key, 0.0)
        self.start()
        args: dict[str, Any] = {
            "run_id": run_id,
            "step_key": step_key,
            "owner": self.owner,
            "lease_duration": self.lease_duration,
        }
        started = time.monotonic()
        wake = asyncio.Event()
        waker = _waker(asyncio.get_running_loop(), wake)
        with self._lock:
            self._pending.add(claim_id)
            self._wakers.add(waker)
        pending: asyncio.Future[Any] | None = None
        queued_at: float | None = None
        try:
            while True:
                if self._closed:
                    raise RiversError("pool gate is closed")
                wake.clear()
                pending = self._call(self.storage.claim_pool_slots, claim_id, names, slots, **args)
                acquired = await asyncio.shield(pending)
                pending = None
                if acquired:
                    break
                # Queue once, then again now and then: re-queuing is idempotent and puts the
                # waiter back should its lease have lapsed (a stalled heartbeat).
                if queued_at is None or time.monotonic() - queued_at > self.lease_duration / 3:
                    pending = self._call(
                        self.storage.register_pool_waiter, claim_id, names, slots, **args
                    )
                    await asyncio.shield(pending)
                    pending = None
                    queued_at = time.monotonic()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), self.poll_interval)
        except BaseException:
            undo = asyncio.ensure_future(self._undo(claim_id, pending))
            self._tasks.add(undo)
            undo.add_done_callback(self._tasks.discard)
            await asyncio.shield(undo)
            raise
        finally:
            with self._lock:
                self._wakers.discard(waker)
        claim = PoolClaim(claim_id, names, slots, run_id, step_key, time.monotonic() - started)
        with self._lock:
            self._held[claim_id] = claim
            self._pending.discard(claim_id)
        if queued_at is not None:
            log.debug("pools.acquired", pools=names, step=step_key, waited=claim.waited)
        return claim

    def release(self, claim: PoolClaim) -> None:
        """Give a claim's slots back (idempotent; blocking: from async code, :meth:`arelease`).

        A failure is logged, not raised: the heartbeat retries it, and the lease bounds it.
        """
        with self._lock:
            known = self._held.pop(claim.claim_id, None)
        if known is None or not known.pools:
            return
        try:
            self.storage.release_pool_slots(claim.claim_id)
        except Exception as exc:
            log.warning("pools.release_failed", claim=claim.claim_id, error=str(exc))
            with self._lock:
                self._orphans.add(claim.claim_id)
        self._wake_all()

    async def arelease(self, claim: PoolClaim) -> None:
        """:meth:`release` without blocking the event loop."""
        await self._call(self.release, claim)

    @contextlib.asynccontextmanager
    async def hold(
        self, pools: Sequence[str], slots: int = 1, *, run_id: str, step_key: str
    ) -> AsyncIterator[PoolClaim]:
        """``async with gate.hold(...) as claim:`` acquires, and releases on the way out."""
        claim = await self.acquire(pools, slots, run_id=run_id, step_key=step_key)
        try:
            yield claim
        finally:
            await self.arelease(claim)

    # --- internals -------------------------------------------------------------------------

    def _call(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> asyncio.Future[Any]:
        # A future of its own, so a cancelled waiter can still learn how a call in flight ended.
        call = functools.partial(func, *args, **kwargs)
        if not self._closed:
            with contextlib.suppress(RuntimeError):  # shut down meanwhile: fall through
                return asyncio.get_running_loop().run_in_executor(self._executor, call)
        # Closed: undoing a claim in flight must still work.
        return asyncio.ensure_future(asyncio.to_thread(call))

    async def _undo(self, claim_id: str, pending: asyncio.Future[Any] | None) -> None:
        if pending is not None:
            # The claim in flight may still succeed; undo it only once it has finished.
            await asyncio.wait([pending])
            if not pending.cancelled():
                pending.exception()  # seen here, so asyncio does not report it as lost
        try:
            await self._call(self.storage.release_pool_slots, claim_id)
        except Exception as exc:
            log.warning("pools.undo_failed", claim=claim_id, error=str(exc))
            with self._lock:
                self._orphans.add(claim_id)
        finally:
            with self._lock:
                self._pending.discard(claim_id)

    def _wake_all(self) -> None:
        with self._lock:
            wakers = list(self._wakers)
        for wake in wakers:
            wake()

    def _beat(self) -> None:
        while not self._stop.wait(self.lease_duration / 3):
            self.heartbeat()

    def heartbeat(self) -> None:
        """Renew the leases of what this gate holds or waits for; retry failed releases."""
        self._retry_orphans()
        with self._lock:
            busy = bool(self._held or self._pending)
        if not busy:
            return
        try:
            self.storage.renew_pool_leases(self.owner, self.lease_duration)
        except Exception as exc:
            log.warning("pools.renew_failed", owner=self.owner, error=str(exc))

    def _retry_orphans(self) -> None:
        with self._lock:
            orphans = list(self._orphans)
        for claim_id in orphans:
            try:
                self.storage.release_pool_slots(claim_id)
            except Exception as exc:
                log.warning("pools.release_failed", claim=claim_id, error=str(exc))
                continue
            with self._lock:
                self._orphans.discard(claim_id)
        if orphans:
            self._wake_all()


def _waker(loop: asyncio.AbstractEventLoop, event: asyncio.Event) -> Callable[[], None]:
    def wake() -> None:
        with contextlib.suppress(RuntimeError):  # the waiter's loop has closed meanwhile
            loop.call_soon_threadsafe(event.set)

    return wake
