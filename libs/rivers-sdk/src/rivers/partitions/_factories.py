"""The static factories of ``PartitionsDefinition`` and the checks of their arguments."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, Self

from pydantic import BaseModel, ValidationError

from rivers.partitions.errors import PartitionError

__all__ = ["Factories", "check_dims", "check_static_keys"]

Start = datetime | date | str


def check_static_keys(keys: Sequence[str]) -> None:
    """Raise unless ``keys`` are unique, non-empty strings without ``|`` or outer spaces."""
    if not keys:
        raise PartitionError("static partitions need at least one key, e.g. static_(['us', 'eu'])")
    seen: set[str] = set()
    for key in keys:
        if not isinstance(key, str) or not key or "|" in key or key != key.strip():
            raise PartitionError(
                f"invalid static partition key {key!r}: keys are non-empty strings without '|' "
                "or surrounding spaces, e.g. 'us'"
            )
        if key in seen:
            raise PartitionError(f"static partition key {key!r} is given twice")
        seen.add(key)


def check_dims(dims: Sequence[tuple[str, Any]]) -> None:
    """Raise unless a multi definition has >= 2 uniquely named, non-multi dimensions."""
    if len(dims) < 2:
        raise PartitionError(
            "multi partitions need at least 2 dimensions, e.g. "
            "multi({'date': daily, 'region': regions})"
        )
    names = [name for name, _ in dims]
    for name, dim in dims:
        if not isinstance(name, str) or not name or "|" in name or name != name.strip():
            raise PartitionError(f"invalid dimension name {name!r}: a non-empty string without '|'")
        if dim.kind == "multi":
            raise PartitionError(
                f"dimension {name!r} is itself multi: multi partitions do not nest"
            )
    if len(set(names)) != len(names):
        raise PartitionError(f"dimension names must be unique, got {names}")


def _offset(value: int, low: int, high: int, what: str) -> int:
    if not isinstance(value, int) or not low <= value <= high:
        raise PartitionError(f"{what} must be an integer from {low} to {high}, got {value!r}")
    return value


class Factories(BaseModel):
    """Static factories of :class:`PartitionsDefinition` (kept apart to keep modules small)."""

    @classmethod
    def _make(cls, fields: dict[str, Any]) -> Self:
        try:
            return cls.model_validate(fields)
        except ValidationError as exc:
            raise PartitionError(f"invalid {fields.get('kind')} partitions: {exc}") from None

    @classmethod
    def static_(cls, keys: Sequence[str]) -> Self:
        """A fixed list of keys, in the given order.

        Example:
            >>> PartitionsDefinition.static_(["us", "eu"]).count()
            2
        """
        if isinstance(keys, str) or not isinstance(keys, Sequence):
            raise PartitionError(f"static_ takes a list of keys, got {keys!r}")
        check_static_keys(keys)
        return cls._make({"kind": "static", "keys": tuple(keys)})

    @classmethod
    def dynamic(cls, name: str) -> Self:
        """Keys kept in storage under ``name``, added and removed at run time.

        Example:
            >>> customers = PartitionsDefinition.dynamic("customers")
            >>> storage.add_dynamic_partitions("customers", ["acme"])  # doctest: +SKIP
            >>> customers.count(storage)  # doctest: +SKIP
            1
        """
        if not isinstance(name, str):
            raise PartitionError(f"dynamic partitions need a name string, got {name!r}")
        return cls._make({"kind": "dynamic", "name": name})

    @classmethod
    def multi(cls, dimensions: Mapping[str, Self]) -> Self:
        """The product of >= 2 named, non-multi dimensions of any kinds.

        Keys are ``"v1|v2|..."`` with values in dimension-name order; enumeration varies the
        last dimension (in name order) fastest.

        Example:
            >>> m = PartitionsDefinition.multi({
            ...     "region": PartitionsDefinition.static_(["us", "eu"]),
            ...     "date": PartitionsDefinition.daily(start="2024-01-01"),
            ... })
            >>> m.key_at(0)
            '2024-01-01|us'
        """
        if not isinstance(dimensions, Mapping):
            raise PartitionError(f"multi takes a dict of name -> definition, got {dimensions!r}")
        for name, dim in dimensions.items():
            if not isinstance(dim, cls):
                raise PartitionError(f"dimension {name!r} must be a PartitionsDefinition")
        check_dims(list(dimensions.items()))
        return cls._make({"kind": "multi", "dims": dict(dimensions)})

    @classmethod
    def time_window(
        cls,
        start: Start,
        cron_schedule: str,
        fmt: str | None = None,
        end: Start | None = None,
        timezone: str = "UTC",
        end_offset: int = 0,
    ) -> Self:
        """Windows between consecutive ticks of a cron schedule, from ``start``.

        Args:
            start: The first window starts at the first tick at or after it; a naive datetime
                or ``"YYYY-MM-DD[ HH:MM[:SS]]"`` string is in ``timezone``.
            cron_schedule: 5 fields, or 6 with leading seconds (``"*/30 * * * * *"``).
            fmt: strftime format of keys (the window start). Default by cadence:
                ``%Y-%m-%d`` (daily and coarser), ``%Y-%m-%d-%H:%M``, ``%Y-%m-%d-%H:%M:%S``
                (sub-minute), plus ``%z`` for sub-daily keys in a zone with DST.
            end: Windows end at or before it. ``None``: up to ``now``.
            timezone: IANA zone of the cron schedule and of the keys.
            end_offset: Extra windows after the last ended one (may reach into the future).

        Example:
            >>> tw = PartitionsDefinition.time_window(start="2024-01-01",
            ...                                       cron_schedule="*/30 * * * * *")
            >>> tw.key_at(1, now=datetime(2024, 1, 2, tzinfo=UTC))
            '2024-01-01-00:00:30'
        """
        return cls._make(
            {
                "kind": "time_window",
                "start": start,
                "cron_schedule": cron_schedule,
                "fmt": fmt,
                "end": end,
                "timezone": timezone,
                "end_offset": end_offset,
            }
        )

    @classmethod
    def hourly(
        cls,
        start: Start,
        end: Start | None = None,
        timezone: str = "UTC",
        fmt: str | None = None,
        end_offset: int = 0,
        minute_offset: int = 0,
    ) -> Self:
        """One window per hour from ``start`` (``minute_offset`` minutes past the hour).

        Keys: ``%Y-%m-%d-%H:%M``, plus the UTC offset (``%z``) in a zone with DST so that the
        repeated hour when clocks go back gets distinct keys.

        Example:
            >>> PartitionsDefinition.hourly(start="2024-01-01").fmt
            '%Y-%m-%d-%H:%M'
        """
        minute = _offset(minute_offset, 0, 59, "minute_offset")
        return cls.time_window(start, f"{minute} * * * *", fmt, end, timezone, end_offset)

    @classmethod
    def daily(
        cls,
        start: Start,
        end: Start | None = None,
        timezone: str = "UTC",
        fmt: str | None = None,
        end_offset: int = 0,
        hour_offset: int = 0,
        minute_offset: int = 0,
    ) -> Self:
        """One window per local day from ``start``; keys ``%Y-%m-%d``.

        Days follow the local calendar, so across DST a window lasts 23 or 25 hours.

        Example:
            >>> PartitionsDefinition.daily(start=datetime(2024, 1, 1)).key_at(0)
            '2024-01-01'
        """
        hour = _offset(hour_offset, 0, 23, "hour_offset")
        minute = _offset(minute_offset, 0, 59, "minute_offset")
        return cls.time_window(start, f"{minute} {hour} * * *", fmt, end, timezone, end_offset)

    @classmethod
    def weekly(
        cls,
        start: Start,
        end: Start | None = None,
        timezone: str = "UTC",
        fmt: str | None = None,
        end_offset: int = 0,
        day_offset: int = 0,
        hour_offset: int = 0,
        minute_offset: int = 0,
    ) -> Self:
        """One window per week, starting on weekday ``day_offset`` (0 = Sunday, as Dagster).

        Example:
            >>> PartitionsDefinition.weekly(start="2024-01-01").key_at(0)  # first Sunday
            '2024-01-07'
        """
        day = _offset(day_offset, 0, 6, "day_offset")
        hour = _offset(hour_offset, 0, 23, "hour_offset")
        minute = _offset(minute_offset, 0, 59, "minute_offset")
        cron = f"{minute} {hour} * * {day}"
        return cls.time_window(start, cron, fmt, end, timezone, end_offset)

    @classmethod
    def monthly(
        cls,
        start: Start,
        end: Start | None = None,
        timezone: str = "UTC",
        fmt: str | None = None,
        end_offset: int = 0,
        day_offset: int = 1,
        hour_offset: int = 0,
        minute_offset: int = 0,
    ) -> Self:
        """One window per month, starting on day ``day_offset`` (1-28) of the month.

        Example:
            >>> PartitionsDefinition.monthly(start="2024-01-01").key_at(1)
            '2024-02-01'
        """
        day = _offset(day_offset, 1, 28, "day_offset")
        hour = _offset(hour_offset, 0, 23, "hour_offset")
        minute = _offset(minute_offset, 0, 59, "minute_offset")
        cron = f"{minute} {hour} {day} * *"
        return cls.time_window(start, cron, fmt, end, timezone, end_offset)
