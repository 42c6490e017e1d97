"""Live progress and the final summary of a materialization on the terminal."""

from __future__ import annotations

import threading
import time

from rivers.cli.console import Console, format_table
from rivers.definitions.metadata import MetadataValue
from rivers.execution.events import EventKind, RunEvent
from rivers.execution.result import MaterializeResult

__all__ = ["RunProgress"]

_MAX_METADATA = 60


def _fmt_ms(ms: float | None) -> str:
    if ms is None:
        return ""
    return f"{ms:.0f} ms" if ms < 10_000 else f"{ms / 1000:.1f} s"


def _fmt_metadata(metadata: dict[str, MetadataValue]) -> str:
    text = ", ".join(f"{k}={v.value}" for k, v in metadata.items())
    return text if len(text) <= _MAX_METADATA else text[: _MAX_METADATA - 1] + "…"


class RunProgress:
    """An event listener printing one line per finished step, then a summary table."""

    def __init__(self, console: Console, total_steps: int) -> None:
        self.console = console
        self.total = total_steps
        self.done = 0
        self._lock = threading.Lock()
        self._started = time.perf_counter()
        self._width = 24

    def __call__(self, event: RunEvent) -> None:
        """Print progress for ``event`` (called by the run's event log)."""
        kind = event.kind
        if kind not in (
            EventKind.STEP_SUCCESS,
            EventKind.STEP_FAILURE,
            EventKind.STEP_SKIPPED,
            EventKind.STEP_UP_FOR_RETRY,
        ):
            return
        with self._lock:
            if kind is not EventKind.STEP_UP_FOR_RETRY:
                self.done += 1
            counter = f"[{self.done}/{self.total}]"
            name = (event.step_key or "").ljust(self._width)
            if kind is EventKind.STEP_SUCCESS:
                detail = _fmt_ms(event.duration_ms)
                mark = self.console.mark("ok")
            elif kind is EventKind.STEP_FAILURE:
                detail = f"{_fmt_ms(event.duration_ms)}  {event.message}"
                mark = self.console.mark("fail")
            elif kind is EventKind.STEP_SKIPPED:
                detail = event.message
                mark = self.console.mark("skip")
            else:
                detail = event.message
                mark = self.console.mark("retry")
            self.console.line(f"  {mark} {counter:>9} {name} {detail}".rstrip())

    def summary(self, result: MaterializeResult) -> None:
        """Print the per-asset table and the run's outcome, with failing tracebacks."""
        status: dict[str, str] = {}
        duration: dict[str, str] = {}
        metadata: dict[str, str] = {}
        for event in result.events:
            key = event.asset_key
            if key is None:
                continue
            if event.kind is EventKind.STEP_SUCCESS:
                status[key] = "success"
                duration[key] = _fmt_ms(event.duration_ms)
            elif event.kind is EventKind.STEP_FAILURE:
                status[key] = "FAILED"
                duration[key] = _fmt_ms(event.duration_ms)
            elif event.kind is EventKind.STEP_SKIPPED:
                status[key] = "skipped"
            elif event.kind is EventKind.ASSET_MATERIALIZATION:
                shown = dict(event.metadata)
                if event.data_version:
                    shown["data_version"] = MetadataValue.text(event.data_version)
                metadata[key] = _fmt_metadata(shown)
        rows = [[k, s, duration.get(k, ""), metadata.get(k, "")] for k, s in status.items()]
        self.console.line()
        self.console.line(format_table(["asset", "status", "duration", "metadata"], rows))
        for failure in result.failures:
            if failure.error is not None:
                self.console.line()
                self.console.line(f"{failure.step_key} failed:")
                self.console.line(failure.error.traceback.rstrip() or failure.error.message)
        counts = {s: list(status.values()).count(s) for s in ("success", "FAILED", "skipped")}
        elapsed = time.perf_counter() - self._started
        outcome = "SUCCESS" if result.success else "FAILURE"
        self.console.line()
        self.console.line(
            f"run {result.run_id} {outcome} in {elapsed:.2f} s: {counts['success']} "
            f"materialized, {counts['FAILED']} failed, {counts['skipped']} skipped"
        )
