"""``rs.PartitionMapping``: which upstream partitions a downstream partition reads.

Mappings are plain data (they go into the definitions snapshot). ``upstream_keys`` maps a
downstream selection to the upstream keys it depends on, ``downstream_keys`` the reverse (for
automation).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, model_validator

from rivers.partitions import _mapping_ops as ops
from rivers.partitions._axes import build_axes, describe, key_error
from rivers.partitions.errors import PartitionError
from rivers.partitions.keys import PartitionKey
from rivers.partitions.selection import PartitionKeys

if TYPE_CHECKING:
    from rivers._proto.rivers.v1 import partitions_pb2
    from rivers.partitions.definition import PartitionsDefinition

__all__ = ["PartitionMapping"]

MappingKind = Literal["identity", "time_window", "for_keys", "subset", "all", "last", "multi"]
_PER_DIMENSION = ("identity", "time_window", "for_keys", "all", "last")


class PartitionMapping(BaseModel):
    """How a downstream partition depends on upstream partitions. Build one with a factory.

    Example:
        >>> daily = PartitionsDefinition.daily(start="2024-01-01")
        >>> day = daily.resolve("2024-01-10")
        >>> list(PartitionMapping.time_window(offset=-1).upstream_keys(day, daily))
        ['2024-01-09']
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    kind: MappingKind
    start_offset: int = 0
    end_offset: int = 0
    keys: tuple[PartitionKey, ...] = ()
    dimension: str | None = None
    dims: tuple[tuple[str, PartitionMapping], ...] = ()

    @model_validator(mode="after")
    def _check(self) -> PartitionMapping:
        if self.kind != "time_window" and (self.start_offset or self.end_offset):
            raise PartitionError("offsets belong to time_window() mappings")
        if self.start_offset > self.end_offset:
            raise PartitionError(
                f"start_offset {self.start_offset} is after end_offset {self.end_offset}: the "
                "mapped range would be empty"
            )
        if (self.kind == "for_keys") != bool(self.keys):
            raise PartitionError("for_keys() needs at least one key (and only it takes keys)")
        if self.dimension is not None and self.kind != "subset":
            raise PartitionError("only subset() takes a dimension")
        if (self.kind == "multi") != bool(self.dims):
            raise PartitionError("multi() needs at least one dimension mapping")
        for name, inner in self.dims:
            if inner.kind not in _PER_DIMENSION:
                raise PartitionError(
                    f"multi(): dimension {name!r} cannot use {inner.kind}(); per-dimension "
                    f"mappings are {', '.join(_PER_DIMENSION)}"
                )
        return self

    # -- factories ----------------------------------------------------------------------------

    @staticmethod
    def identity() -> PartitionMapping:
        """Each downstream key reads the upstream key with the same name."""
        return PartitionMapping(kind="identity")

    @staticmethod
    def time_window(
        offset: int | None = None, *, start_offset: int = 0, end_offset: int = 0
    ) -> PartitionMapping:
        """Upstream windows overlapping the downstream window, shifted by offsets.

        Offsets count partitions of the *downstream* definition, as in Dagster >= 1.7.4: the
        downstream window is widened to run from the start of the window ``start_offset``
        partitions away to the end of the window ``end_offset`` partitions away, and every
        upstream window overlapping that span is read. So the meaning of an offset does not
        depend on the upstream cadence: ``offset=-1`` always means "the previous downstream
        period". With daily assets it reads the previous day, and ``start_offset=-1,
        end_offset=0`` the previous day and the same day; a daily asset reading an hourly one
        with ``offset=-1`` reads the 24 hours of the previous day; an hourly asset reading a
        daily one with ``offset=-1`` reads the day containing the previous hour. Windows
        outside the existing upstream partitions are dropped, not an error.

        Example:
            >>> PartitionMapping.time_window(offset=-1).start_offset
            -1
        """
        if offset is not None:
            start_offset = end_offset = offset
        return PartitionMapping(
            kind="time_window", start_offset=start_offset, end_offset=end_offset
        )

    @staticmethod
    def for_keys(keys: Sequence[PartitionKey | str]) -> PartitionMapping:
        """Every downstream partition reads exactly these upstream keys.

        Example:
            >>> PartitionMapping.for_keys([PartitionKey.single("a"), "b"]).keys[1].key
            'b'
        """
        if isinstance(keys, str | PartitionKey):
            keys = [keys]
        listed = tuple(k if isinstance(k, PartitionKey) else PartitionKey.single(k) for k in keys)
        return PartitionMapping(kind="for_keys", keys=listed)

    @staticmethod
    def subset(dimension: str | None = None) -> PartitionMapping:
        """Match shared dimensions: a multi key reads the keys agreeing on shared dimensions.

        Upstream ``daily`` and downstream ``multi(date, region)``: ``2024-01-15|us`` reads
        ``2024-01-15``. Reversed, a daily ``2024-01-15`` reads every ``2024-01-15|<region>``.
        ``dimension`` names the matching dimension when several equal the other definition.
        """
        return PartitionMapping(kind="subset", dimension=dimension)

    @staticmethod
    def all() -> PartitionMapping:
        """Every downstream partition (or an unpartitioned asset) reads every upstream key."""
        return PartitionMapping(kind="all")

    @staticmethod
    def last() -> PartitionMapping:
        """Every downstream partition reads the last upstream key (at the time of the run)."""
        return PartitionMapping(kind="last")

    @staticmethod
    def multi(mappings: Mapping[str, PartitionMapping]) -> PartitionMapping:
        """Per-dimension mappings between multi definitions with the same dimensions.

        Dimensions not listed map with ``identity()``.

        Example:
            >>> PartitionMapping.multi({"date": PartitionMapping.time_window(offset=-1)}).kind
            'multi'
        """
        if not isinstance(mappings, Mapping) or not mappings:
            raise PartitionError("multi() takes a dict of dimension name -> PartitionMapping")
        return PartitionMapping(kind="multi", dims=tuple(sorted(mappings.items())))

    # -- wire ---------------------------------------------------------------------------------

    def to_proto(self) -> partitions_pb2.PartitionMapping:
        """Convert to the wire message (``rivers.v1.PartitionMapping``)."""
        from rivers._convert.partitions import mapping_to_proto

        return mapping_to_proto(self)

    @staticmethod
    def from_proto(msg: partitions_pb2.PartitionMapping) -> PartitionMapping:
        """Build from the wire message, validating it as the factories do."""
        from rivers._convert.partitions import mapping_from_proto

        return mapping_from_proto(msg)

    # -- behaviour ----------------------------------------------------------------------------

    def validate(  # type: ignore[override]  # replaces pydantic's deprecated v1 classmethod
        self, upstream_def: PartitionsDefinition | None, downstream_def: PartitionsDefinition | None
    ) -> None:
        """Raise PartitionError when this mapping cannot apply between the two definitions."""
        if upstream_def is None:
            raise PartitionError(f"{self.kind}() needs a partitioned upstream asset")
        if self.kind in ("all", "last"):
            return
        if self.kind == "for_keys":
            for key in self.keys:
                _check_fixed_key(upstream_def, key)
            return
        if downstream_def is None:
            raise PartitionError(
                f"{self.kind}() needs a partitioned downstream asset (use all(), last() or "
                "for_keys() for an unpartitioned one)"
            )
        steps = ops.plan(self, downstream_def, upstream_def)
        up_dims = list(upstream_def.dimensions.values()) or [upstream_def]
        down_dims = list(downstream_def.dimensions.values()) or [downstream_def]
        for up_dim, (src, inner) in zip(up_dims, steps, strict=True):
            if src is None or inner is None:
                continue
            if inner.kind == "time_window" and not (
                up_dim.is_time_window and down_dims[src].is_time_window
            ):
                raise PartitionError(
                    f"time_window() maps time-window partitions, not {describe(down_dims[src])} "
                    f"to {describe(up_dim)}"
                )
            if inner.kind == "for_keys":
                for key in inner.keys:
                    _check_fixed_key(up_dim, key)

    def upstream_keys(
        self,
        downstream: PartitionKeys | Sequence[str] | None,
        upstream_def: PartitionsDefinition,
        *,
        storage: object = None,
        now: datetime | None = None,
        downstream_def: PartitionsDefinition | None = None,
    ) -> PartitionKeys:
        """The upstream keys that the downstream keys read, clipped to existing upstream keys.

        Args:
            downstream: Downstream keys (``None``: an unpartitioned downstream asset). A plain
                list of keys is read in ``downstream_def``, by default ``upstream_def``.
            upstream_def: The upstream asset's definition.
            storage: Needed for dynamic partitions.
            now: The current time for time windows (default: now).
            downstream_def: The definition of a plain list of downstream keys.
        """
        moment = now if now is not None else datetime.now(UTC)
        axes = build_axes(upstream_def, storage, moment)
        if downstream is not None and not len(downstream):
            return PartitionKeys.empty(upstream_def, axes)
        if self.kind == "all":
            return PartitionKeys.full(upstream_def, axes)
        if self.kind == "last":
            return PartitionKeys.full(upstream_def, axes)[-1:]
        if self.kind == "for_keys":
            return _lenient(upstream_def, self.keys, storage, moment)
        down = _as_keys(downstream, downstream_def or upstream_def, storage, moment)
        if down is None:
            raise PartitionError(f"{self.kind}() needs downstream partition keys")
        return ops.upstream(self, down, upstream_def, axes)

    def downstream_keys(
        self,
        upstream: PartitionKeys | Sequence[str],
        downstream_def: PartitionsDefinition,
        *,
        storage: object = None,
        now: datetime | None = None,
        upstream_def: PartitionsDefinition | None = None,
    ) -> PartitionKeys:
        """The downstream keys that read any of the ``upstream`` keys (for automation).

        A plain list of keys is read in ``upstream_def``, by default ``downstream_def``.
        """
        moment = now if now is not None else datetime.now(UTC)
        axes = build_axes(downstream_def, storage, moment)
        up = _as_keys(upstream, upstream_def or downstream_def, storage, moment)
        if up is None or not len(up):
            return PartitionKeys.empty(downstream_def, axes)
        everything = PartitionKeys.full(downstream_def, axes)
        if self.kind == "all":
            return everything
        if self.kind == "last":
            last = PartitionKeys.full(up.definition, up.axes)[-1:]
            return everything if len(last) and last[0] in up else everything[:0]
        if self.kind == "for_keys":
            fixed = _lenient(up.definition, self.keys, storage, moment)
            return everything if any(k in up for k in fixed) else everything[:0]
        return ops.downstream(self, up, downstream_def, axes)


def _as_keys(
    keys: PartitionKeys | Sequence[str] | None,
    definition: PartitionsDefinition,
    storage: object,
    now: datetime,
) -> PartitionKeys | None:
    if keys is None or isinstance(keys, PartitionKeys):
        return keys
    if isinstance(keys, str):
        keys = [keys]
    return definition.resolve(list(keys), storage, now=now)


def _lenient(
    definition: PartitionsDefinition,
    keys: Sequence[PartitionKey],
    storage: object,
    now: datetime,
) -> PartitionKeys:
    """The keys of ``keys`` that exist now (for_keys() drops the others)."""
    from rivers.partitions._resolve import resolve_item

    axes = build_axes(definition, storage, now)
    found = []
    for key in keys:
        try:
            found.append(resolve_item(definition, axes, key))
        except PartitionError:
            continue
    return PartitionKeys.union(definition, axes, found)


def _check_fixed_key(definition: PartitionsDefinition, key: PartitionKey) -> None:
    """Raise unless ``key`` can be a key of ``definition`` (checked without time or storage)."""
    if key.is_multi:
        if definition.kind != "multi" or set(key.values) != set(definition.dimension_names):
            raise PartitionError(
                f"for_keys(): {key!r} does not name the dimensions of {describe(definition)}"
            )
        for name, values in key.values.items():
            for value in values:
                _check_fixed_key(definition.dimensions[name], PartitionKey.single(value))
        return
    text = str(key)
    if definition.kind == "multi":
        parts = text.split("|")
        if len(parts) != len(definition.dims):
            raise PartitionError(f"for_keys(): {text!r} is not a key of {describe(definition)}")
        for dim, part in zip(definition.dimensions.values(), parts, strict=True):
            _check_fixed_key(dim, PartitionKey.single(part))
    elif definition.kind == "static":
        definition.validate_key(text)
    elif definition.kind == "time_window" and definition._time_spec().parse(text) is None:
        fmt = definition._time_spec().fmt
        raise key_error(definition, text, reason=f"not in the format {fmt!r}")
