"""Reading a run's log lines back: the ``LOG`` events of a run, by step and stream.

Shared by ``rivers logs``, the HTTP route ``/api/runs/{run_id}/logs`` and
``RiversClient.run_logs``, so all three select and show the same lines.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from rivers.execution.events import EventKind, RunEvent

__all__ = ["expand_lines", "filter_logs", "format_log_line", "log_stream", "read_run_logs"]


def log_stream(event: RunEvent) -> str:
    """Where a log line came from: ``log``, ``stdout`` or ``stderr`` (rivers' own: ``log``)."""
    value = event.metadata.get("stream")
    return str(value.value) if value is not None else "log"


def expand_lines(event: RunEvent) -> list[RunEvent]:
    """A chunk of captured lines (``metadata["lines"]``, see ``StepScope``) as one event per line.

    The lines share the chunk's timestamp and ``seq``; any other event is returned as is.
    """
    count = event.metadata.get("lines")
    if count is None or event.kind is not EventKind.LOG:
        return [event]
    metadata = {k: v for k, v in event.metadata.items() if k != "lines"}
    return [
        event.model_copy(update={"message": line, "metadata": metadata})
        for line in event.message.split("\n")
    ]


def _matches_step(event: RunEvent, step: str) -> bool:
    key = event.step_key or ""
    # A map step's lines are those of its mapped items, ``step[0]``, ``step[1]`` ...
    return key == step or (key.startswith(step + "[") and key.endswith("]"))


def filter_logs(
    events: Iterable[RunEvent], *, step: str | None = None, stream: str | None = None
) -> list[RunEvent]:
    """The log lines among ``events`` (chunks expanded), of one step and its items, and stream."""
    return [
        line
        for e in events
        if e.kind is EventKind.LOG
        and (step is None or _matches_step(e, step))
        and (stream is None or log_stream(e) == stream)
        for line in expand_lines(e)
    ]


def read_run_logs(
    storage: Any, run_id: str, *, step: str | None = None, stream: str | None = None
) -> list[RunEvent]:
    """A run's stored log lines in order, optionally of one step and stream."""
    # Step and stream are filtered here: storage selects by run and kind only.
    events = storage.get_run_events(run_id, kinds=[EventKind.LOG])
    return filter_logs(events, step=step, stream=stream)


def format_log_line(event: RunEvent) -> str:
    """``HH:MM:SS.mmm LEVEL step [stream] message`` for terminals."""
    clock = time.strftime("%H:%M:%S", time.localtime(event.timestamp))
    millis = int((event.timestamp % 1) * 1000)
    stream = log_stream(event)
    where = event.step_key or "-"
    if stream != "log":
        where += f" [{stream}]"
    return f"{clock}.{millis:03d} {event.level:<7} {where} {event.message}"
