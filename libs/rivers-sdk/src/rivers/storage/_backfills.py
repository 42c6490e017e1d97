"""Stored backfills and their progress."""

from __future__ import annotations

import time
from typing import Any

from rivers.errors import StorageError
from rivers.storage._base import StorageBase
from rivers.storage.records import BackfillRecord, BackfillState, RunStatus

__all__ = ["BACKFILL_TAG", "BackfillStore"]

_FIELDS = "* OMIT id"
#: The run tag naming the backfill a run belongs to (indexed).
BACKFILL_TAG = "rivers/backfill"

# A queued run never started, so it is canceled outright (a claim only takes QUEUED runs);
# one in flight is asked to stop, as request_run_cancel does, and its executor finishes it.
_CANCEL = f"""
BEGIN;
LET $now = $at;
LET $canceled = (UPDATE type::record('backfill', $id) SET status = 'CANCELED', end_time = $now
    WHERE status IN ['REQUESTED', 'IN_PROGRESS'] RETURN VALUE backfill_id);
IF $canceled != [] {{
    UPDATE run SET status = 'CANCELED', end_time = $now,
        failure_reason = 'canceled with its backfill before it started'
        WHERE tags.`{BACKFILL_TAG}` = $id AND status = 'QUEUED' RETURN NONE;
    UPDATE run SET status = 'CANCELING' WHERE tags.`{BACKFILL_TAG}` = $id
        AND status IN ['STARTING', 'STARTED'] RETURN NONE;
}};
COMMIT;
SELECT {_FIELDS} FROM type::record('backfill', $id);
"""


class BackfillStore(StorageBase):
    """Typed access to backfills."""

    def add_backfill(self, backfill: BackfillRecord) -> None:
        """Store a new backfill.

        Raises:
            StorageError: a backfill with that id exists already.
        """
        self._q(
            "CREATE type::record('backfill', $id) CONTENT $data RETURN NONE;",
            {
                "id": backfill.backfill_id,
                "data": backfill.model_dump(mode="json", exclude_none=True),
            },
        )

    def get_backfill(self, backfill_id: str) -> BackfillRecord | None:
        """The stored backfill, or ``None``."""
        (rows,) = self._q(
            f"SELECT {_FIELDS} FROM type::record('backfill', $id);", {"id": backfill_id}
        )
        return BackfillRecord.model_validate(rows[0]) if rows else None

    def get_backfills(
        self, *, location_id: str | None = None, limit: int = 50
    ) -> list[BackfillRecord]:
        """Backfills, newest first."""
        where = " WHERE location_id = $loc" if location_id is not None else ""
        (rows,) = self._q(
            f"SELECT {_FIELDS} FROM backfill{where} ORDER BY created_at DESC LIMIT $limit;",
            {"loc": location_id, "limit": int(limit)},
        )
        return [BackfillRecord.model_validate(r) for r in rows]

    def claim_requested_backfills(
        self, location_id: str, *, limit: int = 1
    ) -> list[BackfillRecord]:
        """Atomically move up to ``limit`` requested backfills of a location to IN_PROGRESS."""
        (candidates,) = self._q(
            "SELECT backfill_id, created_at FROM backfill WHERE location_id = $loc AND "
            "status = 'REQUESTED' ORDER BY created_at LIMIT $limit;",
            {"loc": location_id, "limit": int(limit)},
        )
        claimed: list[BackfillRecord] = []
        for row in candidates:
            (rows,) = self._q(
                "UPDATE type::record('backfill', $id) SET status = 'IN_PROGRESS' "
                "WHERE status = 'REQUESTED' RETURN AFTER;",
                {"id": row["backfill_id"]},
            )
            claimed.extend(BackfillRecord.model_validate(r) for r in rows)
        return claimed

    def update_backfill(
        self,
        backfill_id: str,
        *,
        status: BackfillState | None = None,
        end_time: float | None = None,
        runs_total: int | None = None,
    ) -> BackfillRecord:
        """Change a backfill's status, end time or planned run count.

        Raises:
            StorageError: no such backfill.
        """
        changes: dict[str, Any] = {}
        if status is not None:
            changes["status"] = str(status)
        if end_time is not None:
            changes["end_time"] = end_time
        if runs_total is not None:
            changes["runs_total"] = runs_total
        return self._update(backfill_id, "MERGE $changes", {"changes": changes})

    def record_backfill_run(
        self,
        backfill_id: str,
        *,
        run_id: str,
        succeeded: int,
        failed_partitions: dict[str, str],
    ) -> BackfillRecord:
        """Add one finished run's outcome to a backfill's counters, atomically.

        ``succeeded`` counts the run's partitions that succeeded; ``failed_partitions`` maps
        each failed partition key to its reason.
        """
        return self._update(
            backfill_id,
            "SET succeeded += $ok, failed += $nfailed, runs_done += 1, run_ids += $run, "
            "failed_partitions = object::extend(failed_partitions, $failed)",
            {
                "ok": succeeded,
                "nfailed": len(failed_partitions),
                "run": run_id,
                "failed": failed_partitions,
            },
        )

    def cancel_backfill(self, backfill_id: str) -> BackfillRecord:
        """Cancel a backfill that has not finished; returns it as stored afterwards.

        In one transaction the backfill becomes ``CANCELED`` (a final state: the backfill
        daemon creates no more runs for it), its queued runs become ``CANCELED`` and its
        starting or running runs ``CANCELING`` (their executors stop them). A backfill that
        already finished is returned unchanged, so the caller can tell from its status.

        Raises:
            StorageError: no such backfill.
        """
        result = self._q(_CANCEL, {"id": backfill_id, "at": time.time()})
        rows = result[-1]
        if not rows:
            raise StorageError(f"no backfill {backfill_id!r}")
        return BackfillRecord.model_validate(rows[0])

    def get_backfill_run_statuses(self, backfill_id: str) -> dict[str, RunStatus]:
        """The status of every run of a backfill (runs tagged ``rivers/backfill=<id>``)."""
        (rows,) = self._q(
            f"SELECT run_id, status FROM run WHERE tags.`{BACKFILL_TAG}` = $id;",
            {"id": backfill_id},
        )
        return {r["run_id"]: RunStatus(r["status"]) for r in rows}

    def _update(self, backfill_id: str, clause: str, variables: dict[str, Any]) -> BackfillRecord:
        (rows,) = self._q(
            f"UPDATE type::record('backfill', $id) {clause} RETURN AFTER;",
            {"id": backfill_id, **variables},
        )
        if not rows:
            raise StorageError(f"no backfill {backfill_id!r}")
        return BackfillRecord.model_validate(rows[0])
