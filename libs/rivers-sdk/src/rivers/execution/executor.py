"""``rs.Executor``: how a run's steps are executed.

The executor core decides *which* step may run (all upstream steps succeeded) and which must
be skipped (an upstream step failed or was skipped); each executor kind only decides *where*
a ready step runs.
"""

from __future__ import annotations

from typing import Literal

from rivers.execution.events import EventKind
from rivers.execution.step import RunContext, run_step

__all__ = ["Executor", "ExecutorKind"]

ExecutorKind = Literal["in_process"]


class Executor:
    """Executes the steps of a run; build one with a factory such as :meth:`in_process`."""

    __slots__ = ("kind",)

    def __init__(self, kind: ExecutorKind) -> None:
        self.kind: ExecutorKind = kind

    @staticmethod
    def in_process() -> Executor:
        """Run every step one after another in the calling process (the default)."""
        return Executor("in_process")

    def execute(self, run: RunContext) -> bool:
        """Run every step of ``run.plan``; returns True when all of them succeeded."""
        succeeded: set[str] = set()
        all_ok = True
        for step in run.plan.steps:
            blocked = [up for up in step.upstream if up not in succeeded]
            if blocked:
                all_ok = False
                run.skipped_steps.append(step.key)
                run.emit(
                    EventKind.STEP_SKIPPED,
                    step,
                    asset_key=step.asset_keys[0],
                    level="WARNING",
                    message=f"skipped: upstream step {blocked[0]!r} did not succeed",
                )
                continue
            if run_step(run, step):
                succeeded.add(step.key)
            else:
                all_ok = False
                run.failed_steps.append(step.key)
        return all_ok

    def __repr__(self) -> str:
        return f"Executor.{self.kind}()"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Executor) and other.kind == self.kind

    def __hash__(self) -> int:
        return hash(self.kind)
