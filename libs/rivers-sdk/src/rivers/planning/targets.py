"""Planning runs on a definitions snapshot, without user code, and the queued runs they become.

The planner service, the daemon and the gateway all plan from snapshots: :func:`run_target`
plans a selection, :func:`run_partition_keys` validates the partitions of a run against it,
and :func:`queued_run_record` turns the result into the ``QUEUED`` run a code location's run
worker executes later (re-planning from its own definitions and the stored fields).
"""

from __future__ import annotations

import enum
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

from rivers.definitions.keys import key_name
from rivers.errors import RunConfigError
from rivers.partitions import PartitionError, PartitionKeys, PartitionsDefinition
from rivers.planning.plan import ExecutionPlan, build_plan

if TYPE_CHECKING:
    from rivers._proto.rivers.v1 import plan_pb2
    from rivers.definitions.snapshot import DefinitionsSnapshot
    from rivers.storage.records import RunRecord

__all__ = [
    "ALL_PARTITIONS",
    "PlannedRun",
    "RunTarget",
    "check_config",
    "queued_run_record",
    "run_partition_keys",
    "run_target",
    "stored_partitions",
]


class _All(enum.Enum):
    PARTITIONS = "all"


#: A run over every partition (``PartitionSelection.all``), as opposed to no partitions given.
ALL_PARTITIONS: Final = _All.PARTITIONS


class PlannedRun(Protocol):
    """What a queued run takes from its plan: an ``ExecutionPlan``, or a planner's reply."""

    @property
    def selection(self) -> tuple[str, ...]:
        """The run's selection strings."""
        ...

    @property
    def asset_keys(self) -> tuple[str, ...]:
        """The assets the run materializes."""
        ...


@dataclass(frozen=True, slots=True)
class RunTarget:
    """A planned selection: the plan (also encoded) and its partitioned assets."""

    plan: ExecutionPlan
    plan_proto: plan_pb2.ExecutionPlan
    partitioned: Mapping[str, PartitionsDefinition]
    definitions: tuple[PartitionsDefinition, ...]


def run_target(snapshot: DefinitionsSnapshot, selection: Iterable[str] | None) -> RunTarget:
    """Plan ``selection`` (default: every asset) of ``snapshot``.

    Raises:
        SelectionError: the selection names nothing, or only external assets.
        DefinitionError: the snapshot's assets form a cycle or miss a dependency.
    """
    plan = build_plan(snapshot, selection)
    assets = snapshot.assets_by_key
    partitioned = {
        key: pdef for key in plan.asset_keys if (pdef := assets[key].partitions_def) is not None
    }
    distinct = {d.model_dump_json(): d for d in partitioned.values()}
    return RunTarget(plan, plan.to_proto(), partitioned, tuple(distinct.values()))


def run_partition_keys(target: RunTarget, partitions: Any, storage: object) -> PartitionKeys | None:
    """The partitions a run materializes, validated against the planned assets' definition.

    The snapshot-level twin of ``rivers.execution.partitioned.run_partition_keys``, with the
    same rules and messages. ``partitions`` is ``None`` (none given), :data:`ALL_PARTITIONS`,
    or anything ``PartitionsDefinition.resolve`` takes.

    Raises:
        PartitionError: partitioned assets without partitions, partitions for unpartitioned
            assets, assets with different definitions, or an invalid key or range.
    """
    if not target.partitioned:
        if partitions is not None:
            raise PartitionError(
                "a partition was given but none of the selected assets is partitioned"
            )
        return None
    if len(target.definitions) > 1:
        raise PartitionError(
            "the selected partitioned assets have different partitions definitions "
            f"({', '.join(sorted(target.partitioned))}); materialize each definition's assets "
            "separately"
        )
    (pdef,) = target.definitions
    if partitions is None:
        raise PartitionError(
            f"assets {sorted(target.partitioned)} are partitioned: pass partitions (a key such "
            f"as {_example(pdef, storage)!r}, a PartitionKey, a PartitionKeyRange, a list of "
            "keys, or all)"
        )
    return pdef.resolve(None if partitions is ALL_PARTITIONS else partitions, storage=storage)


def _example(pdef: PartitionsDefinition, storage: object) -> str:
    try:
        return pdef.key_at(0, storage=storage)
    except Exception:  # an empty dynamic definition has no example to show
        return "<key>"


def check_config(
    snapshot: DefinitionsSnapshot, asset_keys: Sequence[str], config: Mapping[str, Any] | None
) -> None:
    """Check the shape of run config: one object per selected asset that takes config.

    Field values are validated by the run worker, against the asset's config type (the
    snapshot has only its schema).

    Raises:
        RunConfigError: config names an asset that is not selected or takes no config, or an
            asset's config is not an object.
    """
    for raw_key, value in (config or {}).items():
        matches = [k for k in asset_keys if k == raw_key] or [
            k for k in asset_keys if key_name(k) == raw_key
        ]
        if len(matches) != 1:
            raise RunConfigError(
                f"run config names {raw_key!r}, which is not an asset selected in this run"
            )
        asset = snapshot.assets_by_key[matches[0]]
        if asset.config_schema is None:
            raise RunConfigError(f"run config given for asset {asset.key!r}, which takes no config")
        if not isinstance(value, Mapping):
            raise RunConfigError(
                f"run config of asset {asset.key!r} must be an object of fields, "
                f"not {type(value).__name__}"
            )


def stored_partitions(
    requested: Mapping[str, Any] | None, keys: Sequence[str] | None
) -> dict[str, Any] | None:
    """The partitions a queued run stores: what was requested, with "all" spelt out.

    The run worker resolves stored partitions itself, so "all" (and nothing requested, for a
    run whose keys were chosen here) become the exact keys validated now.
    """
    if keys is None:
        return None
    if requested is None or requested.get("all"):
        return {"keys": list(keys)}
    return dict(requested)


def _partition_tags(keys: Sequence[str]) -> dict[str, str]:
    from rivers.execution.partitioned import PARTITION_TAG, RANGE_END_TAG, RANGE_START_TAG

    if len(keys) == 1:
        return {PARTITION_TAG: keys[0]}
    return {RANGE_START_TAG: keys[0], RANGE_END_TAG: keys[-1]}


def queued_run_record(
    *,
    location_id: str,
    snapshot_id: str,
    plan: PlannedRun,
    keys: Sequence[str] | None,
    partitions: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    job_name: str | None = None,
    run_key: str | None = None,
    created_at: float | None = None,
    run_id: str | None = None,
) -> RunRecord:
    """A ``QUEUED`` run of ``plan`` over ``keys`` (``None``: unpartitioned), ready to store.

    ``tags`` are the run's own (job tags first, then the requester's); the partition tags
    (``rivers/partition`` or the range's first and last) are added; the record reads its
    priority from the ``rivers/priority`` tag. ``partitions`` is the requested selection's
    JSON form (``selection_to_json``); see :func:`stored_partitions`.
    """
    from rivers.storage.records import RunRecord, RunStatus

    run_tags = dict(tags or {})
    if keys is not None:
        run_tags.update(_partition_tags(keys))
    return RunRecord(
        run_id=run_id or uuid.uuid4().hex,
        location_id=location_id,
        status=RunStatus.QUEUED,
        created_at=time.time() if created_at is None else created_at,
        tags=run_tags,
        job_name=job_name,
        selection=plan.selection,
        asset_keys=plan.asset_keys,
        snapshot_id=snapshot_id,
        config=dict(config) if config else None,
        partitions=stored_partitions(partitions, keys),
        run_key=run_key,
    )
