"""Conversions of partition definitions, mappings and backfill strategies (``partitions.proto``).

Like the snapshot converters, each message has a ``*_fields`` helper (keyword arguments with
nested messages as dicts, so upb builds the tree in C) and a ``*_data`` helper (model input, so
one ``model_validate`` builds the tree); ``*_to_proto`` / ``*_from_proto`` wrap them.

Instants travel as integer microseconds since the epoch and come back in the definition's
``timezone``: the SDK always stores ``start``/``end`` in that zone in canonical form (converted
through UTC), so the datetime, its zone and its UTC offset are restored exactly, and so is the
snapshot id, which hashes them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from rivers._convert.partition_keys import key_data, key_fields
from rivers._proto.rivers.v1 import partitions_pb2 as pb
from rivers.partitions import BackfillStrategy, PartitionMapping, PartitionsDefinition
from rivers.partitions.timewindow import zone

__all__ = [
    "PartitionsMemo",
    "backfill_data",
    "backfill_fields",
    "backfill_from_proto",
    "backfill_to_proto",
    "mapping_data",
    "mapping_fields",
    "mapping_from_proto",
    "mapping_to_proto",
    "partitions_data",
    "partitions_fields",
    "partitions_from_proto",
    "partitions_to_proto",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

_PartitionsKind = Literal["static", "time_window", "dynamic", "multi"]
_PARTITIONS_TO_PROTO: dict[_PartitionsKind, tuple[pb.PartitionsKind, str]] = {
    "static": (pb.PARTITIONS_KIND_STATIC, "static_partitions"),
    "time_window": (pb.PARTITIONS_KIND_TIME_WINDOW, "time_window"),
    "dynamic": (pb.PARTITIONS_KIND_DYNAMIC, "dynamic"),
    "multi": (pb.PARTITIONS_KIND_MULTI, "multi"),
}
_PARTITIONS_FROM_PROTO = {
    enum: (kind, member) for kind, (enum, member) in _PARTITIONS_TO_PROTO.items()
}

_MappingKind = Literal["identity", "time_window", "for_keys", "subset", "all", "last", "multi"]
_MAPPING_TO_PROTO: dict[_MappingKind, pb.PartitionMappingKind] = {
    "identity": pb.PARTITION_MAPPING_KIND_IDENTITY,
    "time_window": pb.PARTITION_MAPPING_KIND_TIME_WINDOW,
    "for_keys": pb.PARTITION_MAPPING_KIND_FOR_KEYS,
    "subset": pb.PARTITION_MAPPING_KIND_SUBSET,
    "all": pb.PARTITION_MAPPING_KIND_ALL,
    "last": pb.PARTITION_MAPPING_KIND_LAST,
    "multi": pb.PARTITION_MAPPING_KIND_MULTI,
}
_MAPPING_FROM_PROTO = {v: k for k, v in _MAPPING_TO_PROTO.items()}

_BackfillKind = Literal["multi_run", "single_run", "per_dimension"]
_BACKFILL_TO_PROTO: dict[_BackfillKind, pb.BackfillStrategyKind] = {
    "multi_run": pb.BACKFILL_STRATEGY_KIND_MULTI_RUN,
    "single_run": pb.BACKFILL_STRATEGY_KIND_SINGLE_RUN,
    "per_dimension": pb.BACKFILL_STRATEGY_KIND_PER_DIMENSION,
}
_BACKFILL_FROM_PROTO = {v: k for k, v in _BACKFILL_TO_PROTO.items()}


def _micros(moment: datetime) -> int:
    # Integer timedelta division: exact, unlike ``timestamp()`` (a float).
    return (moment - _EPOCH) // _MICROSECOND


def _instant(micros: int, timezone: str) -> datetime:
    return (_EPOCH + timedelta(microseconds=micros)).astimezone(zone(timezone))


# -- partitions definitions --------------------------------------------------------------------


def partitions_fields(definition: PartitionsDefinition) -> dict[str, Any]:
    """Keyword arguments of the ``PartitionsDefinition`` message for ``definition``."""
    enum, member = _PARTITIONS_TO_PROTO[definition.kind]
    body: dict[str, Any]
    if definition.kind == "static":
        body = {"keys": definition.keys}
    elif definition.kind == "dynamic":
        body = {"name": definition.name}
    elif definition.kind == "multi":
        body = {
            "dimensions": [
                {"name": name, "definition": partitions_fields(dim)}
                for name, dim in definition.dims
            ]
        }
    else:
        assert definition.start is not None  # a time-window definition always has a start
        body = {
            "start_micros": _micros(definition.start),
            "end_micros": None if definition.end is None else _micros(definition.end),
            "cron_schedule": definition.cron_schedule,
            "fmt": definition.fmt,
            "timezone": definition.timezone,
            "end_offset": definition.end_offset,
        }
    return {"kind": enum, member: body}


def partitions_data(msg: pb.PartitionsDefinition) -> dict[str, Any]:
    """Model input for a partitions definition.

    Raises:
        ValueError: the kind is unspecified or unknown, or its member of ``definition`` is not
            the one set.
    """
    found = _PARTITIONS_FROM_PROTO.get(msg.kind)
    if found is None:
        raise ValueError(f"PartitionsDefinition: unsupported kind {msg.kind}")
    kind, member = found
    if msg.WhichOneof("definition") != member:
        raise ValueError(f"PartitionsDefinition of kind {kind} needs its {member!r} member set")
    if kind == "static":
        return {"kind": kind, "keys": tuple(msg.static_partitions.keys)}
    if kind == "dynamic":
        return {"kind": kind, "name": msg.dynamic.name}
    if kind == "multi":
        dims = [(d.name, partitions_data(d.definition)) for d in msg.multi.dimensions]
        return {"kind": kind, "dims": dims}
    tw = msg.time_window
    return {
        "kind": kind,
        "start": _instant(tw.start_micros, tw.timezone),
        "end": _instant(tw.end_micros, tw.timezone) if tw.HasField("end_micros") else None,
        "cron_schedule": tw.cron_schedule,
        "fmt": tw.fmt,
        "timezone": tw.timezone,
        "end_offset": tw.end_offset,
    }


def partitions_to_proto(definition: PartitionsDefinition) -> pb.PartitionsDefinition:
    """Encode a partitions definition."""
    return pb.PartitionsDefinition(**partitions_fields(definition))


def partitions_from_proto(msg: pb.PartitionsDefinition) -> PartitionsDefinition:
    """Decode a partitions definition; it is validated again on this side.

    Raises:
        ValueError: the message is malformed.
        PartitionError: the definition is invalid (e.g. an unknown time zone).
    """
    return PartitionsDefinition.model_validate(partitions_data(msg))


# -- mappings and backfill strategies ----------------------------------------------------------


def mapping_fields(mapping: PartitionMapping) -> dict[str, Any]:
    """Keyword arguments of the ``PartitionMapping`` message for ``mapping``."""
    return {
        "kind": _MAPPING_TO_PROTO[mapping.kind],
        "start_offset": mapping.start_offset,
        "end_offset": mapping.end_offset,
        "keys": [key_fields(k) for k in mapping.keys],
        "subset_dimension": mapping.dimension,
        "dimensions": [{"name": n, "mapping": mapping_fields(m)} for n, m in mapping.dims],
    }


def mapping_data(msg: pb.PartitionMapping) -> dict[str, Any]:
    """Model input for a partition mapping.

    Raises:
        ValueError: the kind (or a nested kind) is unspecified or unknown.
    """
    kind = _MAPPING_FROM_PROTO.get(msg.kind)
    if kind is None:
        raise ValueError(f"PartitionMapping: unsupported kind {msg.kind}")
    return {
        "kind": kind,
        "start_offset": msg.start_offset,
        "end_offset": msg.end_offset,
        "keys": tuple(key_data(k) for k in msg.keys),
        "dimension": msg.subset_dimension if msg.HasField("subset_dimension") else None,
        "dims": tuple((d.name, mapping_data(d.mapping)) for d in msg.dimensions),
    }


def mapping_to_proto(mapping: PartitionMapping) -> pb.PartitionMapping:
    """Encode a partition mapping."""
    return pb.PartitionMapping(**mapping_fields(mapping))


def mapping_from_proto(msg: pb.PartitionMapping) -> PartitionMapping:
    """Decode a partition mapping; it is validated again on this side.

    Raises:
        ValueError: the kind is unspecified or unknown.
        PartitionError: the fields do not fit the kind.
    """
    return PartitionMapping.model_validate(mapping_data(msg))


def backfill_fields(strategy: BackfillStrategy) -> dict[str, Any]:
    """Keyword arguments of the ``BackfillStrategy`` message for ``strategy``."""
    return {
        "kind": _BACKFILL_TO_PROTO[strategy.kind],
        "multi_run_dimensions": strategy.multi_run_dimensions,
        "single_run_dimensions": strategy.single_run_dimensions,
    }


def backfill_data(msg: pb.BackfillStrategy) -> dict[str, Any]:
    """Model input for a backfill strategy.

    Raises:
        ValueError: the kind is unspecified or unknown.
    """
    kind = _BACKFILL_FROM_PROTO.get(msg.kind)
    if kind is None:
        raise ValueError(f"BackfillStrategy: unsupported kind {msg.kind}")
    return {
        "kind": kind,
        "multi_run_dimensions": tuple(msg.multi_run_dimensions),
        "single_run_dimensions": tuple(msg.single_run_dimensions),
    }


def backfill_to_proto(strategy: BackfillStrategy) -> pb.BackfillStrategy:
    """Encode a backfill strategy."""
    return pb.BackfillStrategy(**backfill_fields(strategy))


def backfill_from_proto(msg: pb.BackfillStrategy) -> BackfillStrategy:
    """Decode a backfill strategy; it is validated again on this side.

    Raises:
        ValueError: the kind is unspecified or unknown.
        PartitionError: dimension names do not fit the kind.
    """
    return BackfillStrategy.model_validate(backfill_data(msg))


class PartitionsMemo:
    """Converts each distinct definition and mapping of one snapshot once.

    Thousands of assets share a handful of definitions and mappings, and validating a
    time-window definition (cron, calendar, key format) costs far more than the rest of an
    asset; decoding each distinct message once keeps partitioned snapshots about as cheap as
    unpartitioned ones. Models are immutable, so sharing one instance between assets is safe.
    """

    __slots__ = ("_fields", "_models")

    def __init__(self) -> None:
        # Keyed by id(): the snapshot being encoded keeps every model alive meanwhile.
        self._fields: dict[int, dict[str, Any]] = {}
        self._models: dict[tuple[str, bytes], Any] = {}

    def partitions_fields(self, definition: PartitionsDefinition) -> dict[str, Any]:
        """``partitions_fields(definition)``, computed once per definition object."""
        found = self._fields.get(id(definition))
        if found is None:
            found = self._fields[id(definition)] = partitions_fields(definition)
        return found

    def mapping_fields(self, mapping: PartitionMapping) -> dict[str, Any]:
        """``mapping_fields(mapping)``, computed once per mapping object."""
        found = self._fields.get(id(mapping))
        if found is None:
            found = self._fields[id(mapping)] = mapping_fields(mapping)
        return found

    def partitions(self, msg: pb.PartitionsDefinition) -> PartitionsDefinition:
        """``partitions_from_proto(msg)``, decoded once per distinct message."""
        key = ("partitions", msg.SerializeToString())
        found: PartitionsDefinition | None = self._models.get(key)
        if found is None:
            found = self._models[key] = partitions_from_proto(msg)
        return found

    def mapping(self, msg: pb.PartitionMapping) -> PartitionMapping:
        """``mapping_from_proto(msg)``, decoded once per distinct message."""
        key = ("mapping", msg.SerializeToString())
        found: PartitionMapping | None = self._models.get(key)
        if found is None:
            found = self._models[key] = mapping_from_proto(msg)
        return found
