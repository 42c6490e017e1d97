"""Conversions of the definitions snapshot (``rivers/v1/definitions.proto``).

Snapshots hold thousands of assets, so both directions work on plain dicts (see
``rivers._convert.common``): upb builds the nested message in C and pydantic-core builds and
validates the model tree in one call. Partition definitions and mappings, shared by many assets
and costly to validate, go through a per-snapshot ``PartitionsMemo`` instead.
"""

from __future__ import annotations

from typing import Any, Literal

from rivers._convert.common import (
    json_object_fields,
    json_object_from_proto,
    metadata_data,
    metadata_fields,
    retry_data,
    retry_fields,
    tags_fields,
)
from rivers._convert.partitions import PartitionsMemo, backfill_data, backfill_fields
from rivers._gc import gc_paused
from rivers._proto.rivers.v1 import definitions_pb2 as pb
from rivers.automation.condition import AutomationCondition
from rivers.definitions.snapshot import (
    AssetSnap,
    DefinitionsSnapshot,
    DependencySnap,
    GraphSnap,
    JobSnap,
    ScheduleSnap,
    SensorSnap,
)

__all__ = [
    "asset_from_proto",
    "asset_to_proto",
    "condition_from_proto",
    "condition_to_proto",
    "job_from_proto",
    "job_to_proto",
    "snapshot_from_proto",
    "snapshot_to_proto",
]

_ROLE_TO_PROTO: dict[Literal["input", "dep"], pb.DependencyRole] = {
    "input": pb.DEPENDENCY_ROLE_INPUT,
    "dep": pb.DEPENDENCY_ROLE_DEP,
}
_ROLE_FROM_PROTO = {v: k for k, v in _ROLE_TO_PROTO.items()}
_KIND_TO_PROTO: dict[Literal["asset", "external", "graph", "multi"], pb.AssetKind] = {
    "asset": pb.ASSET_KIND_ASSET,
    "external": pb.ASSET_KIND_EXTERNAL,
    "graph": pb.ASSET_KIND_GRAPH,
    "multi": pb.ASSET_KIND_MULTI,
}
_NODE_KIND_TO_PROTO: dict[Literal["call", "map"], pb.GraphNodeKind] = {
    "call": pb.GRAPH_NODE_KIND_CALL,
    "map": pb.GRAPH_NODE_KIND_MAP,
}
_NODE_KIND_FROM_PROTO = {v: k for k, v in _NODE_KIND_TO_PROTO.items()}


def _graph_fields(graph: GraphSnap) -> dict[str, Any]:
    return {
        "output": graph.output,
        "nodes": [
            {
                "node_id": n.node_id,
                "task": n.task,
                "kind": _NODE_KIND_TO_PROTO[n.kind],
                "upstream": n.upstream,
                "streams": n.streams,
                "assets": n.assets,
                "is_async": n.is_async,
                "executor": n.executor,
                "max_concurrency": n.max_concurrency,
            }
            for n in graph.nodes
        ],
    }


def _graph_data(msg: pb.GraphSnap) -> dict[str, Any]:
    nodes = []
    for n in msg.nodes:
        kind = _NODE_KIND_FROM_PROTO.get(n.kind)
        if kind is None:
            raise ValueError(f"GraphNodeSnap {n.node_id!r}: unsupported kind {n.kind}")
        nodes.append(
            {
                "node_id": n.node_id,
                "task": n.task,
                "kind": kind,
                "upstream": tuple(n.upstream),
                "streams": tuple(n.streams),
                "assets": tuple(n.assets),
                "is_async": n.is_async,
                "executor": n.executor if n.HasField("executor") else None,
                "max_concurrency": n.max_concurrency if n.HasField("max_concurrency") else None,
            }
        )
    return {"nodes": nodes, "output": msg.output}


_KIND_FROM_PROTO = {v: k for k, v in _KIND_TO_PROTO.items()}


def _dependency_fields(dep: DependencySnap, memo: PartitionsMemo) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "asset_key": dep.asset_key,
        "role": _ROLE_TO_PROTO[dep.role],
        "arg_name": dep.arg_name,
    }
    if dep.metadata:
        fields["metadata"] = metadata_fields(dep.metadata)
    if dep.partition_mapping is not None:
        fields["partition_mapping"] = memo.mapping_fields(dep.partition_mapping)
    return fields


def _dependency_data(msg: pb.DependencySnap, memo: PartitionsMemo) -> dict[str, Any]:
    role = _ROLE_FROM_PROTO.get(msg.role)
    if role is None:
        raise ValueError(f"DependencySnap {msg.asset_key!r}: unsupported role {msg.role}")
    return {
        "asset_key": msg.asset_key,
        "role": role,
        "arg_name": msg.arg_name if msg.HasField("arg_name") else None,
        "metadata": metadata_data(msg.metadata) if msg.metadata else {},
        "partition_mapping": (
            memo.mapping(msg.partition_mapping) if msg.HasField("partition_mapping") else None
        ),
    }


def _condition_fields(condition: AutomationCondition) -> dict[str, Any]:
    fields: dict[str, Any] = {"kind": condition.node_kind, "label": condition.label}
    children = condition.operands()
    if children:
        fields["children"] = [_condition_fields(c) for c in children]
    cron = getattr(condition, "cron", None)
    if cron is not None:
        fields["cron"] = cron
        fields["timezone"] = getattr(condition, "timezone", None)
    if getattr(condition, "lookback_seconds", None) is not None:
        fields["lookback_seconds"] = getattr(condition, "lookback_seconds", None)
    return fields


def _condition_data(msg: pb.AutomationConditionSnap) -> dict[str, Any]:
    data: dict[str, Any] = {"kind": msg.kind}
    if msg.HasField("label"):
        data["label"] = msg.label
    if msg.children:
        data["children"] = [_condition_data(c) for c in msg.children]
    elif msg.kind in _COMBINATORS:
        data["children"] = []
    if msg.HasField("cron"):
        data["cron"] = msg.cron
    if msg.HasField("timezone"):
        data["timezone"] = msg.timezone
    if msg.HasField("lookback_seconds"):
        data["lookback_seconds"] = msg.lookback_seconds
    return data


_COMBINATORS = frozenset({"and", "or", "not", "since", "newly_true"})


def condition_to_proto(condition: AutomationCondition) -> pb.AutomationConditionSnap:
    """Encode an automation condition tree."""
    return pb.AutomationConditionSnap(**_condition_fields(condition))


def condition_from_proto(msg: pb.AutomationConditionSnap) -> AutomationCondition:
    """Decode an automation condition tree.

    Raises:
        ValueError: an unknown kind, a wrong number of operands, or an invalid cron or zone.
    """
    return AutomationCondition.validate_tree(_condition_data(msg))


def _asset_fields(asset: AssetSnap, memo: PartitionsMemo) -> dict[str, Any]:
    return {
        "key": asset.key,
        "kind": _KIND_TO_PROTO[asset.kind],
        "step_key": asset.step_key,
        "group": asset.group,
        "description": asset.description,
        "dependencies": [_dependency_fields(d, memo) for d in asset.dependencies],
        "code_version": asset.code_version,
        "tags": tags_fields(asset.tags) if asset.tags else None,
        "metadata": metadata_fields(asset.metadata) if asset.metadata else None,
        "is_async": asset.is_async,
        "has_self_dependency": asset.has_self_dependency,
        "config_schema": (
            None if asset.config_schema is None else json_object_fields(asset.config_schema)
        ),
        "retry_policy": None if asset.retry_policy is None else retry_fields(asset.retry_policy),
        "executor": asset.executor,
        "partitions_def": (
            None if asset.partitions_def is None else memo.partitions_fields(asset.partitions_def)
        ),
        "backfill_strategy": (
            None if asset.backfill_strategy is None else backfill_fields(asset.backfill_strategy)
        ),
        "pools": asset.pools,
        "pool_slots": asset.pool_slots,
        "graph": None if asset.graph is None else _graph_fields(asset.graph),
        "automation_condition": (
            None
            if asset.automation_condition is None
            else _condition_fields(asset.automation_condition)
        ),
    }


def _asset_data(msg: pb.AssetSnap, memo: PartitionsMemo) -> dict[str, Any]:
    kind = _KIND_FROM_PROTO.get(msg.kind)
    if kind is None:
        raise ValueError(f"AssetSnap {msg.key!r}: unsupported kind {msg.kind}")
    return {
        "key": msg.key,
        "kind": kind,
        "step_key": msg.step_key,
        "group": msg.group,
        "description": msg.description if msg.HasField("description") else None,
        "dependencies": [_dependency_data(d, memo) for d in msg.dependencies],
        "code_version": msg.code_version if msg.HasField("code_version") else None,
        "tags": {e.key: e.value for e in msg.tags} if msg.tags else {},
        "metadata": metadata_data(msg.metadata) if msg.metadata else {},
        "is_async": msg.is_async,
        "has_self_dependency": msg.has_self_dependency,
        "config_schema": (
            json_object_from_proto(msg.config_schema) if msg.HasField("config_schema") else None
        ),
        "retry_policy": retry_data(msg.retry_policy) if msg.HasField("retry_policy") else None,
        "executor": msg.executor if msg.HasField("executor") else None,
        "partitions_def": (
            memo.partitions(msg.partitions_def) if msg.HasField("partitions_def") else None
        ),
        "backfill_strategy": (
            backfill_data(msg.backfill_strategy) if msg.HasField("backfill_strategy") else None
        ),
        "pools": tuple(msg.pools),
        "pool_slots": msg.pool_slots or 1,
        "graph": _graph_data(msg.graph) if msg.HasField("graph") else None,
        "automation_condition": (
            _condition_data(msg.automation_condition)
            if msg.HasField("automation_condition")
            else None
        ),
    }


def _job_fields(job: JobSnap) -> dict[str, Any]:
    return {
        "name": job.name,
        "selection": job.selection,
        "description": job.description,
        "tags": tags_fields(job.tags),
    }


def _job_data(msg: pb.JobSnap) -> dict[str, Any]:
    return {
        "name": msg.name,
        "selection": tuple(msg.selection),
        "description": msg.description if msg.HasField("description") else None,
        "tags": {e.key: e.value for e in msg.tags},
    }


_DEFAULT_STATUS = {"STOPPED": pb.DEFAULT_STATUS_STOPPED, "RUNNING": pb.DEFAULT_STATUS_RUNNING}
_DEFAULT_STATUS_NAME: dict[int, str] = {int(v): k for k, v in _DEFAULT_STATUS.items()}


def _default_status(value: int, owner: str) -> str:
    try:
        return _DEFAULT_STATUS_NAME[value]
    except KeyError:
        raise ValueError(f"{owner}: unspecified or unknown default_status {value}") from None


def _schedule_fields(schedule: ScheduleSnap) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": schedule.name,
        "cron": schedule.cron,
        "timezone": schedule.timezone,
        "selection": schedule.selection,
        "job_name": schedule.job_name,
        "description": schedule.description,
        "tags": tags_fields(schedule.tags),
        "partition_key": schedule.partition_key,
        "default_status": _DEFAULT_STATUS[schedule.default_status],
        "has_function": schedule.has_function,
        "max_catchup_ticks": schedule.max_catchup_ticks,
    }
    if schedule.run_config is not None:
        fields["run_config"] = json_object_fields(schedule.run_config)
    return fields


def _schedule_data(msg: pb.ScheduleSnap) -> dict[str, Any]:
    return {
        "name": msg.name,
        "cron": msg.cron,
        "timezone": msg.timezone,
        "selection": tuple(msg.selection),
        "job_name": msg.job_name if msg.HasField("job_name") else None,
        "description": msg.description if msg.HasField("description") else None,
        "tags": {e.key: e.value for e in msg.tags},
        "run_config": (
            json_object_from_proto(msg.run_config) if msg.HasField("run_config") else None
        ),
        "partition_key": msg.partition_key if msg.HasField("partition_key") else None,
        "default_status": _default_status(msg.default_status, f"schedule {msg.name!r}"),
        "has_function": msg.has_function,
        "max_catchup_ticks": msg.max_catchup_ticks,
    }


def _sensor_fields(sensor: SensorSnap) -> dict[str, Any]:
    return {
        "name": sensor.name,
        "selection": sensor.selection,
        "job_name": sensor.job_name,
        "description": sensor.description,
        "minimum_interval": sensor.minimum_interval,
        "default_status": _DEFAULT_STATUS[sensor.default_status],
        "is_async": sensor.is_async,
    }


def _sensor_data(msg: pb.SensorSnap) -> dict[str, Any]:
    return {
        "name": msg.name,
        "selection": tuple(msg.selection),
        "job_name": msg.job_name if msg.HasField("job_name") else None,
        "description": msg.description if msg.HasField("description") else None,
        "minimum_interval": msg.minimum_interval,
        "default_status": _default_status(msg.default_status, f"sensor {msg.name!r}"),
        "is_async": msg.is_async,
    }


def asset_to_proto(asset: AssetSnap) -> pb.AssetSnap:
    """Encode one asset of a snapshot."""
    return pb.AssetSnap(**_asset_fields(asset, PartitionsMemo()))


def asset_from_proto(msg: pb.AssetSnap) -> AssetSnap:
    """Decode one asset of a snapshot.

    Raises:
        ValueError: an enum field is unspecified or unknown, or a value is invalid.
        PartitionError: a partitions definition, mapping or backfill strategy is invalid.
    """
    return AssetSnap.model_validate(_asset_data(msg, PartitionsMemo()))


def job_to_proto(job: JobSnap) -> pb.JobSnap:
    """Encode one job of a snapshot."""
    return pb.JobSnap(**_job_fields(job))


def job_from_proto(msg: pb.JobSnap) -> JobSnap:
    """Decode one job of a snapshot."""
    return JobSnap.model_validate(_job_data(msg))


def snapshot_to_proto(snapshot: DefinitionsSnapshot) -> pb.DefinitionsSnapshot:
    """Encode a definitions snapshot, including its content-derived id.

    Args:
        snapshot: the snapshot to send.

    Returns:
        The wire message; its ``snapshot_id`` is ``snapshot.snapshot_id``.

    Raises:
        TypeError: a metadata or config-schema value is not what its kind says.
        ValueError: an int does not fit in 64 bits.
    """
    with gc_paused():
        msg = pb.DefinitionsSnapshot(
            location=snapshot.location,
            snapshot_id=snapshot.snapshot_id,
            jobs=[_job_fields(j) for j in snapshot.jobs],
            schedules=[_schedule_fields(s) for s in snapshot.schedules],
            sensors=[_sensor_fields(s) for s in snapshot.sensors],
        )
        add, memo = msg.assets.add, PartitionsMemo()
        for asset in snapshot.assets:
            add(**_asset_fields(asset, memo))
        return msg


def snapshot_from_proto(msg: pb.DefinitionsSnapshot) -> DefinitionsSnapshot:
    """Decode a definitions snapshot.

    The carried ``snapshot_id`` is neither trusted nor checked: the model derives its id from
    its content, which the exact round trip preserves.

    Args:
        msg: the wire message.

    Returns:
        The validated snapshot model.

    Raises:
        ValueError: an enum field is unspecified or unknown, or a value is invalid.
        PartitionError: a partitions definition, mapping or backfill strategy is invalid.
    """
    memo = PartitionsMemo()
    with gc_paused():
        return DefinitionsSnapshot.model_validate(
            {
                "location": msg.location,
                "assets": [_asset_data(a, memo) for a in msg.assets],
                "jobs": [_job_data(j) for j in msg.jobs],
                "schedules": [_schedule_data(s) for s in msg.schedules],
                "sensors": [_sensor_data(s) for s in msg.sensors],
            }
        )
