"""What the daemon's background loops share: their task's start and stop, their pacing.

Two ways of stopping, on purpose:

* :class:`PacedLoop` (backfills, automation) sets a flag and waits: a tick in progress
  finishes, because its storage writes belong together;
* :func:`cancel` (monitor, schedules, sensors) cancels: their ticks are safe to abandon (run
  keys and conditional updates keep them single).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, ClassVar

__all__ = ["PacedLoop", "cancel"]


async def cancel(*tasks: asyncio.Task[Any] | None) -> None:
    """Cancel ``tasks`` (``None``: not started), then wait until each has ended."""
    started = [task for task in tasks if task is not None]
    for task in started:
        task.cancel()
    for task in started:
        with contextlib.suppress(asyncio.CancelledError):
            await task


class PacedLoop:
    """A base for loops that call :meth:`tick` every ``interval`` until :meth:`stop`.

    A tick that raises is logged (``failed_event``) and the loop goes on. With
    ``pace_from_start`` the interval runs from the start of a tick (ticks ``interval`` apart),
    else from its end (``interval`` of rest between ticks). Subclasses set the class
    attributes (``_log``: their logger), ``self.interval``, and call ``super().__init__()``.
    """

    task_name: ClassVar[str]
    failed_event: ClassVar[str]
    pace_from_start: ClassVar[bool] = False
    _log: ClassVar[Any]
    interval: float

    def __init__(self) -> None:
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def tick(self) -> object:
        """One iteration."""
        raise NotImplementedError

    async def start(self) -> None:
        """Tick now, then every ``interval``, in the background until :meth:`stop`."""
        self._stopping.clear()
        self._task = asyncio.create_task(self._loop(), name=self.task_name)

    async def stop(self) -> None:
        """Stop ticking (a tick in progress finishes first)."""
        self._stopping.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                await self.tick()
            except Exception as exc:  # storage or the code server is down: try next interval
                self._log.warning(self.failed_event, error=f"{type(exc).__name__}: {exc}")
            wait = self.interval
            if self.pace_from_start:
                wait = max(self.interval - (time.monotonic() - started), 0.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), wait)
