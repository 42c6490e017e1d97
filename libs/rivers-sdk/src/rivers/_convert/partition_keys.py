"""Conversions of partition keys and key ranges (``rivers/v1/partitions.proto``).

Keys and ranges are what users write to select partitions (backfills, runs, ``for_keys()``
mappings); they travel unvalidated against any definition, exactly as written, and are checked
against a definition only when expanded. Helpers follow ``rivers._convert.partitions``.
"""

from __future__ import annotations

from typing import Any

from rivers._proto.rivers.v1 import partitions_pb2 as pb
from rivers.partitions import PartitionKey, PartitionKeyRange

__all__ = [
    "key_data",
    "key_fields",
    "key_from_proto",
    "key_range_data",
    "key_range_fields",
    "key_range_from_proto",
    "key_range_to_proto",
    "key_to_proto",
]


def key_fields(key: PartitionKey) -> dict[str, Any]:
    """Keyword arguments of the ``PartitionKey`` message for ``key``."""
    return {
        "key": key.key,
        "dimensions": [{"name": n, "values": values} for n, values in key.dimensions],
    }


def key_data(msg: pb.PartitionKey) -> dict[str, Any]:
    """Model input for a partition key."""
    return {
        "key": msg.key if msg.HasField("key") else None,
        "dimensions": tuple((d.name, tuple(d.values)) for d in msg.dimensions),
    }


def key_to_proto(key: PartitionKey) -> pb.PartitionKey:
    """Encode a partition key."""
    return pb.PartitionKey(**key_fields(key))


def key_from_proto(msg: pb.PartitionKey) -> PartitionKey:
    """Decode a partition key.

    Raises:
        PartitionError: neither or both of ``key`` and ``dimensions`` are set, or a value is
            empty.
    """
    return PartitionKey.model_validate(key_data(msg))


def key_range_fields(key_range: PartitionKeyRange) -> dict[str, Any]:
    """Keyword arguments of the ``PartitionKeyRange`` message for ``key_range``."""
    return {
        "start": key_range.start,
        "end": key_range.end,
        "dimensions": [
            {"name": n, "selection": {"keys": s.keys, "start": s.start, "end": s.end}}
            for n, s in key_range.dimensions
        ],
    }


def key_range_data(msg: pb.PartitionKeyRange) -> dict[str, Any]:
    """Model input for a partition key range."""
    dims = []
    for d in msg.dimensions:
        sel = d.selection
        start = sel.start if sel.HasField("start") else None
        end = sel.end if sel.HasField("end") else None
        dims.append((d.name, {"keys": tuple(sel.keys), "start": start, "end": end}))
    return {
        "start": msg.start if msg.HasField("start") else None,
        "end": msg.end if msg.HasField("end") else None,
        "dimensions": tuple(dims),
    }


def key_range_to_proto(key_range: PartitionKeyRange) -> pb.PartitionKeyRange:
    """Encode a partition key range."""
    return pb.PartitionKeyRange(**key_range_fields(key_range))


def key_range_from_proto(msg: pb.PartitionKeyRange) -> PartitionKeyRange:
    """Decode a partition key range.

    Raises:
        PartitionError: the range is neither ``start``..``end`` nor per dimension.
    """
    return PartitionKeyRange.model_validate(key_range_data(msg))
