"""Typed metadata values attached to assets, outputs and materializations."""

from __future__ import annotations

import builtins
import datetime as dt
import json
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator

__all__ = ["MetadataKind", "MetadataValue", "normalize_metadata", "normalize_tags"]

MetadataKind = Literal["int", "float", "text", "json", "url", "path", "md", "bool", "timestamp"]


class MetadataValue(BaseModel):
    """One typed metadata value; build it with the static factories.

    Example:
        >>> MetadataValue.int(42)
        MetadataValue(kind='int', value=42)
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    kind: MetadataKind
    value: Any

    @field_validator("value")
    @classmethod
    def _value_matches_kind(cls, value: Any, info: ValidationInfo) -> Any:
        # Values built directly (not through the factories) or read back from storage and
        # the wire are held to what their kind promises, so every transport carries them.
        kind = info.data.get("kind")
        if kind == "int":
            if isinstance(value, builtins.bool) or not isinstance(value, builtins.int):
                raise ValueError(f"an int metadata value must be an int, not {value!r}")
            if not -(2**63) <= value < 2**63:
                raise ValueError(f"int metadata value {value} does not fit in 64 bits")
            return value
        if kind in ("float", "timestamp"):
            if isinstance(value, builtins.bool) or not isinstance(value, builtins.int | float):
                raise ValueError(f"a {kind} metadata value must be a number, not {value!r}")
            return builtins.float(value)
        if kind == "bool":
            if not isinstance(value, builtins.bool):
                raise ValueError(f"a bool metadata value must be a bool, not {value!r}")
            return value
        if kind == "json":
            # The JSON form itself: tuples become lists and keys strings, as when stored.
            return json.loads(json.dumps(value, allow_nan=False))
        if not isinstance(value, str):
            raise ValueError(f"a {kind} metadata value must be a string, not {value!r}")
        return value

    @staticmethod
    def int(value: builtins.int) -> MetadataValue:
        """An integer (row counts, status codes)."""
        return MetadataValue(kind="int", value=builtins.int(value))

    @staticmethod
    def float(value: builtins.float) -> MetadataValue:
        """A floating point number."""
        return MetadataValue(kind="float", value=builtins.float(value))

    @staticmethod
    def text(value: str) -> MetadataValue:
        """Plain text."""
        return MetadataValue(kind="text", value=str(value))

    @staticmethod
    def json(value: Any) -> MetadataValue:  # type: ignore[override]  # replaces pydantic's deprecated .json()
        """A JSON-serialisable structure (checked now, not when it is stored)."""
        try:
            return MetadataValue(kind="json", value=value)
        except ValidationError as exc:  # not JSON-serialisable, or NaN/inf (stored as null)
            raise ValueError(
                f"metadata value {value!r} is not JSON: {exc.errors()[0]['msg']}"
            ) from None

    @staticmethod
    def url(value: str) -> MetadataValue:
        """A link shown as such in the UI."""
        return MetadataValue(kind="url", value=str(value))

    @staticmethod
    def path(value: str) -> MetadataValue:
        """A filesystem or object-store path."""
        return MetadataValue(kind="path", value=str(value))

    @staticmethod
    def md(value: str) -> MetadataValue:
        """Markdown text."""
        return MetadataValue(kind="md", value=str(value))

    @staticmethod
    def bool(value: builtins.bool) -> MetadataValue:
        """A boolean flag."""
        return MetadataValue(kind="bool", value=builtins.bool(value))

    @staticmethod
    def timestamp(value: dt.datetime | builtins.float) -> MetadataValue:
        """A point in time, stored as POSIX seconds (naive datetimes are taken as UTC)."""
        if isinstance(value, dt.datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=dt.UTC)
            return MetadataValue(kind="timestamp", value=value.timestamp())
        return MetadataValue(kind="timestamp", value=builtins.float(value))


def _infer(value: Any) -> MetadataValue:
    # bool before int: bool is an int subclass.
    if isinstance(value, MetadataValue):
        return value
    if isinstance(value, bool):
        return MetadataValue.bool(value)
    if isinstance(value, int):
        return MetadataValue.int(value)
    if isinstance(value, float):
        return MetadataValue.float(value)
    if isinstance(value, str):
        return MetadataValue.text(value)
    if isinstance(value, dt.datetime):
        return MetadataValue.timestamp(value)
    return MetadataValue.json(value)


def normalize_metadata(raw: dict[str, Any] | None) -> dict[str, MetadataValue]:
    """Turn a user metadata dict into typed values, inferring the kind of plain values.

    Raises:
        TypeError: a value cannot be metadata (not JSON-serialisable, NaN in JSON, an int
            beyond 64 bits); the message names the key.
    """
    if not raw:
        return {}
    out: dict[str, MetadataValue] = {}
    for key, value in raw.items():
        try:
            out[str(key)] = _infer(value)
        except (TypeError, ValueError) as exc:
            reason = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
            raise TypeError(
                f"metadata {key!r}: {reason}; pass a JSON-serialisable value or a MetadataValue"
            ) from None
    return out


def normalize_tags(tags: Mapping[str, Any] | None) -> dict[str, str]:
    """Check that tags map strings to strings and return a copy.

    Raises:
        TypeError: a key or value is not a string (the message lists the offending keys).
    """
    if not tags:
        return {}
    bad = [k for k, v in tags.items() if not isinstance(k, str) or not isinstance(v, str)]
    if bad:
        raise TypeError(f"tags must map strings to strings; bad keys: {bad}")
    return dict(tags)
