"""Bulk reads for automation conditions: new asset records, and what runs are working on.

A run stores the partitions it covers as the selection it was launched with (see
``rivers.partitions.spec.selection_to_json``). Storage does not know partitions definitions,
so :meth:`AutomationStore.get_in_progress_partitions` turns a selection into keys only where
the selection lists them; an unexpanded single-dimension range is recorded as one entry
``"<start>...<end>"`` (split it with :func:`split_partition_range`), and a selection that
stands for every partition (or a multi-dimension range) as ``None``, the whole asset.
"""

from __future__ import annotations

import itertools
from typing import Any

from rivers.storage._base import StorageBase
from rivers.storage.records import AssetRecord

__all__ = [
    "PARTITION_RANGE_SEPARATOR",
    "AssetRecordStamp",
    "AutomationStore",
    "partition_range",
    "split_partition_range",
]

#: Separates the bounds of an unexpanded partition range in in-progress partitions.
PARTITION_RANGE_SEPARATOR = "..."

_PARTITION_TAG = "rivers/partition"
_RANGE_START_TAG = "rivers/partition_range_start"
_RANGE_END_TAG = "rivers/partition_range_end"
_WORKING = ("QUEUED", "STARTING", "STARTED")

#: ``(asset_key, partition_key, event_seq, timestamp)`` of one asset record.
AssetRecordStamp = tuple[str, str | None, int, float]

_STAMP = "[asset_key, partition_key, event_seq, timestamp]"
# Transposed, the answer is four columns: the SDK's (pure Python) CBOR decoder then skips one
# array header per row, ~40 % of its time on 365k rows (measured).
_STAMPS_AFTER = (
    f"RETURN array::transpose((SELECT VALUE {_STAMP} FROM asset_record WHERE "
    "location_id = $loc AND event_seq > $after ORDER BY event_seq{limit}));"
)
# A record id is [location, asset, partition]: a record-id range reads a location's records
# (or a slice of its assets) as one key-range scan, ~3x faster on v3 than fetching the same
# rows through an index. Bounds: [$loc] is below every id of the location, [$loc, {}] above
# (objects sort after strings), and [$loc, $a] below every id of asset $a. The engine (3.2.4)
# does not stop a record-id range at LIMIT, so it is paged by asset-key bounds, never LIMIT.
_STAMPS_RANGE = (
    f"RETURN array::transpose((SELECT VALUE {_STAMP} FROM asset_record:{{lo}}..{{hi}}));"
)

_RUNS_RANGE = (
    "RETURN array::transpose((SELECT VALUE [asset_key, timestamp, run_id] FROM "
    "asset_record:[$loc]..[$loc, {}] WHERE partition_key = NONE));"
)


def partition_range(start: str, end: str) -> str:
    """The in-progress entry standing for the inclusive range ``start`` to ``end``."""
    return f"{start}{PARTITION_RANGE_SEPARATOR}{end}"


def split_partition_range(entry: str | None) -> tuple[str, str] | None:
    """The ``(start, end)`` of a range entry of in-progress partitions, else ``None``."""
    if entry is None or PARTITION_RANGE_SEPARATOR not in entry:
        return None
    start, _, end = entry.partition(PARTITION_RANGE_SEPARATOR)
    return (start, end) if start and end else None


def _multi_keys(data: dict[str, Any]) -> set[str | None]:
    # A multi key lists values per dimension (sorted by dimension name); lists mean each value.
    dims = [values for _, values in data.get("dimensions") or ()]
    if not dims:
        return {None}
    return {"|".join(combo) for combo in itertools.product(*dims)}


def run_partitions(partitions: dict[str, Any] | None, tags: dict[str, str]) -> set[str | None]:
    """The partition entries one run covers (see the module docstring)."""
    if not partitions:
        if _PARTITION_TAG in tags:
            return {tags[_PARTITION_TAG]}
        if _RANGE_START_TAG in tags and _RANGE_END_TAG in tags:
            return {partition_range(tags[_RANGE_START_TAG], tags[_RANGE_END_TAG])}
        return {None}
    if "keys" in partitions:
        return {str(k) for k in partitions["keys"]}
    if "key" in partitions:
        return {str(partitions["key"])}
    if "partition_key" in partitions:
        key = partitions["partition_key"] or {}
        return {str(key["key"])} if key.get("key") is not None else _multi_keys(key)
    if "range" in partitions:
        bounds = partitions["range"] or {}
        if bounds.get("start") is not None and bounds.get("end") is not None:
            return {partition_range(str(bounds["start"]), str(bounds["end"]))}
    return {None}


class AutomationStore(StorageBase):
    """Reads the automation evaluator makes once per tick, in bulk."""

    def get_asset_records_after(
        self, location_id: str, after_seq: int, limit: int = 10_000
    ) -> list[AssetRecord]:
        """A location's asset records materialized after ``after_seq``, by ``event_seq``.

        Page by passing the last record's ``event_seq``; one indexed query per page.
        """
        (rows,) = self._q(
            "SELECT * OMIT id FROM asset_record WHERE location_id = $loc AND event_seq > $after "
            "ORDER BY event_seq LIMIT $limit;",
            {"loc": location_id, "after": int(after_seq), "limit": int(limit)},
        )
        return [AssetRecord.model_validate(r) for r in rows]

    def get_asset_record_stamps(
        self,
        location_id: str,
        *,
        after_seq: int = 0,
        limit: int | None = None,
        from_asset: str | None = None,
        to_asset: str | None = None,
    ) -> list[AssetRecordStamp]:
        """``(asset_key, partition_key, event_seq, timestamp)`` of a location's asset records.

        With ``after_seq`` or ``limit``: the records with ``event_seq > after_seq`` in
        ``event_seq`` order, at most ``limit`` (page by passing the last ``event_seq``); one
        indexed query. Otherwise every record of the location whose asset key is in
        ``[from_asset, to_asset)`` (``None``: unbounded), in asset then partition order, in
        one key-range scan: page a large location by asset-key bounds (consecutive pages
        sharing a bound cover every record exactly once, whatever keys exist).
        """
        if after_seq or limit is not None:
            if from_asset is not None or to_asset is not None:
                raise ValueError("asset bounds apply to a full read, not after_seq/limit")
            variables: dict[str, Any] = {"loc": location_id, "after": int(after_seq)}
            if limit is not None:
                variables["limit"] = int(limit)
            tail = "" if limit is None else " LIMIT $limit"
            (columns,) = self._q(_STAMPS_AFTER.format(limit=tail), variables)
        else:
            variables = {"loc": location_id}
            lo, hi = "[$loc]", "[$loc, {}]"
            if from_asset is not None:
                lo, variables["lo"] = "[$loc, $lo]", from_asset
            if to_asset is not None:
                hi, variables["hi"] = "[$loc, $hi]", to_asset
            (columns,) = self._q(_STAMPS_RANGE.format(lo=lo, hi=hi), variables)
        if not columns:
            return []
        keys, partitions, seqs, stamps = columns
        return list(zip(keys, partitions, seqs, stamps, strict=True))

    def get_latest_record_runs(self, location_id: str) -> list[tuple[str, float, str]]:
        """``(asset_key, timestamp, run_id)`` of a location's unpartitioned asset records.

        One key-range scan returning three transposed columns, without the records' metadata:
        what a status overview (the UI's asset graph) needs, ~3x cheaper to decode than
        :meth:`get_asset_records` on thousands of assets.
        """
        (columns,) = self._q(_RUNS_RANGE, {"loc": location_id})
        if not columns:
            return []
        keys, stamps, runs = columns
        return list(zip(keys, stamps, runs, strict=True))

    def get_last_asset_record_seq(self, location_id: str) -> int:
        """The highest ``event_seq`` of a location's asset records (0 when it has none).

        Read before a full :meth:`get_asset_record_stamps` it is the cursor to resume from:
        records written while pages were read are above it.
        """
        (rows,) = self._q(
            "SELECT VALUE event_seq FROM asset_record WHERE location_id = $loc "
            "ORDER BY event_seq DESC LIMIT 1;",
            {"loc": location_id},
        )
        return int(rows[0]) if rows else 0

    def get_in_progress_partitions(self, location_id: str) -> dict[str, set[str | None]]:
        """Asset key -> partition entries of the location's queued, starting or started runs.

        ``None`` stands for the whole asset (unpartitioned, or every partition); a range the
        run did not store as keys is one ``"<start>...<end>"`` entry (module docstring).
        """
        # One statement per status: each is an exact scan of the run_queue_order index (an IN
        # would scan the location's whole run history).
        results = self._q(
            "".join(
                "SELECT asset_keys, partitions, tags, queue_order, created_at FROM run WHERE "
                f"location_id = $loc AND status = '{status}' ORDER BY queue_order, created_at;"
                for status in _WORKING
            ),
            {"loc": location_id},
        )
        out: dict[str, set[str | None]] = {}
        for row in (row for rows in results for row in rows):
            entries = run_partitions(row.get("partitions"), row.get("tags") or {})
            for asset_key in row.get("asset_keys") or ():
                out.setdefault(asset_key, set()).update(entries)
        return out
