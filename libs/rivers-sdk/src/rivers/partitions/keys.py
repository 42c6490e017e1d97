"""``rs.PartitionKey`` and ``rs.PartitionKeyRange``: user-written selections of partitions.

Both are plain data until expanded against a definition, which validates them and returns
lazy :class:`~rivers.partitions.selection.PartitionKeys`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, model_validator

from rivers.partitions.errors import PartitionError

if TYPE_CHECKING:
    from rivers._proto.rivers.v1 import partitions_pb2
    from rivers.partitions.definition import PartitionsDefinition
    from rivers.partitions.selection import PartitionKeys

__all__ = ["DimensionSelection", "PartitionKey", "PartitionKeyRange"]


def _check_value(value: object, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise PartitionError(f"{where}: partition keys are non-empty strings, got {value!r}")
    return value


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not name or "|" in name:
        raise PartitionError(f"invalid dimension name {name!r}")
    return name


class PartitionKey(BaseModel):
    """One partition key, or for multi definitions one key per dimension (lists allowed).

    Example:
        >>> str(PartitionKey.single("2024-01-15"))
        '2024-01-15'
        >>> PartitionKey.multi({"date": "2024-01-15", "region": ["us", "eu"]}).values
        {'date': ('2024-01-15',), 'region': ('us', 'eu')}
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    key: str | None = None
    dimensions: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @model_validator(mode="after")
    def _check(self) -> PartitionKey:
        if (self.key is None) == (not self.dimensions):
            raise PartitionError("a PartitionKey is either single(key) or multi({dim: value})")
        if self.key is not None:
            _check_value(self.key, "PartitionKey.single")
        for name, values in self.dimensions:
            _check_name(name)
            if not values:
                raise PartitionError(f"PartitionKey.multi: dimension {name!r} has no values")
            for value in values:
                _check_value(value, f"PartitionKey.multi dimension {name!r}")
        return self

    @staticmethod
    def single(key: str) -> PartitionKey:
        """The key ``key`` (of a single-dimension definition, or a full ``"a|b"`` multi key)."""
        return PartitionKey(key=_check_value(key, "PartitionKey.single"))

    @staticmethod
    def multi(values: Mapping[str, str | Sequence[str]]) -> PartitionKey:
        """One value per dimension; a list value means each of those values.

        Every dimension of the definition must be given (use ``PartitionKeyRange.multi`` to
        select all keys of a dimension).
        """
        if not isinstance(values, Mapping) or not values:
            raise PartitionError(
                f"PartitionKey.multi takes a dict of dimension -> key, got {values!r}"
            )
        dims = []
        for name, value in sorted(values.items()):
            listed = (value,) if isinstance(value, str) else tuple(value)
            dims.append((_check_name(name), listed))
        return PartitionKey(dimensions=tuple(dims))

    @property
    def is_multi(self) -> bool:
        """Whether this key names values per dimension."""
        return self.key is None

    @property
    def values(self) -> dict[str, tuple[str, ...]]:
        """The values per dimension of a multi key (``{}`` for a single key)."""
        return dict(self.dimensions)

    def to_proto(self) -> partitions_pb2.PartitionKey:
        """Convert to the wire message (``rivers.v1.PartitionKey``)."""
        from rivers._convert.partition_keys import key_to_proto

        return key_to_proto(self)

    @staticmethod
    def from_proto(msg: partitions_pb2.PartitionKey) -> PartitionKey:
        """Build from the wire message, validating it as the factories do."""
        from rivers._convert.partition_keys import key_from_proto

        return key_from_proto(msg)

    def __str__(self) -> str:
        if self.key is not None:
            return self.key
        return "|".join(
            v[0] if len(v) == 1 else "{" + ",".join(v) + "}" for _, v in self.dimensions
        )

    def expand(
        self,
        definition: PartitionsDefinition,
        storage: object = None,
        *,
        now: datetime | None = None,
    ) -> PartitionKeys:
        """The concrete, validated keys this key denotes in ``definition``.

        Example:
            >>> key = PartitionKey.multi({"date": "2024-01-15", "region": ["us", "eu"]})
            >>> list(key.expand(date_region))  # doctest: +SKIP
            ['2024-01-15|eu', '2024-01-15|us']
        """
        return definition.resolve(self, storage, now=now)


class DimensionSelection(BaseModel):
    """What a :class:`PartitionKeyRange` selects of one dimension: keys, or a range."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    keys: tuple[str, ...] = ()
    start: str | None = None
    end: str | None = None

    @model_validator(mode="after")
    def _check(self) -> DimensionSelection:
        is_range = self.start is not None or self.end is not None
        if is_range == bool(self.keys) or (is_range and (self.start is None or self.end is None)):
            raise PartitionError("a dimension selects either keys or a (start, end) range")
        for value in (*self.keys, self.start, self.end):
            if value is not None:
                _check_value(value, "PartitionKeyRange.multi")
        return self


class PartitionKeyRange(BaseModel):
    """An inclusive range of keys, or for multi definitions a selection per dimension.

    Example:
        >>> PartitionKeyRange.single("2024-01-01", "2024-01-31").end
        '2024-01-31'
        >>> r = PartitionKeyRange.multi({"date": ("2024-01-01", "2024-01-07"), "region": ["us"]})
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    start: str | None = None
    end: str | None = None
    dimensions: tuple[tuple[str, DimensionSelection], ...] = ()

    @model_validator(mode="after")
    def _check(self) -> PartitionKeyRange:
        single = self.start is not None or self.end is not None
        if single == bool(self.dimensions) or (single and (self.start is None or self.end is None)):
            raise PartitionError(
                "a PartitionKeyRange is either single(start, end) or multi({dim: selection})"
            )
        if single:
            _check_value(self.start, "PartitionKeyRange.single start")
            _check_value(self.end, "PartitionKeyRange.single end")
        for name, _ in self.dimensions:
            _check_name(name)
        return self

    @staticmethod
    def single(start: str | PartitionKey, end: str | PartitionKey) -> PartitionKeyRange:
        """Keys from ``start`` to ``end``, both included, in definition order.

        Whether ``start`` comes before ``end`` is checked when the range is expanded against a
        definition (PartitionError otherwise).
        """
        return PartitionKeyRange(start=str(start), end=str(end))

    @staticmethod
    def multi(
        dimensions: Mapping[str, str | tuple[str, str] | Sequence[str]],
    ) -> PartitionKeyRange:
        """Per dimension: ``(start, end)`` (inclusive range), ``[keys]``, or ``"key"``.

        A dimension that is not named selects all of its keys.
        """
        if not isinstance(dimensions, Mapping) or not dimensions:
            raise PartitionError(
                "PartitionKeyRange.multi takes a dict of dimension -> selection, got "
                f"{dimensions!r}"
            )
        dims = []
        for name, value in sorted(dimensions.items()):
            if isinstance(value, str):
                selection = DimensionSelection(keys=(value,))
            elif isinstance(value, tuple):
                if len(value) != 2:
                    raise PartitionError(
                        f"dimension {name!r}: a range is a (start, end) tuple, got {value!r}"
                    )
                selection = DimensionSelection(start=value[0], end=value[1])
            elif isinstance(value, Sequence) and value:
                selection = DimensionSelection(keys=tuple(value))
            else:
                raise PartitionError(
                    f"dimension {name!r}: expected 'key', ['key', ...] or ('start', 'end'), "
                    f"got {value!r}"
                )
            dims.append((_check_name(name), selection))
        return PartitionKeyRange(dimensions=tuple(dims))

    def to_proto(self) -> partitions_pb2.PartitionKeyRange:
        """Convert to the wire message (``rivers.v1.PartitionKeyRange``)."""
        from rivers._convert.partition_keys import key_range_to_proto

        return key_range_to_proto(self)

    @staticmethod
    def from_proto(msg: partitions_pb2.PartitionKeyRange) -> PartitionKeyRange:
        """Build from the wire message, validating it as the factories do."""
        from rivers._convert.partition_keys import key_range_from_proto

        return key_range_from_proto(msg)

    @property
    def is_multi(self) -> bool:
        """Whether this range selects per dimension."""
        return not (self.start or self.end)

    def expand(
        self,
        definition: PartitionsDefinition,
        storage: object = None,
        *,
        now: datetime | None = None,
    ) -> PartitionKeys:
        """The validated keys of this range in ``definition`` (lazy; a range stays O(1))."""
        return definition.resolve(self, storage, now=now)
