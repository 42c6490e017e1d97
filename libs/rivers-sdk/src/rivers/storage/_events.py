"""Run events (append-only, gap-free global sequence), asset records and asset failures.

Events get their ``seq`` from a counter row updated in the same transaction as the insert, so
sequence numbers are dense and commit in order: a reader polling ``seq > last`` never misses
one (SURREALDB-NOTES.md, "Noticing new rows"). In that same transaction, materialization
events update the latest asset record of their asset (and partition) and clear its failure;
``ASSET_FAILED`` events record the failure. So an asset partition's status is always the
outcome of its latest attempt.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rivers.execution.events import EventKind, RunEvent
from rivers.storage._base import StorageBase
from rivers.storage.records import AssetRecord

__all__ = ["EventStore"]

_STORE_EVENTS = """
BEGIN;
LET $n = array::len($events);
LET $end = (UPSERT counter:run_event SET n = (n ?? 0) + $n RETURN AFTER)[0].n;
LET $base = $end - $n;
INSERT INTO run_event $events.map(|$e, $i| object::extend($e, {
    id: $base + $i + 1, seq: $base + $i + 1, location_id: $loc
})) RETURN NONE;
INSERT INTO asset_record $records.map(|$r| object::extend($r, {
    id: [$loc, $r.asset_key, $r.partition_key], location_id: $loc, event_seq: $base + $r.index + 1
}).remove('index')) ON DUPLICATE KEY UPDATE
    run_id = $input.run_id, event_seq = $input.event_seq, timestamp = $input.timestamp,
    data_version = $input.data_version, metadata = $input.metadata RETURN NONE;
INSERT INTO asset_failure $failures.map(|$f| object::extend($f, {
    id: [$loc, $f.asset_key, $f.partition_key], location_id: $loc, event_seq: $base + $f.index + 1
}).remove('index')) ON DUPLICATE KEY UPDATE
    run_id = $input.run_id, event_seq = $input.event_seq, timestamp = $input.timestamp,
    reason = $input.reason RETURN NONE;
FOR $c IN $cleared {
    DELETE type::record('asset_failure', [$loc, $c.asset_key, $c.partition_key]);
};
COMMIT;
RETURN $base;
"""

_OUTCOMES = (EventKind.ASSET_MATERIALIZATION, EventKind.ASSET_FAILED)
_EVENT_FIELDS = "* OMIT id, location_id"
_RECORD_FIELDS = "* OMIT id"


class EventStore(StorageBase):
    """Typed access to run events and asset records."""

    def store_events(self, events: Sequence[RunEvent], *, location_id: str) -> list[RunEvent]:
        """Append ``events`` in one transaction; returns them with their ``seq`` set.

        ``ASSET_MATERIALIZATION`` events also become the latest asset record of their asset
        and partition (clearing a recorded failure), and ``ASSET_FAILED`` events record one,
        in the same transaction.
        """
        if not events:
            return []
        rows: list[dict[str, Any]] = []
        # The last outcome per (asset, partition) in this batch decides its status.
        outcome: dict[tuple[str, str | None], tuple[int, RunEvent]] = {}
        for index, event in enumerate(events):
            rows.append(event.model_dump(mode="json", exclude_none=True, exclude={"seq"}))
            if event.asset_key and event.kind in _OUTCOMES:
                outcome[(event.asset_key, event.partition_key)] = (index, event)
        records: list[dict[str, Any]] = []
        failures: list[dict[str, Any]] = []
        cleared: list[dict[str, Any]] = []
        for (asset_key, partition_key), (index, event) in outcome.items():
            base_row = {"index": index, "asset_key": asset_key, "partition_key": partition_key}
            if event.kind is EventKind.ASSET_MATERIALIZATION:
                record = {
                    **base_row,
                    "run_id": event.run_id,
                    "timestamp": event.timestamp,
                    "data_version": event.data_version,
                    "metadata": rows[index].get("metadata", {}),
                }
                records.append({k: v for k, v in record.items() if v is not None})
                cleared.append({"asset_key": asset_key, "partition_key": partition_key})
            else:
                failure = {
                    **base_row,
                    "run_id": event.run_id,
                    "timestamp": event.timestamp,
                    "reason": event.message,
                }
                failures.append({k: v for k, v in failure.items() if v is not None})
        result = self._q(
            _STORE_EVENTS,
            {
                "events": rows,
                "records": records,
                "failures": failures,
                "cleared": [{k: v for k, v in c.items() if v is not None} for c in cleared],
                "loc": location_id,
            },
        )
        base = int(result[-1])
        return [e.model_copy(update={"seq": base + i + 1}) for i, e in enumerate(events)]

    def get_run_events(
        self,
        run_id: str,
        *,
        after_seq: int = 0,
        limit: int | None = None,
        kinds: Iterable[EventKind] | None = None,
    ) -> list[RunEvent]:
        """A run's events in order, optionally after a sequence number and of some kinds."""
        variables: dict[str, Any] = {"run": run_id, "after": after_seq}
        where = "run_id = $run AND seq > $after"
        if kinds is not None:
            where += " AND kind IN $kinds"
            variables["kinds"] = [str(k) for k in kinds]
        tail = ""
        if limit is not None:
            tail = " LIMIT $limit"
            variables["limit"] = int(limit)
        (rows,) = self._q(
            f"SELECT {_EVENT_FIELDS} FROM run_event WHERE {where} ORDER BY seq{tail};", variables
        )
        return [RunEvent.model_validate(r) for r in rows]

    def get_events_after(self, seq: int, *, limit: int = 1000) -> list[RunEvent]:
        """Events of every run with a sequence number above ``seq``, in order (for tailing)."""
        (rows,) = self._q(
            f"SELECT {_EVENT_FIELDS} FROM run_event WHERE seq > $after ORDER BY seq LIMIT $limit;",
            {"after": seq, "limit": int(limit)},
        )
        return [RunEvent.model_validate(r) for r in rows]

    def last_event_seq(self) -> int:
        """The highest sequence number written so far (0 for an empty store)."""
        (value,) = self._q("RETURN counter:run_event.n;")
        return int(value or 0)

    def get_materializations(
        self, location_id: str, asset_key: str, *, limit: int = 100
    ) -> list[RunEvent]:
        """Materialization history of one asset, newest first."""
        (rows,) = self._q(
            f"SELECT {_EVENT_FIELDS} FROM run_event WHERE location_id = $loc AND "
            "asset_key = $key AND kind = $kind ORDER BY seq DESC LIMIT $limit;",
            {
                "loc": location_id,
                "key": asset_key,
                "kind": str(EventKind.ASSET_MATERIALIZATION),
                "limit": int(limit),
            },
        )
        return [RunEvent.model_validate(r) for r in rows]

    # --- asset records -------------------------------------------------------------------

    def get_asset_record(
        self, location_id: str, asset_key: str, partition_key: str | None = None
    ) -> AssetRecord | None:
        """The latest materialization of one asset (partition), or ``None``."""
        (rows,) = self._q(
            f"SELECT {_RECORD_FIELDS} FROM type::record('asset_record', [$loc, $key, $part]);",
            {"loc": location_id, "key": asset_key, "part": partition_key},
        )
        return AssetRecord.model_validate(rows[0]) if rows else None

    def get_asset_records(
        self, location_id: str, asset_keys: Iterable[str] | None = None
    ) -> list[AssetRecord]:
        """Latest materializations of a location's assets (all, or the given keys)."""
        if asset_keys is None:
            (rows,) = self._q(
                f"SELECT {_RECORD_FIELDS} FROM asset_record WHERE location_id = $loc "
                "ORDER BY asset_key, partition_key;",
                {"loc": location_id},
            )
        else:
            (rows,) = self._q(
                f"SELECT {_RECORD_FIELDS} FROM asset_record WHERE location_id = $loc AND "
                "asset_key IN $keys ORDER BY asset_key, partition_key;",
                {"loc": location_id, "keys": sorted(set(asset_keys))},
            )
        return [AssetRecord.model_validate(r) for r in rows]

    # --- partition status ----------------------------------------------------------------

    def get_asset_partition_outcomes(
        self, location_id: str, asset_key: str
    ) -> tuple[list[str | None], dict[str | None, str]]:
        """Partitions of an asset whose latest attempt succeeded, and those that failed.

        Returns ``(materialized, failed)``: keys whose latest outcome is a materialization
        (``None`` stands for an unpartitioned asset) and a mapping of failed keys to reasons.
        Two indexed queries, whatever the number of partitions.
        """
        materialized, failures = self._q(
            "SELECT VALUE partition_key FROM asset_record WHERE location_id = $loc AND "
            "asset_key = $key; SELECT partition_key, reason FROM asset_failure WHERE "
            "location_id = $loc AND asset_key = $key;",
            {"loc": location_id, "key": asset_key},
        )
        failed = {row.get("partition_key"): row["reason"] for row in failures}
        return [k for k in materialized if k not in failed], failed
