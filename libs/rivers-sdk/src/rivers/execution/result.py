"""``MaterializeResult``: what ``repo.materialize()`` and ``Job.execute()`` return."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rivers.execution.events import EventKind, RunEvent

__all__ = ["MaterializeResult"]


class MaterializeResult:
    """The outcome of one inline run.

    Attributes:
        success: every step succeeded.
        run_id: the stored run's id (``storage.get_run(run_id)``).
        events: every event of the run, in order, with storage sequence numbers (captured log
            lines one event each; lines stored together share a sequence number).
        materializations: the ``ASSET_MATERIALIZATION`` events.
    """

    __slots__ = ("_loader", "events", "run_id", "success")

    def __init__(
        self,
        *,
        success: bool,
        run_id: str,
        events: list[RunEvent],
        loader: Callable[[str], Any],
    ) -> None:
        self.success = success
        self.run_id = run_id
        self.events = events
        self._loader = loader

    @property
    def materializations(self) -> list[RunEvent]:
        """Materialization events, one per materialized asset (and partition)."""
        return [e for e in self.events if e.kind is EventKind.ASSET_MATERIALIZATION]

    @property
    def failures(self) -> list[RunEvent]:
        """``STEP_FAILURE`` events, each with the user's error and traceback."""
        return [e for e in self.events if e.kind is EventKind.STEP_FAILURE]

    @property
    def skipped(self) -> list[str]:
        """Keys of assets skipped because something upstream failed."""
        return [e.asset_key or "" for e in self.events if e.kind is EventKind.STEP_SKIPPED]

    @property
    def materialized_keys(self) -> list[str]:
        """Keys of the assets this run materialized, in order."""
        return [e.asset_key or "" for e in self.materializations]

    def output_for(self, key: str) -> Any:
        """The value asset ``key`` produced in this run, loaded through its IO handler.

        Raises:
            KeyError: the asset was not materialized by this run.
            LookupError: the asset recorded a ``Materialization`` and stored no value.
        """
        return self._loader(key)

    def __repr__(self) -> str:
        return (
            f"MaterializeResult(success={self.success}, run_id={self.run_id!r}, "
            f"materialized={len(self.materializations)}, failed={len(self.failures)})"
        )
