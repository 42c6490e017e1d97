"""Stored backfills and their progress."""

from __future__ import annotations

from typing import Any

from rivers.errors import StorageError
from rivers.storage._base import StorageBase
from rivers.storage.records import BackfillRecord, BackfillState

__all__ = ["BackfillStore"]

_FIELDS = "* OMIT id"


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

    def _update(self, backfill_id: str, clause: str, variables: dict[str, Any]) -> BackfillRecord:
        (rows,) = self._q(
            f"UPDATE type::record('backfill', $id) {clause} RETURN AFTER;",
            {"id": backfill_id, **variables},
        )
        if not rows:
            raise StorageError(f"no backfill {backfill_id!r}")
        return BackfillRecord.model_validate(rows[0])
