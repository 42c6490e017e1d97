"""Conversions of run, backfill, location, pool, tick and instigator records (``runs.proto``)."""

from __future__ import annotations

from typing import Any

from rivers._convert.common import (
    error_fields,
    error_from_proto,
    json_object_fields,
    json_object_from_proto,
)
from rivers._convert.partition_keys import (
    key_from_proto,
    key_range_from_proto,
    key_range_to_proto,
    key_to_proto,
)
from rivers._proto.rivers.v1 import runs_pb2 as pb
from rivers.partitions.spec import selection_from_json, selection_to_json
from rivers.storage.records import (
    BackfillRecord,
    BackfillState,
    InstigatorState,
    InstigatorType,
    LocationRecord,
    PoolInfo,
    PoolSlotHolder,
    RunRecord,
    RunStatus,
    TickRecord,
    TickStatus,
)

__all__ = [
    "backfill_from_proto",
    "backfill_to_proto",
    "instigator_state_from_proto",
    "instigator_state_to_proto",
    "instigator_type_from_proto",
    "instigator_type_to_proto",
    "location_to_proto",
    "pool_holder_from_proto",
    "pool_holder_to_proto",
    "pool_info_from_proto",
    "pool_info_to_proto",
    "run_from_proto",
    "run_to_proto",
    "selection_from_proto",
    "selection_to_proto",
    "status_from_proto",
    "status_to_proto",
    "tick_from_proto",
    "tick_status_from_proto",
    "tick_status_to_proto",
    "tick_to_proto",
]


def status_to_proto(status: RunStatus) -> int:
    """The wire enum value of a run status."""
    return int(pb.RunStatus.Value(f"RUN_STATUS_{status.value}"))


def status_from_proto(value: int) -> RunStatus:
    """The run status of a wire enum value.

    Raises:
        ValueError: unspecified or unknown.
    """
    name = pb.RunStatus.Name(value) if value in pb.RunStatus.values() else ""
    if not name or name == "RUN_STATUS_UNSPECIFIED":
        raise ValueError(f"unsupported run status {value}")
    return RunStatus(name.removeprefix("RUN_STATUS_"))


def selection_to_proto(spec: Any) -> pb.PartitionSelection | None:
    """A partition spec (key, PartitionKey, range, key list; None = none) on the wire."""
    data = selection_to_json(spec)
    return None if data is None else _selection_json_to_proto(data)


def _selection_json_to_proto(data: dict[str, Any]) -> pb.PartitionSelection:
    spec = selection_from_json(data)
    if "key" in data:
        return pb.PartitionSelection(key=data["key"])
    if "partition_key" in data:
        return pb.PartitionSelection(partition_key=key_to_proto(spec))
    if "range" in data:
        return pb.PartitionSelection(range=key_range_to_proto(spec))
    if "keys" in data:
        return pb.PartitionSelection(keys=pb.PartitionKeyList(keys=data["keys"]))
    return pb.PartitionSelection(all=True)


def selection_from_proto(msg: pb.PartitionSelection | None) -> Any:
    """The partition spec a wire selection describes (``None``: all / unpartitioned)."""
    if msg is None:
        return None
    which = msg.WhichOneof("selection")
    if which == "key":
        return msg.key
    if which == "partition_key":
        return key_from_proto(msg.partition_key)
    if which == "range":
        return key_range_from_proto(msg.range)
    if which == "keys":
        return list(msg.keys.keys)
    return None


def run_to_proto(run: RunRecord) -> pb.RunRecord:
    """Encode a run record."""
    msg = pb.RunRecord(
        run_id=run.run_id,
        location_id=run.location_id,
        status=status_to_proto(run.status),  # type: ignore[arg-type]  # enum value by name
        created_at=run.created_at,
        start_time=run.start_time,
        end_time=run.end_time,
        tags=[{"key": k, "value": v} for k, v in run.tags.items()],
        job_name=run.job_name,
        selection=run.selection,
        asset_keys=run.asset_keys,
        snapshot_id=run.snapshot_id,
        failure_reason=run.failure_reason,
    )
    if run.config is not None:
        msg.config.CopyFrom(_json_object(run.config))
    if run.partitions:
        msg.partitions.CopyFrom(_selection_json_to_proto(run.partitions))
    return msg


def _json_object(value: dict[str, Any]) -> Any:
    from rivers._proto.rivers.v1 import common_pb2

    return common_pb2.JsonObject(**json_object_fields(value))


def run_from_proto(msg: pb.RunRecord) -> RunRecord:
    """Decode a run record."""
    partitions = None
    if msg.HasField("partitions"):
        partitions = selection_to_json(selection_from_proto(msg.partitions)) or {"all": True}
    return RunRecord(
        run_id=msg.run_id,
        location_id=msg.location_id,
        status=status_from_proto(msg.status),
        created_at=msg.created_at,
        start_time=msg.start_time if msg.HasField("start_time") else None,
        end_time=msg.end_time if msg.HasField("end_time") else None,
        tags={e.key: e.value for e in msg.tags},
        job_name=msg.job_name if msg.HasField("job_name") else None,
        selection=tuple(msg.selection),
        asset_keys=tuple(msg.asset_keys),
        snapshot_id=msg.snapshot_id if msg.HasField("snapshot_id") else None,
        failure_reason=msg.failure_reason if msg.HasField("failure_reason") else None,
        config=json_object_from_proto(msg.config) if msg.HasField("config") else None,
        partitions=partitions,
    )


def backfill_to_proto(backfill: BackfillRecord) -> pb.BackfillRecord:
    """Encode a backfill record."""
    return pb.BackfillRecord(
        backfill_id=backfill.backfill_id,
        location_id=backfill.location_id,
        status=pb.BackfillState.Value(f"BACKFILL_STATE_{backfill.status.value}"),  # type: ignore[arg-type]  # enum value by name
        created_at=backfill.created_at,
        end_time=backfill.end_time,
        asset_selection=backfill.asset_selection,
        partitions=_json_object(backfill.partitions),
        strategy=_json_object(backfill.strategy),
        tags=[{"key": k, "value": v} for k, v in backfill.tags.items()],
        requested=backfill.requested,
        succeeded=backfill.succeeded,
        failed=backfill.failed,
        runs_total=backfill.runs_total,
        runs_done=backfill.runs_done,
        failed_partitions=[{"key": k, "reason": r} for k, r in backfill.failed_partitions.items()],
        run_ids=backfill.run_ids,
        parent_backfill_id=backfill.parent_backfill_id,
    )


def backfill_from_proto(msg: pb.BackfillRecord) -> BackfillRecord:
    """Decode a backfill record."""
    name = pb.BackfillState.Name(msg.status)
    if name == "BACKFILL_STATE_UNSPECIFIED":
        raise ValueError("unsupported backfill state 0")
    return BackfillRecord(
        backfill_id=msg.backfill_id,
        location_id=msg.location_id,
        status=BackfillState(name.removeprefix("BACKFILL_STATE_")),
        created_at=msg.created_at,
        end_time=msg.end_time if msg.HasField("end_time") else None,
        asset_selection=tuple(msg.asset_selection),
        partitions=json_object_from_proto(msg.partitions),
        strategy=json_object_from_proto(msg.strategy),
        tags={e.key: e.value for e in msg.tags},
        requested=msg.requested,
        succeeded=msg.succeeded,
        failed=msg.failed,
        runs_total=msg.runs_total,
        runs_done=msg.runs_done,
        failed_partitions={f.key: f.reason for f in msg.failed_partitions},
        run_ids=tuple(msg.run_ids),
        parent_backfill_id=(msg.parent_backfill_id if msg.HasField("parent_backfill_id") else None),
    )


def location_to_proto(location: LocationRecord, *, status: str) -> pb.CodeLocationInfo:
    """Encode a code location with its liveness (``available`` / ``unavailable``)."""
    return pb.CodeLocationInfo(
        identity=location.identity,
        name=location.name,
        endpoint=location.endpoint,
        last_heartbeat=location.last_heartbeat,
        snapshot_id=location.snapshot_id,
        status=status,
    )


def pool_info_to_proto(info: PoolInfo) -> pb.PoolInfo:
    """Encode a pool's state."""
    return pb.PoolInfo(
        name=info.name,
        limit=info.limit,
        manual_limit=info.manual_limit,
        code_limit=info.code_limit,
        slots_in_use=info.slots_in_use,
        holders=info.holders,
        waiters=info.waiters,
    )


def pool_info_from_proto(msg: pb.PoolInfo) -> PoolInfo:
    """Decode a pool's state."""
    return PoolInfo(
        name=msg.name,
        manual_limit=msg.manual_limit if msg.HasField("manual_limit") else None,
        code_limit=msg.code_limit if msg.HasField("code_limit") else None,
        slots_in_use=msg.slots_in_use,
        holders=msg.holders,
        waiters=msg.waiters,
    )


def pool_holder_to_proto(holder: PoolSlotHolder) -> pb.PoolSlotHolder:
    """Encode a slot holder."""
    return pb.PoolSlotHolder(**holder.model_dump(mode="json"))


def pool_holder_from_proto(msg: pb.PoolSlotHolder) -> PoolSlotHolder:
    """Decode a slot holder."""
    return PoolSlotHolder(
        claim_id=msg.claim_id,
        pool=msg.pool,
        run_id=msg.run_id,
        step_key=msg.step_key,
        slots=msg.slots,
        owner=msg.owner,
        claimed_at=msg.claimed_at,
        lease_expires_at=msg.lease_expires_at,
    )


# --- ticks and instigators ---------------------------------------------------------------------


def tick_status_to_proto(status: TickStatus) -> int:
    """The wire enum value of a tick status."""
    return int(pb.TickStatus.Value(f"TICK_STATUS_{status.value}"))


def tick_status_from_proto(value: int) -> TickStatus:
    """The tick status of a wire enum value.

    Raises:
        ValueError: unspecified or unknown.
    """
    name = pb.TickStatus.Name(value) if value in pb.TickStatus.values() else ""
    if not name or name == "TICK_STATUS_UNSPECIFIED":
        raise ValueError(f"unsupported tick status {value}")
    return TickStatus(name.removeprefix("TICK_STATUS_"))


def instigator_type_to_proto(kind: InstigatorType) -> int:
    """The wire enum value of an instigator type."""
    return int(pb.InstigatorType.Value(f"INSTIGATOR_TYPE_{kind.value}"))


def instigator_type_from_proto(value: int) -> InstigatorType:
    """The instigator type of a wire enum value.

    Raises:
        ValueError: unspecified or unknown.
    """
    name = pb.InstigatorType.Name(value) if value in pb.InstigatorType.values() else ""
    if not name or name == "INSTIGATOR_TYPE_UNSPECIFIED":
        raise ValueError(f"unsupported instigator type {value}")
    return InstigatorType(name.removeprefix("INSTIGATOR_TYPE_"))


def tick_to_proto(tick: TickRecord) -> pb.TickRecord:
    """Encode a tick."""
    msg = pb.TickRecord(
        tick_id=tick.tick_id,
        location_id=tick.location_id,
        instigator=tick.instigator,
        type=instigator_type_to_proto(tick.type),  # type: ignore[arg-type]  # enum value by name
        status=tick_status_to_proto(tick.status),  # type: ignore[arg-type]  # enum value by name
        timestamp=tick.timestamp,
        scheduled_time=tick.scheduled_time,
        run_ids=tick.run_ids,
        backfill_ids=tick.backfill_ids,
        run_keys=tick.run_keys,
        skip_reason=tick.skip_reason,
        cursor=tick.cursor,
        duration_ms=tick.duration_ms,
        requested=tick.requested,
    )
    if tick.error is not None:
        msg.error.CopyFrom(_error(tick.error))
    return msg


def _error(error: Any) -> Any:
    from rivers._proto.rivers.v1 import common_pb2

    return common_pb2.ErrorInfo(**error_fields(error))


def tick_from_proto(msg: pb.TickRecord) -> TickRecord:
    """Decode a tick.

    Raises:
        ValueError: its type or status is unspecified.
    """
    return TickRecord(
        tick_id=msg.tick_id,
        location_id=msg.location_id,
        instigator=msg.instigator,
        type=instigator_type_from_proto(msg.type),
        status=tick_status_from_proto(msg.status),
        timestamp=msg.timestamp,
        scheduled_time=msg.scheduled_time if msg.HasField("scheduled_time") else None,
        run_ids=tuple(msg.run_ids),
        backfill_ids=tuple(msg.backfill_ids),
        run_keys=tuple(msg.run_keys),
        skip_reason=msg.skip_reason if msg.HasField("skip_reason") else None,
        error=error_from_proto(msg.error) if msg.HasField("error") else None,
        cursor=msg.cursor if msg.HasField("cursor") else None,
        duration_ms=msg.duration_ms,
        requested=msg.requested,
    )


def instigator_state_to_proto(
    state: InstigatorState,
    *,
    running: bool | None = None,
    next_tick_time: float | None = None,
    cron: str | None = None,
    minimum_interval: float | None = None,
) -> pb.InstigatorState:
    """Encode an instigator's stored state with what its definition adds.

    Args:
        state: the stored state.
        running: whether it runs; default: its stored status (a state without one, which
            follows the code's default, needs ``running`` from the definition).
        next_tick_time: when it is evaluated next, if known.
        cron: a schedule's cron expression.
        minimum_interval: a sensor's minimum interval.

    Raises:
        ValueError: the state has no stored status and ``running`` is not given.
    """
    if running is None:
        if state.status is None:
            raise ValueError(
                f"instigator {state.name!r} follows its code default: pass running= explicitly"
            )
        running = state.status == "RUNNING"
    last = state.last_tick_status
    return pb.InstigatorState(
        location_id=state.location_id,
        name=state.name,
        type=instigator_type_to_proto(state.type),  # type: ignore[arg-type]  # enum value by name
        running=running,
        cursor=state.cursor,
        last_tick_time=state.last_tick_time,
        last_tick_status=0 if last is None else tick_status_to_proto(last),  # type: ignore[arg-type]  # enum value by name
        next_tick_time=next_tick_time,
        cron=cron,
        minimum_interval=minimum_interval,
    )


def instigator_state_from_proto(msg: pb.InstigatorState) -> InstigatorState:
    """Decode the stored part of an instigator's wire state.

    The wire carries the status in force (``running``), so the decoded state has an explicit
    ``RUNNING`` or ``STOPPED`` status; ``updated_at`` is not on the wire and reads as 0.

    Raises:
        ValueError: its type is unspecified.
    """
    return InstigatorState(
        location_id=msg.location_id,
        name=msg.name,
        type=instigator_type_from_proto(msg.type),
        status="RUNNING" if msg.running else "STOPPED",
        cursor=msg.cursor if msg.HasField("cursor") else None,
        last_tick_time=msg.last_tick_time if msg.HasField("last_tick_time") else None,
        last_tick_status=(
            tick_status_from_proto(msg.last_tick_status) if msg.last_tick_status else None
        ),
        updated_at=0.0,
    )
