"""``GET /api/graph``: the asset lineage of the code locations, for the UI's graph page.

Built from each location's current snapshot (cached by id) and a fixed number of bulk reads
per location, whatever its size: the latest records of its unpartitioned assets (by key, or
by one scan of the location's records for a large location), the record
stamps of its partitioned ones (only if it has any), the assets of its queued or running runs,
and its latest failed runs. No query is made per asset.

A node's status is ``running`` (a queued or running run targets it), else ``failed`` (one of
the location's latest failed runs targeted it and it has not been materialized since that
run was created), else ``materialized`` (it has a materialization; a partitioned asset: any
partition), else ``missing``; a materialized unpartitioned asset whose unpartitioned upstream
was materialized after it is ``stale`` (partitioned assets would need a per-partition
comparison, so they are never stale here). ``level`` is the longest path from a root, so a
left-to-right layout puts every asset right of all its upstreams; ``order`` is the asset's row
within its level, chosen by a few barycenter sweeps so that edges cross less. Node ids are
``<location>:<key>``; a dependency on a key the same location does not define resolves to the
location that does (an external asset of another location), and is dropped if none does.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, defaultdict, deque
from typing import TYPE_CHECKING, Any

from rivers.storage.records import RunStatus
from rivers.telemetry import get_logger

if TYPE_CHECKING:
    from rivers.definitions.snapshot import DefinitionsSnapshot
    from rivers.storage.records import LocationRecord
    from rivers_ui.catalog import Catalog

__all__ = ["FAILED_RUNS_SCANNED", "KEYED_READ_LIMIT", "LAYOUT_SWEEPS", "asset_graph"]

log = get_logger("rivers.ui")

#: Above this many unpartitioned assets their records are read by one location scan.
KEYED_READ_LIMIT = 500
#: Failed runs per location read to mark assets failed (older failures are not shown).
FAILED_RUNS_SCANNED = 200
#: Layouts kept, by the (location, snapshot id) pairs they were computed for.
LAYOUT_CACHE = 8
_LAYOUTS: OrderedDict[tuple[tuple[str, str | None], ...], dict[str, tuple[int, int]]] = (
    OrderedDict()
)
_LAYOUT_LOCK = threading.Lock()
#: Barycenter sweeps (down then up) of the layout; each is O(edges) plus a sort per level.
LAYOUT_SWEEPS = 4


def _node_id(location: str, key: str) -> str:
    return f"{location}:{key}"


def _location_nodes(
    catalog: Catalog, location: LocationRecord, snapshot: DefinitionsSnapshot
) -> list[dict[str, Any]]:
    storage = catalog.storage
    plain = [a.key for a in snapshot.assets if a.partitions_def is None]
    partitioned = {a.key for a in snapshot.assets if a.partitions_def is not None}
    latest: dict[str, tuple[float, str | None]] = {}
    if len(plain) > KEYED_READ_LIMIT:
        # ``asset_key IN $keys`` gets slow with thousands of keys (~0.7 s for 5,000): read
        # the location's (unpartitioned) records in one lean key-range scan instead.
        for key, stamp, run_id in storage.get_latest_record_runs(location.identity):
            latest[key] = (stamp, run_id)
    elif plain:
        for r in storage.get_asset_records(location.identity, plain):
            if r.partition_key is None:
                latest[r.asset_key] = (r.timestamp, r.run_id)
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
            "description": asset.description,
            "has_config": asset.config_schema is not None,
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
    # Levels and rows depend only on the snapshots shown: computed once per set of them.
    shape = tuple((loc.name, loc.snapshot_id) for loc in chosen)
    with _LAYOUT_LOCK:
        placed = _LAYOUTS.get(shape)
    if placed is None or len(placed) != len(nodes):
        levels = _levels(list(by_id), edges)
        for node in nodes:
            node["level"] = levels[node["id"]]
        _order(nodes, edges)
        placed = {node["id"]: (node["level"], node["order"]) for node in nodes}
        with _LAYOUT_LOCK:
            _LAYOUTS[shape] = placed
            while len(_LAYOUTS) > LAYOUT_CACHE:
                _LAYOUTS.popitem(last=False)
    else:
        for node in nodes:
            node["level"], node["order"] = placed[node["id"]]
    _mark_stale(by_id, edges)
    return {
        "nodes": nodes,
        "edges": [{"source": s, "target": t} for s, t in edges],
    }


def _mark_stale(by_id: dict[str, dict[str, Any]], edges: list[tuple[str, str]]) -> None:
    """Materialized unpartitioned assets with an upstream materialized after them: stale."""
    for source, target in edges:
        up, down = by_id[source], by_id[target]
        if down["status"] != "materialized" or up["partitioned"] or down["partitioned"]:
            continue
        if up["last_materialized_at"] is not None and (
            up["last_materialized_at"] > down["last_materialized_at"]
        ):
            down["status"] = "stale"


def _order(nodes: list[dict[str, Any]], edges: list[tuple[str, str]]) -> None:
    """Set each node's ``order`` (its row in its level) to reduce edge crossings.

    Rows start sorted by (location, group, key), so related assets sit together; then
    sweeps alternately sort each level by the mean row of its upstreams (going down) or its
    downstreams (going up), the classic barycenter heuristic; a node without neighbours on
    that side keeps its row. Rows are compared centred, since levels differ in height.
    """
    ordered = sorted(nodes, key=lambda n: (n["location"], n["group"], n["key"]))
    index = {node["id"]: i for i, node in enumerate(ordered)}
    ups: list[list[int]] = [[] for _ in ordered]
    downs: list[list[int]] = [[] for _ in ordered]
    for source, target in edges:
        ups[index[target]].append(index[source])
        downs[index[source]].append(index[target])
    by_level: dict[int, list[int]] = defaultdict(list)
    for i, node in enumerate(ordered):
        by_level[node["level"]].append(i)
    row = [0.0] * len(ordered)

    def place(level: list[int]) -> None:
        middle = (len(level) - 1) / 2
        for position, i in enumerate(level):
            row[i] = position - middle

    for level in by_level.values():
        place(level)
    levels = sorted(by_level)
    for sweep in range(LAYOUT_SWEEPS):
        down = sweep % 2 == 0
        links = ups if down else downs
        for number in levels if down else reversed(levels):
            level = by_level[number]
            centre = {}
            for i in level:
                linked = links[i]
                centre[i] = sum(map(row.__getitem__, linked)) / len(linked) if linked else row[i]
            level.sort(key=centre.__getitem__)
            place(level)
    for level in by_level.values():
        for position, i in enumerate(level):
            ordered[i]["order"] = position
