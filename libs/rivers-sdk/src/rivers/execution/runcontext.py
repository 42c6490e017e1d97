"""What every step of a run shares: definitions, config, IO, storage and the event sink."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel

from rivers.definitions.asset import Asset
from rivers.definitions.resolve import ResolvedInput
from rivers.execution.capture import current_scope, emit_outside_scope
from rivers.execution.events import EventKind, RunEvent
from rivers.execution.io import IOHandler
from rivers.planning.plan import ExecutionPlan, PlanStep

if TYPE_CHECKING:
    from rivers.partitions import PartitionKeys

__all__ = ["EventSink", "RunContext"]


class EventSink(Protocol):
    """Where a step's events go: the run's event log, or a worker's channel to it."""

    def emit(self, event: RunEvent) -> None:
        """Record ``event``."""


@dataclass
class RunContext:
    """Everything a step needs from its run (in the run process or in a worker)."""

    run_id: str
    location_id: str
    plan: ExecutionPlan
    assets: Mapping[str, Asset]
    inputs: Mapping[str, tuple[ResolvedInput, ...]]
    configs: Mapping[str, BaseModel]
    default_io: IOHandler
    storage: Any
    events: EventSink
    partition_keys: PartitionKeys | None = None
    stored_outputs: set[str] = field(default_factory=set)
    failed_steps: list[str] = field(default_factory=list)
    skipped_steps: list[str] = field(default_factory=list)
    canceled: threading.Event = field(default_factory=threading.Event)
    # Values the scheduler hands a graph task (collected or streamed map results), by step.
    injected: dict[str, dict[str, Any]] = field(default_factory=dict)

    def handler_for(self, asset_key: str) -> IOHandler:
        """The IO handler that stores ``asset_key``."""
        return self.assets[asset_key].io_handler or self.default_io

    def keys_of(self, asset: Asset) -> PartitionKeys | None:
        """The partitions ``asset`` materializes in this run (None when unpartitioned)."""
        return self.partition_keys if asset.partitions_def is not None else None

    def emit(self, kind: EventKind, step: PlanStep | str, **fields: Any) -> None:
        """Record an event of ``step`` (a plan step, or a step key such as a mapped item's)."""
        step_key = step if isinstance(step, str) else step.key
        event = RunEvent(
            run_id=self.run_id, kind=kind, timestamp=time.time(), step_key=step_key, **fields
        )
        scope = current_scope()
        if scope is None:
            self.events.emit(event)
            return
        scope.flush()  # the step's captured lines so far come before this event
        emit_outside_scope(self.events, event)
