"""``rs.Executor``: where and how concurrently a run's steps execute.

Every executor kind shares one executor core (``rivers.execution.core``): it decides which
step may start (its upstream steps succeeded, its pools have room, the executor has capacity)
and which must be skipped; the kind only decides where a ready step runs.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["Executor", "ExecutorKind"]

ExecutorKind = Literal["in_process", "parallel"]


class Executor:
    """How a run executes its steps; build one with :meth:`in_process` or :meth:`parallel`."""

    __slots__ = ("cancel_grace", "kind", "max_async_concurrent", "max_workers")

    def __init__(
        self,
        kind: ExecutorKind,
        *,
        max_workers: int = 1,
        max_async_concurrent: int | None = None,
        cancel_grace: float = 10.0,
    ) -> None:
        if max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, not {max_workers}")
        if max_async_concurrent is not None and max_async_concurrent < 1:
            raise ValueError(
                f"max_async_concurrent must be at least 1 (or None), not {max_async_concurrent}"
            )
        self.kind: ExecutorKind = kind
        self.max_workers = max_workers
        self.max_async_concurrent = max_async_concurrent
        self.cancel_grace = cancel_grace

    @staticmethod
    def in_process() -> Executor:
        """Run every step in the calling process, one at a time (the default)."""
        return Executor("in_process")

    @staticmethod
    def parallel(
        max_workers: int = 8,
        max_async_concurrent: int | None = None,
        *,
        cancel_grace: float = 10.0,
    ) -> Executor:
        """Run sync steps in a pool of worker processes and async steps on the run's loop.

        Args:
            max_workers: worker processes, started once per run and reused across steps.
            max_async_concurrent: how many ``async def`` steps may run at once (unbounded by
                default).
            cancel_grace: seconds between SIGTERM and SIGKILL when a run is cancelled.
        """
        return Executor(
            "parallel",
            max_workers=max_workers,
            max_async_concurrent=max_async_concurrent,
            cancel_grace=cancel_grace,
        )

    def __repr__(self) -> str:
        if self.kind == "in_process":
            return "Executor.in_process()"
        return (
            f"Executor.parallel(max_workers={self.max_workers}, "
            f"max_async_concurrent={self.max_async_concurrent})"
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Executor) and (
            other.kind,
            other.max_workers,
            other.max_async_concurrent,
        ) == (self.kind, self.max_workers, self.max_async_concurrent)

    def __hash__(self) -> int:
        return hash((self.kind, self.max_workers, self.max_async_concurrent))
