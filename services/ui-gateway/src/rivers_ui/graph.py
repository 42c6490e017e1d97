"""``GET /api/graph``: the asset lineage of the code locations, for the UI's graph page.

Built from each location's current snapshot (cached by id) and a fixed number of bulk reads
per location, whatever its size: the latest records of its unpartitioned assets (by key, or
by one scan of the location's records for a large location), the record
stamps of its partitioned ones (only if it has any), the assets of its queued or running runs,
and its latest failed runs. No query is made per asset.

A node's status is ``running`` (a queued or running run targets it), else ``failed`` (one of
the location's latest failed runs targeted it and it has not been materialized since that
run was created), else ``materialized`` (it has a materialization; a partitioned asset: any
partition), else ``missing``. ``level`` is the longest path from a root, so a left-to-right
layout puts every asset right of all its upstreams. Node ids are ``<location>:<key>``;
a dependency on a key the same location does not define resolves to the location that does
(an external asset of another location), and is dropped if none does.
"""

from __future__ import annotations

from collections import defaultdict, deque
from typing import TYPE_CHECKING, Any

from rivers.storage.records import RunStatus
from rivers.telemetry import get_logger

if TYPE_CHECKING:
    from rivers.definitions.snapshot import DefinitionsSnapshot
    from rivers.storage.records import LocationRecord
    from rivers_ui.catalog import Catalog

__all__ = ["FAILED_RUNS_SCANNED", "KEYED_READ_LIMIT", "asset_graph"]

log = get_logger("rivers.ui")

#: Above this many unpartitioned assets their records are read by one location scan.
KEYED_READ_LIMIT = 500
#: Failed runs per location read to mark assets failed (older failures are not shown).
FAILED_RUNS_SCANNED = 200


def _node_id(location: str, key: str) -> str:
    return f"{location}:{key}"


def _location_nodes(
    catalog: Catalog, location: LocationRecord, snapshot: DefinitionsSnapshot
) -> list[dict[str, Any]]:
    storage = catalog.storage
    plain = [a.key for a in snapshot.assets if a.partitions_def is None]
    partitioned = {a.key for a in snapshot.assets if a.partitions_def is not None}
    if not plain:
        records = []
    elif len(plain) <= KEYED_READ_LIMIT:
        records = storage.get_asset_records(location.identity, plain)
    else:
        # ``asset_key IN $keys`` gets slow with thousands of keys (~0.7 s for 5,000): read
        # the location's records in one scan instead (partition records are filtered out).
        records = storage.get_asset_records(location.identity)
    latest: dict[str, tuple[float, str | None]] = {
        r.asset_key: (r.timestamp, r.run_id) for r in records if r.partition_key is None
    }
    counts: dict[str, int] = defaultdict(int)
    if partitioned:
        for key, _partition, _seq, stamp in storage.get_asset_record_stamps(location.identity):
            if key in partitioned:
                counts[key] += 1
                if key not in latest or stamp > latest[key][0]:
                    latest[key] = (stamp, None)
    running = storage.get_in_progress_partitions(location.identity)
    failed: dict[str, str] = {}
    failed_runs = storage.get_runs(
        location_id=location.identity, statuses=[RunStatus.FAILURE], limit=FAILED_RUNS_SCANNED
    )
    for run in failed_runs:  # newest first: the first failure naming an asset is its latest
        for key in run.asset_keys:
            if key in failed:
                continue
            done = latest.get(key)
            if done is None or done[0] < run.created_at:
                failed[key] = run.run_id
    nodes = []
    for asset in snapshot.assets:
        done = latest.get(asset.key)
        if asset.key in running:
            status = "running"
        elif asset.key in failed:
            status = "failed"
        elif done is not None:
            status = "materialized"
        else:
            status = "missing"
        node: dict[str, Any] = {
            "id": _node_id(location.name, asset.key),
            "key": asset.key,
            "location": location.name,
            "group": asset.group,
            "kind": asset.kind,
            "partitioned": asset.partitions_def is not None,
            "status": status,
            "last_materialized_at": None if done is None else done[0],
            "last_run_id": None if done is None else done[1],
            "failed_run_id": failed.get(asset.key),
            "upstream": [d.asset_key for d in asset.dependencies if d.asset_key != asset.key],
        }
        if asset.partitions_def is not None:
            node["materialized_partitions"] = counts.get(asset.key, 0)
        nodes.append(node)
    return nodes


def _levels(ids: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    """Longest path from a root to each node (Kahn's order; a cycle's nodes get level 0)."""
    downstream: dict[str, list[str]] = defaultdict(list)
    indegree = dict.fromkeys(ids, 0)
    for source, target in edges:
        downstream[source].append(target)
        indegree[target] += 1
    level = dict.fromkeys(ids, 0)
    ready = deque(i for i in ids if indegree[i] == 0)
    while ready:
        node = ready.popleft()
        for child in downstream[node]:
            level[child] = max(level[child], level[node] + 1)
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    return level


def asset_graph(catalog: Catalog, location: str | None = None) -> dict[str, Any]:
    """Nodes (with status and ``level``) and edges of one location, or of all; blocks.

    Raises:
        NotFound: no location has that name.
    """
    if location:
        chosen = [catalog.location(location)]
    else:
        chosen = [loc for loc in catalog.storage.list_locations() if loc.snapshot_id]
    nodes: list[dict[str, Any]] = []
    for loc in chosen:
        if loc.snapshot_id is None:
            continue
        snapshot = catalog.snapshot(loc.snapshot_id)
        if snapshot is None:
            log.warning("ui.snapshot_missing", location=loc.name, snapshot=loc.snapshot_id)
            continue
        nodes.extend(_location_nodes(catalog, loc, snapshot))
    by_id = {node["id"]: node for node in nodes}
    owners: dict[str, list[str]] = defaultdict(list)
    for node in nodes:
        owners[node["key"]].append(node["location"])
    edges: list[tuple[str, str]] = []
    for node in nodes:
        for key in node.pop("upstream"):
            source = _node_id(node["location"], key)
            if source not in by_id:
                elsewhere = owners.get(key)
                if not elsewhere:
                    continue
                source = _node_id(elsewhere[0], key)
            edges.append((source, node["id"]))
    levels = _levels(list(by_id), edges)
    for node in nodes:
        node["level"] = levels[node["id"]]
    return {
        "nodes": nodes,
        "edges": [{"source": s, "target": t} for s, t in edges],
    }
