"""Conversions of run events (``rivers/v1/events.proto``)."""

from __future__ import annotations

from typing import cast

from rivers._convert.common import error_data, error_fields, metadata_data, metadata_fields
from rivers._proto.rivers.v1 import events_pb2 as pb
from rivers.execution.events import EventKind, RunEvent

__all__ = ["event_from_proto", "event_to_proto"]

# Wire names carry the enum name as a prefix (EVENT_KIND_RUN_STARTED); building the table by
# name fails at import time if a model kind has no wire counterpart.
_KIND_TO_PROTO: dict[EventKind, pb.EventKind] = {
    kind: cast(pb.EventKind, pb.EventKind.Value(f"EVENT_KIND_{kind.value}")) for kind in EventKind
}
_KIND_FROM_PROTO = {v: k for k, v in _KIND_TO_PROTO.items()}


def event_to_proto(event: RunEvent) -> pb.RunEvent:
    """Encode a run event.

    Args:
        event: the event to send.

    Returns:
        The wire message.

    Raises:
        TypeError: a metadata value is not what its kind says.
        ValueError: an int does not fit in 64 bits.
    """
    return pb.RunEvent(
        run_id=event.run_id,
        kind=_KIND_TO_PROTO[event.kind],
        timestamp=event.timestamp,
        step_key=event.step_key,
        asset_key=event.asset_key,
        partition_key=event.partition_key,
        level=event.level,
        message=event.message,
        metadata=metadata_fields(event.metadata),
        data_version=event.data_version,
        error=None if event.error is None else error_fields(event.error),
        duration_ms=event.duration_ms,
        attempt=event.attempt,
        seq=event.seq,
    )


def event_from_proto(msg: pb.RunEvent) -> RunEvent:
    """Decode a run event.

    Args:
        msg: the wire message.

    Returns:
        The validated event model.

    Raises:
        ValueError: the kind is unspecified or unknown to this SDK version.
    """
    kind = _KIND_FROM_PROTO.get(msg.kind)
    if kind is None:
        raise ValueError(f"RunEvent {msg.run_id!r}: unsupported kind {msg.kind}")
    return RunEvent.model_validate(
        {
            "run_id": msg.run_id,
            "kind": kind,
            "timestamp": msg.timestamp,
            "step_key": msg.step_key if msg.HasField("step_key") else None,
            "asset_key": msg.asset_key if msg.HasField("asset_key") else None,
            "partition_key": msg.partition_key if msg.HasField("partition_key") else None,
            "level": msg.level,
            "message": msg.message,
            "metadata": metadata_data(msg.metadata),
            "data_version": msg.data_version if msg.HasField("data_version") else None,
            "error": error_data(msg.error) if msg.HasField("error") else None,
            "duration_ms": msg.duration_ms if msg.HasField("duration_ms") else None,
            "attempt": msg.attempt,
            "seq": msg.seq if msg.HasField("seq") else None,
        }
    )
