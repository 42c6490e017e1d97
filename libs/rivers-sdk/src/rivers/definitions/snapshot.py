"""The definitions snapshot: pure data describing a code location, shared by every service.

Planner, daemon and UI never import user code; they work from this snapshot, which the code
server serves as a proto message (``to_proto`` / ``from_proto``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict

from rivers.automation.condition import AnyCondition
from rivers.definitions.metadata import MetadataValue
from rivers.definitions.retry import RetryPolicy
from rivers.partitions import BackfillStrategy, PartitionMapping, PartitionsDefinition

if TYPE_CHECKING:
    from rivers._proto.rivers.v1 import definitions_pb2

__all__ = [
    "AssetSnap",
    "DefinitionsSnapshot",
    "DependencySnap",
    "GraphNodeSnap",
    "GraphSnap",
    "JobSnap",
    "ScheduleSnap",
    "SensorSnap",
]

_FROZEN = ConfigDict(frozen=True, extra="forbid", defer_build=True)
_DERIVED = ("snapshot_id", "assets_by_key")


def _sorted(value: dict[str, Any]) -> dict[str, Any]:
    """Mappings are kept in key order so the snapshot's JSON (and id) is canonical."""
    return value if list(value) == sorted(value) else dict(sorted(value.items()))


_SortedStrDict = Annotated[dict[str, str], AfterValidator(_sorted)]
_SortedMetadata = Annotated[dict[str, MetadataValue], AfterValidator(_sorted)]


class DependencySnap(BaseModel):
    """One resolved upstream edge of an asset."""

    model_config = _FROZEN

    asset_key: str
    role: Literal["input", "dep"]
    arg_name: str | None = None
    metadata: _SortedMetadata = {}
    # The effective mapping (explicit, or the default for the two definitions); None when
    # either side is unpartitioned.
    partition_mapping: PartitionMapping | None = None


class GraphNodeSnap(BaseModel):
    """One task of a graph asset, as the planner needs it."""

    model_config = _FROZEN

    node_id: str
    task: str
    kind: Literal["call", "map"] = "call"
    upstream: tuple[str, ...] = ()
    streams: tuple[str, ...] = ()
    assets: tuple[str, ...] = ()
    is_async: bool = False
    executor: str | None = None
    max_concurrency: int | None = None


class GraphSnap(BaseModel):
    """The task graph of a graph asset; ``output`` is the node whose value is the asset."""

    model_config = _FROZEN

    nodes: tuple[GraphNodeSnap, ...]
    output: str


class AssetSnap(BaseModel):
    """One asset as the control plane sees it."""

    model_config = _FROZEN

    key: str
    kind: Literal["asset", "external", "graph", "multi"] = "asset"
    step_key: str
    group: str = "default"
    description: str | None = None
    dependencies: tuple[DependencySnap, ...] = ()
    code_version: str | None = None
    tags: _SortedStrDict = {}
    metadata: _SortedMetadata = {}
    is_async: bool = False
    has_self_dependency: bool = False
    config_schema: dict[str, Any] | None = None
    retry_policy: RetryPolicy | None = None
    executor: str | None = None
    partitions_def: PartitionsDefinition | None = None
    backfill_strategy: BackfillStrategy | None = None
    pools: tuple[str, ...] = ()
    pool_slots: int = 1
    graph: GraphSnap | None = None
    automation_condition: AnyCondition | None = None

    @property
    def upstream_keys(self) -> tuple[str, ...]:
        """Keys of every upstream asset, inputs and ordering deps alike."""
        return tuple(d.asset_key for d in self.dependencies)


class JobSnap(BaseModel):
    """A named selection of assets."""

    model_config = _FROZEN

    name: str
    selection: tuple[str, ...] = ()
    description: str | None = None
    tags: _SortedStrDict = {}


class ScheduleSnap(BaseModel):
    """A schedule: runs a target on a cron (``rs.Schedule``)."""

    model_config = _FROZEN

    name: str
    cron: str
    timezone: str = "UTC"
    selection: tuple[str, ...] = ()
    job_name: str | None = None
    description: str | None = None
    tags: _SortedStrDict = {}
    run_config: dict[str, Any] | None = None
    partition_key: str | None = None
    default_status: Literal["RUNNING", "STOPPED"] = "STOPPED"
    has_function: bool = False
    max_catchup_ticks: int = 5


class SensorSnap(BaseModel):
    """A sensor: user code evaluated every ``minimum_interval`` (``rs.Sensor``)."""

    model_config = _FROZEN

    name: str
    selection: tuple[str, ...] = ()
    job_name: str | None = None
    description: str | None = None
    minimum_interval: float = 30.0
    default_status: Literal["RUNNING", "STOPPED"] = "STOPPED"
    is_async: bool = False


class DefinitionsSnapshot(BaseModel):
    """Everything one code location defines; identified by a content hash."""

    model_config = _FROZEN

    location: str
    assets: tuple[AssetSnap, ...] = ()
    jobs: tuple[JobSnap, ...] = ()
    schedules: tuple[ScheduleSnap, ...] = ()
    sensors: tuple[SensorSnap, ...] = ()

    @cached_property
    def snapshot_id(self) -> str:
        """A stable id: the SHA-256 of the snapshot's canonical JSON (first 24 hex digits).

        Canonical because every mapping field is stored sorted (see ``_sorted``), so equal
        snapshots get equal ids whatever order their dicts were written in.
        """
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:24]

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy with ``update`` applied; derived values are recomputed, never copied stale."""
        copy = super().model_copy(update=update, deep=deep)
        for name in _DERIVED:
            copy.__dict__.pop(name, None)
        return copy

    @cached_property
    def assets_by_key(self) -> dict[str, AssetSnap]:
        """Assets indexed by key."""
        return {a.key: a for a in self.assets}

    def to_proto(self) -> definitions_pb2.DefinitionsSnapshot:
        """Convert to the wire message."""
        from rivers._convert.definitions import snapshot_to_proto

        return snapshot_to_proto(self)

    @staticmethod
    def from_proto(msg: definitions_pb2.DefinitionsSnapshot) -> DefinitionsSnapshot:
        """Build from the wire message."""
        from rivers._convert.definitions import snapshot_from_proto

        return snapshot_from_proto(msg)
