"""Conversions of the public API's own messages (``rivers/v1/api.proto``).

With ``rivers._convert`` (runs, events, snapshots) this is the only client code touching
``*_pb2``; the gateway uses the same functions, so both sides agree by construction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel

from rivers._convert.common import json_object_fields, tags_fields
from rivers._convert.definitions import asset_from_proto, asset_to_proto
from rivers._convert.events import event_from_proto
from rivers._convert.partitions import backfill_to_proto as strategy_to_proto
from rivers._convert.runs import (
    instigator_type_from_proto,
    instigator_type_to_proto,
    pool_holder_from_proto,
    pool_info_from_proto,
    selection_to_proto,
    status_to_proto,
    tick_status_from_proto,
    tick_status_to_proto,
)
from rivers._proto.rivers.v1 import api_pb2, runs_pb2
from rivers.client.models import (
    AssetDetails,
    AssetSummary,
    CodeLocationInfo,
    InstigatorInfo,
    PoolDetails,
)
from rivers.errors import RiversError
from rivers.partitions import BackfillStrategy
from rivers.storage.records import RunStatus, TickStatus

__all__ = [
    "asset_details_from_proto",
    "asset_summary_from_proto",
    "asset_summary_to_proto",
    "config_fields",
    "instigator_info_from_proto",
    "instigator_info_to_proto",
    "launch_backfill_request",
    "launch_run_request",
    "list_runs_request",
    "list_ticks_request",
    "location_info_from_proto",
    "location_info_to_proto",
    "pool_details_from_proto",
    "selection_items",
]


def location_info_to_proto(info: CodeLocationInfo) -> runs_pb2.CodeLocationInfo:
    """Encode a code location with its liveness."""
    return runs_pb2.CodeLocationInfo(
        identity=info.identity,
        name=info.name,
        endpoint=info.endpoint,
        last_heartbeat=info.last_heartbeat,
        snapshot_id=info.snapshot_id,
        status=info.status,
    )


def location_info_from_proto(msg: runs_pb2.CodeLocationInfo) -> CodeLocationInfo:
    """Decode a code location (an unknown status string reads as unavailable)."""
    return CodeLocationInfo(
        identity=msg.identity,
        name=msg.name,
        endpoint=msg.endpoint if msg.HasField("endpoint") else None,
        last_heartbeat=msg.last_heartbeat if msg.HasField("last_heartbeat") else None,
        snapshot_id=msg.snapshot_id if msg.HasField("snapshot_id") else None,
        status="available" if msg.status == "available" else "unavailable",
    )


def asset_summary_to_proto(summary: AssetSummary) -> api_pb2.AssetSummary:
    """Encode an asset with its location and latest materialization."""
    return api_pb2.AssetSummary(
        location=summary.location,
        asset=asset_to_proto(summary.asset),
        last_materialized_at=summary.last_materialized_at,
        last_run_id=summary.last_run_id,
    )


def asset_summary_from_proto(msg: api_pb2.AssetSummary) -> AssetSummary:
    """Decode an asset summary."""
    return AssetSummary(
        location=msg.location,
        asset=asset_from_proto(msg.asset),
        last_materialized_at=(
            msg.last_materialized_at if msg.HasField("last_materialized_at") else None
        ),
        last_run_id=msg.last_run_id if msg.HasField("last_run_id") else None,
    )


def asset_details_from_proto(msg: api_pb2.GetAssetResponse) -> AssetDetails:
    """Decode an asset with its materialization history."""
    return AssetDetails(
        summary=asset_summary_from_proto(msg.asset),
        materializations=tuple(event_from_proto(e) for e in msg.materializations),
    )


def pool_details_from_proto(msg: api_pb2.GetPoolResponse) -> PoolDetails:
    """Decode a pool with its slot holders."""
    return PoolDetails(
        info=pool_info_from_proto(msg.pool),
        holders=tuple(pool_holder_from_proto(h) for h in msg.holders),
    )


def instigator_info_to_proto(info: InstigatorInfo) -> runs_pb2.InstigatorState:
    """Encode a schedule, sensor or automation instigator with its state."""
    last = info.last_tick_status
    return runs_pb2.InstigatorState(
        location_id=info.location_id,
        name=info.name,
        type=instigator_type_to_proto(info.type),  # type: ignore[arg-type]  # enum value by name
        running=info.running,
        cursor=info.cursor,
        last_tick_time=info.last_tick_time,
        last_tick_status=0 if last is None else tick_status_to_proto(last),  # type: ignore[arg-type]  # enum value by name
        next_tick_time=info.next_tick_time,
        cron=info.cron,
        minimum_interval=info.minimum_interval,
    )


def instigator_info_from_proto(msg: runs_pb2.InstigatorState) -> InstigatorInfo:
    """Decode an instigator with its state.

    Raises:
        ValueError: its type is unspecified.
    """
    return InstigatorInfo(
        location_id=msg.location_id,
        name=msg.name,
        type=instigator_type_from_proto(msg.type),
        running=msg.running,
        cursor=msg.cursor if msg.HasField("cursor") else None,
        last_tick_time=msg.last_tick_time if msg.HasField("last_tick_time") else None,
        last_tick_status=(
            tick_status_from_proto(msg.last_tick_status) if msg.last_tick_status else None
        ),
        next_tick_time=msg.next_tick_time if msg.HasField("next_tick_time") else None,
        cron=msg.cron if msg.HasField("cron") else None,
        minimum_interval=msg.minimum_interval if msg.HasField("minimum_interval") else None,
    )


def selection_items(selection: str | Iterable[object] | None) -> list[str]:
    """Selection strings from a string, keys or asset objects (``None``: empty, all).

    Raises:
        RiversError: an item is neither a string nor has a ``key``.
    """
    if selection is None:
        return []
    items: Iterable[object] = [selection] if isinstance(selection, str) else selection
    out: list[str] = []
    for item in items:
        key = item if isinstance(item, str) else getattr(item, "key", None)
        if not isinstance(key, str):
            raise RiversError(
                f"cannot select {item!r}: pass asset keys, selection strings or assets"
            )
        out.append(key)
    return out


def config_fields(config: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Keyword arguments of the run config ``JsonObject`` (config models are dumped as JSON).

    Raises:
        RiversError: the config is not JSON.
    """
    if not config:
        return None
    plain = {
        str(k): v.model_dump(mode="json") if isinstance(v, BaseModel) else v
        for k, v in config.items()
    }
    try:
        return json_object_fields(plain)
    except (TypeError, ValueError) as exc:
        raise RiversError(f"run config is not JSON: {exc}") from None


def _tags(tags: Mapping[str, str] | None) -> list[dict[str, str]]:
    if not tags:
        return []
    bad = [k for k, v in tags.items() if not isinstance(k, str) or not isinstance(v, str)]
    if bad:
        raise RiversError(f"tags must map strings to strings; not {bad!r}")
    return tags_fields(tags)


def launch_run_request(
    selection: str | Iterable[object] | None,
    *,
    location: str | None,
    job: str | None,
    partition: Any,
    config: Mapping[str, Any] | None,
    tags: Mapping[str, str] | None,
) -> api_pb2.LaunchRunRequest:
    """The request launching a run (``partition``: a key, ``PartitionKey``, range or keys)."""
    return api_pb2.LaunchRunRequest(
        location=location,
        selection=selection_items(selection),
        job_name=job,
        partitions=selection_to_proto(partition),
        config=config_fields(config),
        tags=_tags(tags),
    )


def launch_backfill_request(
    selection: str | Iterable[object] | None,
    partitions: Any,
    strategy: BackfillStrategy | None,
    *,
    location: str | None,
    config: Mapping[str, Any] | None,
    tags: Mapping[str, str] | None,
) -> api_pb2.LaunchBackfillRequest:
    """The request launching a backfill (``partitions=None``: every partition)."""
    chosen = selection_to_proto(partitions) or runs_pb2.PartitionSelection(all=True)
    return api_pb2.LaunchBackfillRequest(
        location=location,
        selection=selection_items(selection),
        partitions=chosen,
        strategy=None if strategy is None else strategy_to_proto(strategy),
        config=config_fields(config),
        tags=_tags(tags),
    )


def list_runs_request(
    *,
    location: str | None,
    statuses: Iterable[RunStatus | str] | None,
    tags: Mapping[str, str] | None,
    asset_key: str | None,
    page_size: int,
    page_token: str,
) -> api_pb2.ListRunsRequest:
    """The request for one page of runs."""
    return api_pb2.ListRunsRequest(
        location=location,
        statuses=[status_to_proto(RunStatus(s)) for s in statuses or ()],  # type: ignore[misc]  # enum ints
        tags=_tags(tags),
        asset_key=asset_key,
        page_size=page_size,
        page_token=page_token,
    )


def _tick_status(status: TickStatus | str) -> TickStatus:
    try:
        return TickStatus(status.upper() if isinstance(status, str) else status)
    except ValueError:
        known = ", ".join(s.value for s in TickStatus)
        raise RiversError(f"unknown tick status {status!r} (one of {known})") from None


def list_ticks_request(
    *,
    location: str | None,
    instigator: str | None,
    statuses: Iterable[TickStatus | str] | None,
    limit: int,
    before: float | None,
) -> api_pb2.ListTicksRequest:
    """The request for the newest ticks (``before``: only ticks started earlier).

    Raises:
        RiversError: an unknown tick status.
    """
    return api_pb2.ListTicksRequest(
        location=location,
        instigator=instigator,
        statuses=[tick_status_to_proto(_tick_status(s)) for s in statuses or ()],  # type: ignore[misc]  # enum ints
        limit=limit,
        before=before,
    )
