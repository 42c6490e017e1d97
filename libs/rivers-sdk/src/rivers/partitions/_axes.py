"""Axes: one dimension of a definition, frozen at a moment, as an indexed list of keys.

A time axis is fixed at ``now`` (its size is the count then), a dynamic axis at one read of
its keys from storage, a static axis is its keys. Multi definitions have one axis per
dimension in name order; the others have one axis.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from rivers.partitions.errors import PartitionError

if TYPE_CHECKING:
    from rivers.partitions._timespec import TimeSpec
    from rivers.partitions.definition import PartitionsDefinition

__all__ = [
    "Axis",
    "DynamicStore",
    "build_axes",
    "describe",
    "dynamic_count",
    "key_error",
    "require_storage",
]


class DynamicStore(Protocol):
    """What partitions need from storage: ``rs.Storage`` has these methods."""

    def get_dynamic_partitions(self, name: str) -> list[str]:
        """The keys of ``name`` in the order they were added."""
        ...

    def count_dynamic_partitions(self, name: str) -> int:
        """How many keys ``name`` has."""
        ...

    def has_dynamic_partition(self, name: str, key: str) -> bool:
        """Whether ``key`` is one of the keys of ``name``."""
        ...


class Axis:
    """The keys of one dimension as an indexed list: ``key(i)`` and ``index(key)``."""

    __slots__ = ("definition", "size")

    def __init__(self, definition: PartitionsDefinition, size: int) -> None:
        self.definition, self.size = definition, size

    def key(self, i: int) -> str:
        """The key at index ``i`` (0 <= i < size)."""
        raise NotImplementedError

    def keys(self, indices: range | tuple[int, ...]) -> list[str]:
        """The keys at several indices."""
        return [self.key(i) for i in indices]

    def index(self, key: str) -> int | None:
        """The index of ``key``, or None when it is not a key of this axis."""
        raise NotImplementedError

    def example(self) -> str:
        """A valid key to show in error messages."""
        return self.key(0) if self.size else "<none yet>"


class StaticAxis(Axis):
    """The keys of a static definition."""

    __slots__ = ("_index", "_keys")

    def __init__(self, definition: PartitionsDefinition) -> None:
        super().__init__(definition, len(definition.keys))
        self._keys, self._index = definition.keys, definition._key_index()

    def key(self, i: int) -> str:
        """The key at ``i``."""
        return self._keys[i]

    def keys(self, indices: range | tuple[int, ...]) -> list[str]:
        """The keys at ``indices``."""
        if isinstance(indices, range) and indices.step == 1:
            return list(self._keys[indices.start : indices.stop])
        return [self._keys[i] for i in indices]

    def index(self, key: str) -> int | None:
        """The index of ``key``."""
        return self._index.get(key)


class TimeAxis(Axis):
    """The windows of a time-window definition that exist at one moment."""

    __slots__ = ("spec",)

    def __init__(self, definition: PartitionsDefinition, now: datetime | None) -> None:
        self.spec: TimeSpec = definition._time_spec()
        super().__init__(definition, self.spec.count(now))

    def key(self, i: int) -> str:
        """The key of window ``i``."""
        return self.spec.key_at(i)

    def keys(self, indices: range | tuple[int, ...]) -> list[str]:
        """The keys of windows ``indices``."""
        return self.spec.keys(indices)

    def index(self, key: str) -> int | None:
        """The index of the window whose key is ``key``, if it exists at that moment."""
        i = self.spec.parse(key, limit=self.size)
        return i if i is not None and 0 <= i < self.size else None

    def example(self) -> str:
        """The first key (even before any window has ended)."""
        return self.spec.key_at(0)


class DynamicAxis(Axis):
    """The keys of a dynamic definition as read once from storage."""

    __slots__ = ("_index", "_keys")

    def __init__(self, definition: PartitionsDefinition, storage: DynamicStore | None) -> None:
        name = definition.name or ""
        self._keys: Sequence[str] = tuple(
            require_storage(definition, storage).get_dynamic_partitions(name)
        )
        self._index = {k: i for i, k in enumerate(self._keys)}
        super().__init__(definition, len(self._keys))

    def key(self, i: int) -> str:
        """The key at ``i``."""
        return self._keys[i]

    def index(self, key: str) -> int | None:
        """The index of ``key``."""
        return self._index.get(key)


def require_storage(definition: PartitionsDefinition, storage: object) -> DynamicStore:
    """``storage``, or a PartitionError saying that dynamic partitions need it."""
    if storage is None:
        raise PartitionError(
            f"dynamic partitions {definition.name!r} needs storage to know its keys: pass "
            "storage=... (e.g. rs.Storage.memory() or repo.storage)"
        )
    return storage  # type: ignore[return-value]  # duck-typed: any object with the methods


def dynamic_count(definition: PartitionsDefinition, storage: object) -> int:
    """How many keys a dynamic definition has (one storage call)."""
    return require_storage(definition, storage).count_dynamic_partitions(definition.name or "")


def _axis(definition: PartitionsDefinition, storage: object, now: datetime | None) -> Axis:
    if definition.kind == "static":
        return StaticAxis(definition)
    if definition.kind == "time_window":
        return TimeAxis(definition, now)
    return DynamicAxis(definition, storage)  # type: ignore[arg-type]


def build_axes(
    definition: PartitionsDefinition, storage: object, now: datetime | None
) -> tuple[Axis, ...]:
    """One axis per dimension (name order), all time axes fixed at the same ``now``."""
    if definition.kind != "multi":
        return (_axis(definition, storage, now),)
    return tuple(_axis(d, storage, now) for d in definition.dimensions.values())


def describe(definition: PartitionsDefinition) -> str:
    """A short human description: ``daily partitions from 2024-01-01 (UTC)``, ..."""
    if definition.kind == "static":
        shown = ", ".join(repr(k) for k in definition.keys[:5])
        more = ", ..." if len(definition.keys) > 5 else ""
        return f"static partitions [{shown}{more}]"
    if definition.kind == "dynamic":
        return f"dynamic partitions {definition.name!r}"
    if definition.kind == "multi":
        return f"multi partitions ({', '.join(definition.dimension_names)})"
    spec = definition._time_spec()
    return f"{spec.name} partitions from {spec.key_at(0)} ({definition.timezone})"


def _expected(definition: PartitionsDefinition, axes: Sequence[Axis] | None) -> str:
    if definition.kind == "multi":
        names = definition.dimension_names
        complete = axes is not None and all(a.size or isinstance(a, TimeAxis) for a in axes)
        example = "|".join(a.example() for a in axes) if axes and complete else None
        shown = f", e.g. {example!r}" if example else ""
        return f"'{'|'.join('<' + n + '>' for n in names)}' (dimensions in name order){shown}"
    if definition.kind == "time_window":
        spec = definition._time_spec()
        return f"format {spec.fmt!r}, e.g. {spec.key_at(0)!r}"
    if definition.kind == "static":
        return f"one of the keys, e.g. {definition.keys[0]!r}"
    if axes and axes[0].size:
        return f"a key added to it, e.g. {axes[0].key(0)!r}"
    return f"a key added with storage.add_dynamic_partitions({definition.name!r}, [...])"


def key_error(
    definition: PartitionsDefinition,
    key: object,
    axes: Sequence[Axis] | None = None,
    reason: str = "",
) -> PartitionError:
    """A PartitionError for an invalid key, with the expected format and a valid example."""
    why = f": {reason}" if reason else ""
    return PartitionError(
        f"{key!r} is not a partition key of {describe(definition)}{why}; expected "
        f"{_expected(definition, axes)}"
    )
