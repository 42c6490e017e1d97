"""What automation evaluation remembers between ticks, and what it reads about assets."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from rivers.automation._keyset import EMPTY, Key, KeySet

__all__ = ["AssetConditionState", "AssetStatus", "AutomationState", "LocationStatus"]

_STATE_VERSION = 1


@dataclass
class AssetConditionState:
    """One asset's condition state after a tick.

    Attributes:
        fingerprint: identifies the condition tree; a changed condition starts afresh.
        evaluated_at: POSIX seconds of the evaluation (cron leaves compare ticks with it).
        requested: the keys requested on that tick (``newly_requested()`` on the next one).
        nodes: true sets of stateful nodes (``since``, ``newly_true``) by node path.
    """

    fingerprint: str
    evaluated_at: float
    requested: frozenset[Key] = frozenset()
    nodes: dict[str, KeySet] = field(default_factory=dict)

    def node(self, path: str) -> KeySet:
        """The stored true set of the node at ``path`` (empty when none)."""
        return self.nodes.get(path, EMPTY)


@dataclass
class AutomationState:
    """Everything automation evaluation keeps between ticks; the daemon persists it in KV.

    Attributes:
        cursor: the highest asset-record ``event_seq`` already read from storage (``None``
            before the first load): records above it are "newly updated".
        assets: per asset key, its condition state.
    """

    cursor: int | None = None
    assets: dict[str, AssetConditionState] = field(default_factory=dict)

    def to_json(self) -> str:
        """Compact JSON (stable: keys sorted)."""
        data: dict[str, Any] = {
            "version": _STATE_VERSION,
            "cursor": self.cursor,
            "assets": {
                key: {
                    "fingerprint": s.fingerprint,
                    "evaluated_at": s.evaluated_at,
                    "requested": KeySet(s.requested).to_data()["keys"],
                    "nodes": {path: v.to_data() for path, v in sorted(s.nodes.items()) if v},
                }
                for key, s in sorted(self.assets.items())
            },
        }
        return json.dumps(data, separators=(",", ":"), sort_keys=True)

    @staticmethod
    def from_json(text: str | bytes) -> AutomationState:
        """Read what :meth:`to_json` wrote.

        Raises:
            ValueError: not JSON written by ``to_json`` (or of an unknown version).
        """
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("version") != _STATE_VERSION:
            raise ValueError("not an automation state (or one of an unknown version)")
        cursor = data.get("cursor")
        assets = {
            key: AssetConditionState(
                fingerprint=str(s["fingerprint"]),
                evaluated_at=float(s["evaluated_at"]),
                requested=frozenset(s.get("requested", ())),
                nodes={path: KeySet.from_data(v) for path, v in s.get("nodes", {}).items()},
            )
            for key, s in data.get("assets", {}).items()
        }
        return AutomationState(cursor=None if cursor is None else int(cursor), assets=assets)


@dataclass
class AssetStatus:
    """What storage says about one asset's partitions (``None`` for an unpartitioned one).

    Attributes:
        materialized: key -> POSIX time of its latest materialization.
        updated: keys materialized since the previous tick.
        in_progress: keys targeted by queued or running runs.
        failed: keys whose latest attempt failed.
    """

    materialized: dict[Key, float] = field(default_factory=dict)
    updated: set[Key] = field(default_factory=set)
    in_progress: set[Key] = field(default_factory=set)
    failed: set[Key] = field(default_factory=set)


_NO_STATUS = AssetStatus()


@dataclass
class LocationStatus:
    """The status of a location's assets, as one tick of evaluation reads it."""

    assets: dict[str, AssetStatus] = field(default_factory=dict)

    def get(self, asset_key: str) -> AssetStatus:
        """The status of ``asset_key`` (an empty one, not to be modified, when unknown)."""
        return self.assets.get(asset_key, _NO_STATUS)

    def edit(self, asset_key: str) -> AssetStatus:
        """The status of ``asset_key``, created when unknown (for loaders)."""
        status = self.assets.get(asset_key)
        if status is None:
            status = self.assets[asset_key] = AssetStatus()
        return status

    def materialize(
        self, asset_key: str, partition_key: Key, timestamp: float, *, new: bool = True
    ) -> None:
        """Record a materialization; ``new`` marks it updated since the previous tick."""
        status = self.edit(asset_key)
        status.materialized[partition_key] = timestamp
        status.failed.discard(partition_key)
        if new:
            status.updated.add(partition_key)

    def start_tick(self) -> None:
        """Forget what was new on the previous tick (before loading this tick's changes)."""
        for status in self.assets.values():
            if status.updated:
                status.updated = set()
