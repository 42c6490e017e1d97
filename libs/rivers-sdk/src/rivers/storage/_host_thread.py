"""Running a storage host on its own event loop in a background thread."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import threading
import weakref
from typing import TYPE_CHECKING, Self

from rivers.errors import StorageError

if TYPE_CHECKING:
    from rivers.storage.host import StorageHost

__all__ = ["HostThread"]

_running: weakref.WeakSet[HostThread] = weakref.WeakSet()


class HostThread:
    """A :class:`~rivers.storage.host.StorageHost` served from a daemon thread.

    Build one with :func:`rivers.storage.host.start_in_thread`. Stopped by :meth:`stop`, a
    ``with`` block, or at interpreter exit (an engine left open can abort the interpreter).
    """

    def __init__(self, server: StorageHost) -> None:
        self.server = server
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"rivers-storage-host:{server.path.name}", daemon=True
        )

    @classmethod
    def start(cls, server: StorageHost, *, timeout: float = 30.0) -> HostThread:
        """Start ``server`` in a new thread; returns once it listens.

        Raises:
            StorageError: the host failed to start, or did not start within ``timeout``.
        """
        handle = cls(server)
        handle._thread.start()
        if not handle._ready.wait(timeout):
            handle.stop()
            raise StorageError(f"storage host at {server.path} did not start in {timeout}s")
        if handle._error is not None:
            handle._thread.join()
            raise handle._error
        _running.add(handle)
        return handle

    @property
    def url(self) -> str:
        """The host's ``ws://`` address."""
        return self.server.url

    @property
    def port(self) -> int:
        """The host's TCP port."""
        return self.server.port

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the host gracefully and wait for its thread (idempotent)."""
        loop, event = self._loop, self._stop_event
        if loop is not None and event is not None and self._thread.is_alive():
            # The loop may close between the check and the call; then it has stopped anyway.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(event.set)
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        _running.discard(self)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        try:
            await self.server.start()
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            await self._stop_event.wait()
        finally:
            await self.server.stop()


@atexit.register
def _stop_all() -> None:
    for handle in list(_running):
        handle.stop()
