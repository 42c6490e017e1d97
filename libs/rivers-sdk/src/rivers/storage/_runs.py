"""Runs and code locations."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from typing import Any

from rivers.errors import StorageError
from rivers.storage._base import StorageBase
from rivers.storage.records import LocationRecord, RunRecord, RunStatus, priority_from_tags

__all__ = ["RUN_FIELDS", "RunStore", "run_row"]

RUN_FIELDS = (
    "run_id, location_id, status, created_at, start_time, end_time, tags, job_name, "
    "selection, asset_keys, snapshot_id, failure_reason, config, partitions, heartbeat_at, "
    "worker, run_key, priority"
)


def run_row(run: RunRecord) -> dict[str, Any]:
    """A run as stored; the ``rivers/priority`` tag, when it holds an int, sets its priority."""
    data = run.model_dump(mode="json", exclude_none=True)
    tagged = priority_from_tags(run.tags)
    if tagged is not None:
        data["priority"] = tagged
    return data


class RunStore(StorageBase):
    """Typed access to runs and code locations."""

    # --- code locations --------------------------------------------------------------------

    def ensure_location(self, name: str, identity: str | None = None) -> LocationRecord:
        """The location called ``name``, created with a fresh identity if new.

        With ``identity`` given (as stamped by the operator), the row is keyed by it and a
        changed ``name`` renames the location without orphaning its history.
        """
        if identity is not None:
            (rows,) = self._q(
                "UPSERT type::record('location', $id) SET name = $name, identity = $id, "
                "created_at = created_at ?? $now RETURN AFTER;",
                {"id": identity, "name": name, "now": time.time()},
            )
            return LocationRecord.model_validate(rows[0])
        (rows,) = self._q("SELECT * FROM location WHERE name = $name;", {"name": name})
        if rows:
            return LocationRecord.model_validate(rows[0])
        new_id = str(uuid.uuid4())
        try:
            (rows,) = self._q(
                "CREATE type::record('location', $id) SET name = $name, identity = $id, "
                "created_at = $now;",
                {"id": new_id, "name": name, "now": time.time()},
            )
        except StorageError:
            # Another process created it first (unique index on name): read theirs.
            (rows,) = self._q("SELECT * FROM location WHERE name = $name;", {"name": name})
            if not rows:
                raise
        return LocationRecord.model_validate(rows[0])

    def get_location(self, identity: str) -> LocationRecord | None:
        """The location with ``identity``, or ``None``."""
        (rows,) = self._q("SELECT * FROM type::record('location', $id);", {"id": identity})
        return LocationRecord.model_validate(rows[0]) if rows else None

    def heartbeat_location(
        self,
        identity: str,
        *,
        endpoint: str | None,
        snapshot_id: str | None,
        server_id: str | None,
    ) -> None:
        """Record that the location's code server is alive, where, and serving what."""
        self._q(
            "UPDATE type::record('location', $id) SET endpoint = $endpoint, "
            "last_heartbeat = $now, snapshot_id = $snapshot, server_id = $server RETURN NONE;",
            {
                "id": identity,
                "endpoint": endpoint,
                "now": time.time(),
                "snapshot": snapshot_id,
                "server": server_id,
            },
        )

    def list_locations(self) -> list[LocationRecord]:
        """Every known code location, by name."""
        (rows,) = self._q("SELECT * FROM location ORDER BY name;")
        return [LocationRecord.model_validate(r) for r in rows]

    # --- runs ----------------------------------------------------------------------------

    def add_run(self, run: RunRecord) -> None:
        """Store a new run.

        Raises:
            StorageError: a run with that id, or with its ``run_key`` in its location, exists
                already.
        """
        self._q(
            "CREATE type::record('run', $id) CONTENT $data RETURN NONE;",
            {"id": run.run_id, "data": run_row(run)},
        )

    def update_run(
        self,
        run_id: str,
        *,
        status: RunStatus | None = None,
        start_time: float | None = None,
        end_time: float | None = None,
        failure_reason: str | None = None,
    ) -> RunRecord:
        """Change a run's status and timings; returns the updated run.

        Raises:
            StorageError: no such run.
        """
        changes: dict[str, Any] = {}
        if status is not None:
            changes["status"] = str(status)
        if start_time is not None:
            changes["start_time"] = start_time
        if end_time is not None:
            changes["end_time"] = end_time
        if failure_reason is not None:
            changes["failure_reason"] = failure_reason
        (rows,) = self._q(
            f"UPDATE type::record('run', $id) MERGE $changes RETURN {RUN_FIELDS};",
            {"id": run_id, "changes": changes},
        )
        if not rows:
            raise StorageError(f"no run {run_id!r}")
        return RunRecord.model_validate(rows[0])

    def request_run_cancel(self, run_id: str) -> bool:
        """Ask a queued or running run to stop; False when it has already finished.

        A ``QUEUED`` run is ``CANCELED`` at once (nothing executes it). For a started one the
        executor sees ``CANCELING`` within about half a second, stops launching steps,
        terminates running ones and marks the run ``CANCELED``.
        """
        (rows,) = self._q(
            "UPDATE type::record('run', $id) SET "
            "end_time = IF status = 'QUEUED' THEN $now ELSE end_time END, "
            "failure_reason = IF status = 'QUEUED' THEN 'canceled before it started' "
            "ELSE failure_reason END, "
            "status = IF status = 'QUEUED' THEN 'CANCELED' ELSE 'CANCELING' END "
            "WHERE status IN ['QUEUED', 'STARTING', 'STARTED'] RETURN AFTER;",
            {"id": run_id, "now": time.time()},
        )
        return bool(rows)

    def heartbeat_run(self, run_id: str, worker: str) -> None:
        """Record that ``worker`` is still executing the run."""
        self._q(
            "UPDATE type::record('run', $id) SET heartbeat_at = $now, worker = $worker "
            "RETURN NONE;",
            {"id": run_id, "now": time.time(), "worker": worker},
        )

    def fail_stale_runs(
        self, *, older_than: float, location_id: str | None = None
    ) -> list[RunRecord]:
        """Mark runs whose worker stopped heartbeating ``older_than`` seconds ago as failed.

        Returns the runs it failed (a monitor records why on each).
        """
        where = (
            "status IN ['STARTING', 'STARTED', 'CANCELING'] AND heartbeat_at != NONE "
            "AND heartbeat_at < $cutoff"
        )
        variables: dict[str, Any] = {"cutoff": time.time() - older_than, "now": time.time()}
        if location_id is not None:
            where += " AND location_id = $loc"
            variables["loc"] = location_id
        (rows,) = self._q(
            f"UPDATE run SET status = 'FAILURE', end_time = $now, failure_reason = "
            f"'the run worker stopped heartbeating (its code server or process died)' "
            f"WHERE {where} RETURN {RUN_FIELDS};",
            variables,
        )
        return [RunRecord.model_validate(r) for r in rows]

    def get_run(self, run_id: str) -> RunRecord | None:
        """The stored run, or ``None``."""
        (rows,) = self._q(f"SELECT {RUN_FIELDS} FROM type::record('run', $id);", {"id": run_id})
        return RunRecord.model_validate(rows[0]) if rows else None

    def get_runs(
        self,
        *,
        location_id: str | None = None,
        statuses: Iterable[RunStatus] | None = None,
        limit: int = 100,
        created_before: float | None = None,
    ) -> list[RunRecord]:
        """Runs, newest first; page with ``created_before`` set to the last ``created_at``."""
        where = []
        variables: dict[str, Any] = {"limit": int(limit)}
        if location_id is not None:
            where.append("location_id = $loc")
            variables["loc"] = location_id
        if statuses is not None:
            where.append("status IN $statuses")
            variables["statuses"] = [str(s) for s in statuses]
        if created_before is not None:
            where.append("created_at < $before")
            variables["before"] = created_before
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        (rows,) = self._q(
            f"SELECT {RUN_FIELDS} FROM run{clause} ORDER BY created_at DESC LIMIT $limit;",
            variables,
        )
        return [RunRecord.model_validate(r) for r in rows]
