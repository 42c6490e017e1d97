"""Typed metadata values attached to assets, outputs and materializations."""

from __future__ import annotations

import builtins
import datetime as dt
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["MetadataKind", "MetadataValue", "normalize_metadata"]

MetadataKind = Literal["int", "float", "text", "json", "url", "path", "md", "bool", "timestamp"]


class MetadataValue(BaseModel):
    """One typed metadata value; build it with the static factories.

    Example:
        >>> MetadataValue.int(42)
        MetadataValue(kind='int', value=42)
    """

    model_config = ConfigDict(frozen=True)

    kind: MetadataKind
    value: Any

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
        json.dumps(value, allow_nan=False)  # NaN/inf are not JSON; stored they'd become null
        return MetadataValue(kind="json", value=value)

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
    try:
        return MetadataValue.json(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"metadata value {value!r} is not JSON-serialisable; wrap it in a MetadataValue"
        ) from exc


def normalize_metadata(raw: dict[str, Any] | None) -> dict[str, MetadataValue]:
    """Turn a user metadata dict into typed values, inferring the kind of plain values.

    Raises:
        TypeError: a value is neither a MetadataValue nor JSON-serialisable.
    """
    if not raw:
        return {}
    return {str(k): _infer(v) for k, v in raw.items()}
