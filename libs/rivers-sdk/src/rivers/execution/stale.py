"""Failing runs whose run worker died: the sweep every monitor (daemon, gateway) runs.

Claiming a stale run is one conditional update in storage, so several monitors never fail a
run twice; each run failed gets a ``RUN_FAILURE`` event with the reason, so its event log (and
anyone watching it) shows why it ended.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from rivers.execution.events import EventKind, RunEvent
from rivers.telemetry import get_logger

if TYPE_CHECKING:
    from rivers.storage import Storage
    from rivers.storage.records import RunRecord

__all__ = ["fail_stale_runs"]

_DEFAULT_REASON = "the run worker stopped heartbeating"


def fail_stale_runs(
    storage: Storage,
    older_than: float,
    *,
    location_id: str | None = None,
    log: Any = None,
    log_prefix: str = "rivers",
) -> list[RunRecord]:
    """Fail the runs whose worker stopped heartbeating ``older_than`` seconds ago (blocking).

    Args:
        storage: the shared store.
        older_than: seconds without a heartbeat before a run is failed.
        location_id: only this location's runs (``None``: every location's).
        log: the caller's logger (default: ``rivers.execution.stale``).
        log_prefix: the service's prefix of the log events (``daemon``, ``ui``, ...):
            ``<prefix>.stale_run_failed`` and ``<prefix>.stale_run_event_failed``.

    Returns:
        The runs it failed.
    """
    logger = log if log is not None else get_logger("rivers.execution.stale")
    failed = storage.fail_stale_runs(older_than=older_than, location_id=location_id)
    for run in failed:
        reason = run.failure_reason or _DEFAULT_REASON
        logger.warning(
            f"{log_prefix}.stale_run_failed",
            run_id=run.run_id,
            location_id=run.location_id,
            reason=reason,
        )
        event = RunEvent(
            run_id=run.run_id,
            kind=EventKind.RUN_FAILURE,
            timestamp=run.end_time or time.time(),
            level="ERROR",
            message=reason,
        )
        try:
            storage.store_events([event], location_id=run.location_id)
        except Exception as exc:  # the run is failed either way; the event is a courtesy
            logger.warning(
                f"{log_prefix}.stale_run_event_failed", run_id=run.run_id, error=str(exc)
            )
    return failed
