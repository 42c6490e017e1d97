"""``rs.PartitionsDefinition``: how an asset is split into partitions (pure data + arithmetic).

One frozen class with a ``kind`` and static factories for every variant: ``static_``,
``daily``, ``hourly``, ``weekly``, ``monthly``, ``time_window`` (any cron), ``dynamic`` (keys
in storage) and ``multi`` (several dimensions). Keys are enumerated lazily: counting ten years
of hourly keys or a 4-dimension product never builds a list.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ConfigDict, PrivateAttr, model_validator

from rivers.partitions import _factories
from rivers.partitions._axes import (
    build_axes,
    describe,
    dynamic_count,
    key_error,
    require_storage,
)
from rivers.partitions._timespec import TimeSpec, default_fmt
from rivers.partitions.cron import parse_cron
from rivers.partitions.errors import PartitionError
from rivers.partitions.timewindow import TimeWindow, coerce_datetime, utc, zone

if TYPE_CHECKING:
    from rivers._proto.rivers.v1 import partitions_pb2
    from rivers.partitions.keys import PartitionKey, PartitionKeyRange
    from rivers.partitions.selection import PartitionKeys

__all__ = ["PartitionsDefinition"]

Kind = Literal["static", "time_window", "dynamic", "multi"]
_OWN_FIELDS: dict[str, frozenset[str]] = {
    "static": frozenset({"keys"}),
    "dynamic": frozenset({"name"}),
    "multi": frozenset({"dims"}),
    "time_window": frozenset({"start", "end", "cron_schedule", "fmt", "timezone", "end_offset"}),
}


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


class PartitionsDefinition(_factories.Factories):
    """How an asset is partitioned. Build one with a factory, e.g. ``.daily(start=...)``.

    Fields are plain data (they go into the definitions snapshot unchanged): ``kind`` and, per
    kind, ``keys`` (static), ``name`` (dynamic), ``dims`` (multi: ``(name, definition)``
    pairs in name order) or ``start``/``end``/``cron_schedule``/``fmt``/``timezone``/
    ``end_offset`` (time_window). Methods that depend on the current time take ``now=``;
    methods that need dynamic keys take ``storage`` (``rs.Storage`` or any object with
    ``get_dynamic_partitions``, ``count_dynamic_partitions`` and ``has_dynamic_partition``).

    Example:
        >>> regions = PartitionsDefinition.static_(["us", "eu"])
        >>> regions.count(), list(regions.get_partition_keys())
        (2, ['us', 'eu'])
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    kind: Kind
    keys: tuple[str, ...] = ()
    name: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    cron_schedule: str | None = None
    fmt: str | None = None
    timezone: str | None = None
    end_offset: int = 0
    dims: tuple[tuple[str, PartitionsDefinition], ...] = ()

    _spec: TimeSpec | None = PrivateAttr(default=None)
    _index: dict[str, int] | None = PrivateAttr(default=None)

    # -- validation ---------------------------------------------------------------------------

    @model_validator(mode="before")
    @classmethod
    def _normalize(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if data.get("kind") == "time_window":
            data["timezone"] = data.get("timezone") or "UTC"
            tz = zone(data["timezone"])
            for field in ("start", "end"):
                if data.get(field) is not None:
                    data[field] = coerce_datetime(data[field], tz, field)
            cron = data.get("cron_schedule")
            if data.get("fmt") is None and data.get("start") is not None and isinstance(cron, str):
                data["fmt"] = default_fmt(parse_cron(cron), tz, data["start"], data.get("end"))
        dims = data.get("dims")
        if data.get("kind") == "multi" and isinstance(dims, Mapping | list | tuple):
            pairs = list(dims.items()) if isinstance(dims, Mapping) else list(dims)
            data["dims"] = tuple(sorted(pairs, key=lambda pair: str(pair[0])))
        return data

    @model_validator(mode="after")
    def _check(self) -> PartitionsDefinition:
        own = _OWN_FIELDS[self.kind]
        for field, info in type(self).model_fields.items():
            if field != "kind" and field not in own and getattr(self, field) != info.default:
                raise PartitionError(f"{field!r} is not a field of {self.kind} partitions")
        if self.kind == "static":
            _factories.check_static_keys(self.keys)
        elif self.kind == "dynamic":
            if not self.name or self.name != self.name.strip():
                raise PartitionError(f"dynamic partitions need a non-empty name, got {self.name!r}")
        elif self.kind == "multi":
            _factories.check_dims(self.dims)
        elif self._spec is None:
            # pydantic re-runs this check whenever an existing definition is passed to a model
            # (e.g. an AssetSnap field); the spec of a frozen definition never changes.
            self._spec = self._build_spec()
        return self

    def _build_spec(self, *, generic: bool = False) -> TimeSpec:
        if self.start is None or self.cron_schedule is None or self.fmt is None:
            raise PartitionError("time-window partitions need start and cron_schedule")
        if self.end_offset < 0:
            raise PartitionError(f"end_offset must be >= 0, got {self.end_offset}")
        if self.end is not None and utc(self.end) <= utc(self.start):
            raise PartitionError(f"end {self.end} must be after start {self.start}")
        spec = TimeSpec(
            start=self.start,
            end=self.end,
            cron_schedule=self.cron_schedule,
            fmt=self.fmt,
            timezone=self.timezone or "UTC",
            end_offset=self.end_offset,
            generic=generic,
        )
        spec.check_fmt(end=self.end)
        return spec

    def _time_spec(self) -> TimeSpec:
        if self.kind != "time_window":
            raise PartitionError(f"{describe(self)} are not time windows")
        if self._spec is None:
            self._spec = self._build_spec()
        return self._spec

    def _key_index(self) -> dict[str, int]:
        if self._index is None:
            self._index = {k: i for i, k in enumerate(self.keys)}
        return self._index

    # Private caches must not take part in equality, hashing or repr.
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PartitionsDefinition):
            return NotImplemented
        return self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        return hash(tuple(self.__dict__.values()))

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        fields = type(self).model_fields
        for field, value in super().__repr_args__():
            if field == "kind" or field is None or value != fields[field].default:
                yield field, value

    # -- wire ---------------------------------------------------------------------------------

    def to_proto(self) -> partitions_pb2.PartitionsDefinition:
        """Convert to the wire message (``rivers.v1.PartitionsDefinition``)."""
        from rivers._convert.partitions import partitions_to_proto

        return partitions_to_proto(self)

    @staticmethod
    def from_proto(msg: partitions_pb2.PartitionsDefinition) -> PartitionsDefinition:
        """Build from the wire message, validating it as the factories do."""
        from rivers._convert.partitions import partitions_from_proto

        return partitions_from_proto(msg)

    # -- structure ----------------------------------------------------------------------------

    @property
    def dimension_names(self) -> tuple[str, ...]:
        """The dimension names of a multi definition in name order (``()`` otherwise)."""
        return tuple(name for name, _ in self.dims)

    @property
    def dimensions(self) -> Mapping[str, PartitionsDefinition]:
        """The dimensions of a multi definition by name, in name order (empty otherwise)."""
        return MappingProxyType(dict(self.dims))

    @property
    def is_time_window(self) -> bool:
        """Whether this is a (single-dimension) time-window definition."""
        return self.kind == "time_window"

    @property
    def cadence(self) -> str | None:
        """The cadence of a time-window definition (``None`` for other kinds).

        One of ``minutely``, ``hourly``, ``daily``, ``weekly``, ``monthly``, ``yearly``, or
        ``cron '<expr>'`` for any other schedule.
        """
        return self._time_spec().name if self.kind == "time_window" else None

    @property
    def time_dimension(self) -> str | None:
        """The name of the only time-window dimension of a multi definition, if exactly one."""
        names = [n for n, d in self.dims if d.kind == "time_window"]
        return names[0] if len(names) == 1 else None

    # -- keys ---------------------------------------------------------------------------------

    def count(self, storage: object = None, *, now: datetime | None = None) -> int:
        """How many keys there are: O(1) except for dynamic keys (one storage call each).

        Generic (irregular) crons count in O(windows) the first time, cached afterwards.

        Example:
            >>> d = PartitionsDefinition.daily(start="2024-01-01")
            >>> d.count(now=datetime(2024, 1, 11, tzinfo=UTC))
            10
        """
        if self.kind == "static":
            return len(self.keys)
        if self.kind == "time_window":
            return self._time_spec().count(now)
        if self.kind == "dynamic":
            return dynamic_count(self, storage)
        moment, total = _now(now), 1
        for dim in self.dimensions.values():
            total *= dim.count(storage, now=moment)
        return total

    def get_partition_keys(
        self, storage: object = None, *, now: datetime | None = None
    ) -> PartitionKeys:
        """All keys as a lazy :class:`PartitionKeys` (a ``Sequence[str]``), fixed at ``now``.

        Example:
            >>> keys = PartitionsDefinition.hourly(start="2015-01-01").get_partition_keys()
            >>> keys[0], len(keys) > 80_000
            ('2015-01-01-00:00', True)
        """
        from rivers.partitions.selection import PartitionKeys

        return PartitionKeys.full(self, build_axes(self, storage, _now(now)))

    def key_at(self, i: int, storage: object = None, *, now: datetime | None = None) -> str:
        """The key at position ``i`` (negative counts from the end) in definition order."""
        keys = self.get_partition_keys(storage, now=now)
        if not -len(keys) <= i < len(keys):
            raise PartitionError(
                f"index {i} is out of range: {describe(self)} have {len(keys)} keys"
            )
        return keys[i]

    def index_of(
        self, key: str | PartitionKey, storage: object = None, *, now: datetime | None = None
    ) -> int:
        """The position of ``key`` in definition order (PartitionError if it is not a key)."""
        keys = self.get_partition_keys(storage, now=now)
        position = keys.position(key)
        if position is None:
            raise key_error(self, str(key), keys.axes, self._problem(str(key), storage, now) or "")
        return position

    def has_key(
        self, key: str | PartitionKey, storage: object = None, *, now: datetime | None = None
    ) -> bool:
        """Whether ``key`` is one of the keys (at ``now``); at most one storage call per dim."""
        return self._problem(str(key), storage, now) is None

    def validate_key(
        self, key: str | PartitionKey, storage: object = None, *, now: datetime | None = None
    ) -> None:
        """Raise PartitionError, showing the format and a valid example, unless ``key`` exists.

        Example:
            >>> PartitionsDefinition.static_(["us", "eu"]).validate_key("mars")
            Traceback (most recent call last):
            rivers.partitions.errors.PartitionError: 'mars' is not a partition key of ...
        """
        problem = self._problem(str(key), storage, now)
        if problem is not None:
            raise key_error(self, str(key), build_axes(self, storage, _now(now)), problem)

    def _problem(self, key: str, storage: object, now: datetime | None) -> str | None:
        if self.kind == "static":
            return None if key in self._key_index() else "not one of its keys"
        if self.kind == "dynamic":
            store = require_storage(self, storage)
            added = store.has_dynamic_partition(self.name or "", key)
            return None if added else "not one of its keys"
        if self.kind == "time_window":
            spec = self._time_spec()
            count = spec.count(now)
            i = spec.parse(key, limit=count)
            if i is None:
                return f"not in the format {spec.fmt!r}"
            if 0 <= i < count:
                return None
            span = f"{spec.key_at(0)!r} to {spec.key_at(count - 1)!r}" if count else "no keys yet"
            return f"outside the existing keys ({span})"
        parts = key.split("|")
        if len(parts) != len(self.dims):
            return f"expected {len(self.dims)} values separated by '|'"
        moment = _now(now)
        for (name, dim), part in zip(self.dims, parts, strict=True):
            problem = dim._problem(part, storage, moment)
            if problem is not None:
                return f"dimension {name!r}: {part!r} is {problem}"
        return None

    # -- time ---------------------------------------------------------------------------------

    def time_window_for_key(self, key: str | PartitionKey) -> TimeWindow:
        """The time window of ``key`` (for multi: of its only time dimension's value).

        Any well-formed key works, also one whose window has not ended yet.

        Example:
            >>> d = PartitionsDefinition.daily(start="2024-01-01", timezone="Europe/Paris")
            >>> d.time_window_for_key("2024-03-31").duration
            datetime.timedelta(seconds=82800)
        """
        text, definition = str(key), self
        if self.kind == "multi":
            name = self.time_dimension
            if name is None:
                raise PartitionError(f"{describe(self)} need exactly one time-window dimension")
            parts = text.split("|")
            if len(parts) != len(self.dims):
                raise key_error(self, text)
            definition = self.dimensions[name]
            text = parts[self.dimension_names.index(name)]
        spec = definition._time_spec()
        i = spec.parse(text)
        if i is None:
            raise key_error(definition, text, reason=f"not in the format {spec.fmt!r}")
        return spec.window(i)

    def key_for_time(self, moment: datetime | date | str) -> str:
        """The key of the window containing ``moment`` (naive = in the definition's zone)."""
        spec = self._time_spec()
        i = spec.index_for_time(coerce_datetime(moment, spec.tz, "moment"))
        if i < 0 or (spec.end_count is not None and i >= spec.end_count):
            raise PartitionError(f"{moment} is outside the windows of {describe(self)}")
        return spec.key_at(i)

    # -- selection ----------------------------------------------------------------------------

    def resolve(
        self,
        spec: str
        | PartitionKey
        | PartitionKeyRange
        | PartitionKeys
        | Sequence[str | PartitionKey | PartitionKeyRange]
        | None = None,
        storage: object = None,
        *,
        now: datetime | None = None,
    ) -> PartitionKeys:
        """Turn any user selection into validated lazy keys (in definition order, no repeats).

        ``spec`` is ``None`` (all keys), a key string, a :class:`PartitionKey`, a
        :class:`PartitionKeyRange`, or a sequence of those.

        Example:
            >>> d = PartitionsDefinition.daily(start="2024-01-01")
            >>> list(d.resolve(PartitionKeyRange.single("2024-01-02", "2024-01-04")))
            ['2024-01-02', '2024-01-03', '2024-01-04']
        """
        from rivers.partitions._resolve import resolve

        return resolve(self, spec, storage, _now(now))
