"""Conversions of the shared messages in ``rivers/v1/common.proto``.

JSON values use rivers' own ``JsonValue`` rather than ``google.protobuf.Value``: the latter turns
every number into a double and every object into an unordered map, so ``{"b": 1, "a": 2}``
would come back as ``{"a": 2.0, "b": 1.0}`` and change the content hash of a snapshot.

Two kinds of helper serve the large messages (snapshots, plans), where building one message
object per nested value would dominate the cost:

* ``*_fields`` return the keyword arguments of a message, with nested messages as plain dicts;
  upb builds the whole nested message in C from those.
* ``*_data`` return the input of a pydantic model (nested models as plain dicts), so that one
  ``model_validate`` call builds and checks the whole model tree in pydantic-core.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from rivers._proto.rivers.v1 import common_pb2 as pb
from rivers.definitions.metadata import MetadataKind, MetadataValue
from rivers.definitions.retry import RetryPolicy
from rivers.execution.events import ErrorInfo

__all__ = [
    "error_data",
    "error_fields",
    "error_from_proto",
    "error_to_proto",
    "json_fields",
    "json_from_proto",
    "json_object_fields",
    "json_object_from_proto",
    "json_to_proto",
    "metadata_data",
    "metadata_fields",
    "metadata_from_proto",
    "metadata_to_proto",
    "retry_data",
    "retry_fields",
    "retry_from_proto",
    "retry_to_proto",
    "tags_fields",
]

# google.protobuf.NullValue.NULL_VALUE, the enum's only value (protobuf ships no type stubs).
_NULL_VALUE = 0
_BACKOFF_TO_PROTO: dict[Literal["constant", "linear", "exponential"], pb.Backoff] = {
    "constant": pb.BACKOFF_CONSTANT,
    "linear": pb.BACKOFF_LINEAR,
    "exponential": pb.BACKOFF_EXPONENTIAL,
}
_BACKOFF_FROM_PROTO = {v: k for k, v in _BACKOFF_TO_PROTO.items()}
# Each metadata kind travels in the oneof member "<kind>_value".
_KINDS: tuple[MetadataKind, ...] = (
    "int",
    "float",
    "text",
    "json",
    "url",
    "path",
    "md",
    "bool",
    "timestamp",
)
_FIELD_OF_KIND = {kind: f"{kind}_value" for kind in _KINDS}
_KIND_OF_FIELD = {field: kind for kind, field in _FIELD_OF_KIND.items()}


def json_fields(value: Any) -> dict[str, Any]:
    """Keyword arguments of the ``JsonValue`` for ``value`` (ints stay ints, key order kept).

    Raises:
        TypeError: ``value`` is not JSON (``json.dumps`` would reject it).
        ValueError: an int does not fit in 64 bits (raised when the message is built).
    """
    # bool before int: bool is an int subclass.
    if value is None:
        return {"null_value": _NULL_VALUE}
    if isinstance(value, bool):
        return {"bool_value": value}
    if isinstance(value, int):
        return {"int_value": value}
    if isinstance(value, float):
        return {"double_value": value}
    if isinstance(value, str):
        return {"string_value": value}
    if isinstance(value, list | tuple):
        return {"array_value": {"values": [json_fields(v) for v in value]}}
    if isinstance(value, dict):
        return {"object_value": json_object_fields(value)}
    raise TypeError(f"{type(value).__name__} is not a JSON value: {value!r}")


def json_object_fields(value: Mapping[Any, Any]) -> dict[str, Any]:
    """Keyword arguments of a ``JsonObject``; other keys become strings as ``json.dumps`` does."""
    return {
        "fields": [
            {"key": k if isinstance(k, str) else json.dumps(k), "value": json_fields(v)}
            for k, v in value.items()
        ]
    }


def json_to_proto(value: Any) -> pb.JsonValue:
    """Encode a JSON-serialisable value.

    Raises:
        TypeError: ``value`` is not JSON.
        ValueError: an int does not fit in 64 bits.
    """
    return pb.JsonValue(**json_fields(value))


def json_from_proto(msg: pb.JsonValue) -> Any:
    """Decode a JSON value (arrays become lists, objects dicts in their wire order).

    Raises:
        ValueError: the message or a nested one has no member set.
    """
    which = msg.WhichOneof("kind")
    if which == "object_value":
        return json_object_from_proto(msg.object_value)
    if which == "array_value":
        return [json_from_proto(v) for v in msg.array_value.values]
    if which == "null_value":
        return None
    if which is None:
        raise ValueError("JsonValue has no value set")
    return getattr(msg, which)


def json_object_from_proto(msg: pb.JsonObject) -> dict[str, Any]:
    """Decode a JSON object, keeping its field order."""
    return {f.key: json_from_proto(f.value) for f in msg.fields}


def metadata_fields(values: Mapping[str, MetadataValue]) -> list[dict[str, Any]]:
    """Keyword arguments of the ``MetadataEntry`` messages for ``values``, in order.

    Raises:
        KeyError: a value has an unknown kind.
    """
    return [
        {
            "key": k,
            "value": (
                {"json_value": json_fields(v.value)}
                if v.kind == "json"
                else {_FIELD_OF_KIND[v.kind]: v.value}
            ),
        }
        for k, v in values.items()
    ]


def metadata_data(entries: Iterable[pb.MetadataEntry]) -> dict[str, dict[str, Any]]:
    """Model input for a metadata dictionary, in entry order.

    Raises:
        ValueError: an entry has no value set.
    """
    data: dict[str, dict[str, Any]] = {}
    for entry in entries:
        msg = entry.value
        which = msg.WhichOneof("value")
        if which is None:
            raise ValueError(f"metadata entry {entry.key!r} has no value set")
        value = json_from_proto(msg.json_value) if which == "json_value" else getattr(msg, which)
        data[entry.key] = {"kind": _KIND_OF_FIELD[which], "value": value}
    return data


def metadata_to_proto(values: Mapping[str, MetadataValue]) -> list[pb.MetadataEntry]:
    """Encode a metadata dictionary as ordered entries.

    Raises:
        TypeError: a value does not match its kind.
        ValueError: an int does not fit in 64 bits.
    """
    return [pb.MetadataEntry(**fields) for fields in metadata_fields(values)]


def metadata_from_proto(entries: Iterable[pb.MetadataEntry]) -> dict[str, MetadataValue]:
    """Decode ordered metadata entries into a dictionary in the same order.

    Raises:
        ValueError: an entry has no value set.
    """
    return {k: MetadataValue.model_validate(v) for k, v in metadata_data(entries).items()}


def tags_fields(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """Keyword arguments of the ``StringEntry`` messages for ``tags``, in order."""
    return [{"key": k, "value": v} for k, v in tags.items()]


def error_fields(error: ErrorInfo) -> dict[str, Any]:
    """Keyword arguments of the ``ErrorInfo`` message for ``error``."""
    return {"error_type": error.error_type, "message": error.message, "traceback": error.traceback}


def error_data(msg: pb.ErrorInfo) -> dict[str, Any]:
    """Model input for a user-code error."""
    return {"error_type": msg.error_type, "message": msg.message, "traceback": msg.traceback}


def error_to_proto(error: ErrorInfo) -> pb.ErrorInfo:
    """Encode a user-code error."""
    return pb.ErrorInfo(**error_fields(error))


def error_from_proto(msg: pb.ErrorInfo) -> ErrorInfo:
    """Decode a user-code error."""
    return ErrorInfo.model_validate(error_data(msg))


def retry_fields(policy: RetryPolicy) -> dict[str, Any]:
    """Keyword arguments of the ``RetryPolicy`` message for ``policy``."""
    return {
        "max_retries": policy.max_retries,
        "delay": policy.delay,
        "backoff": _BACKOFF_TO_PROTO[policy.backoff],
        "max_delay": policy.max_delay,
        "jitter": policy.jitter,
    }


def retry_data(msg: pb.RetryPolicy) -> dict[str, Any]:
    """Model input for a retry policy.

    Raises:
        ValueError: the backoff is unspecified or unknown.
    """
    backoff = _BACKOFF_FROM_PROTO.get(msg.backoff)
    if backoff is None:
        raise ValueError(f"RetryPolicy.backoff: unsupported value {msg.backoff}")
    return {
        "max_retries": msg.max_retries,
        "delay": msg.delay,
        "backoff": backoff,
        "max_delay": msg.max_delay if msg.HasField("max_delay") else None,
        "jitter": msg.jitter,
    }


def retry_to_proto(policy: RetryPolicy) -> pb.RetryPolicy:
    """Encode a retry policy."""
    return pb.RetryPolicy(**retry_fields(policy))


def retry_from_proto(msg: pb.RetryPolicy) -> RetryPolicy:
    """Decode a retry policy; its bounds are validated again on this side.

    Raises:
        ValueError: the backoff is unspecified or unknown, or a bound is violated.
    """
    return RetryPolicy.model_validate(retry_data(msg))
