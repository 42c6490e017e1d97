"""``PartitionKeys``: a lazy, validated ``Sequence[str]`` of partition keys of one definition.

A selection is a *product* of per-dimension index selections (a ``range`` or an explicit tuple
of indices into each dimension's axis) seen through a *flat view*: a ``range`` of product
positions (or an explicit tuple of them). Slicing only changes the view, so even a slice of a
2-million-key multi product stays O(1); ``len``, ``[i]``, ``in`` and ``index`` never
enumerate. Product positions are mixed-radix numbers over the dimensions in name order, the
last dimension varying fastest, which is also the enumeration order.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, overload

from rivers.partitions._axes import Axis
from rivers.partitions._space import Sel, Space, blocks, compact, take

if TYPE_CHECKING:
    from rivers.partitions.definition import PartitionsDefinition

__all__ = ["PartitionKeys"]

_CHUNK = 4096


class PartitionKeys(Sequence[str]):
    """A lazy, validated sequence of partition keys of one definition, in definition order.

    Get one from ``definition.get_partition_keys()`` or ``definition.resolve(...)``.
    ``len``, ``[i]``, slicing (returns ``PartitionKeys``), ``in`` and ``index`` never build a
    list; iteration generates keys on the fly.

    Example:
        >>> keys = PartitionsDefinition.daily(start="2024-01-01").get_partition_keys()
        >>> keys[:3]
        PartitionKeys(daily, 3 keys: '2024-01-01' … '2024-01-03')
        >>> "2024-01-02" in keys, keys.index("2024-01-02")
        (True, 1)
    """

    __slots__ = ("_flat", "_flat_index", "_space")

    def __init__(self, space: Space, flat: Sel | None = None) -> None:
        self._space = space
        self._flat: Sel = range(space.total) if flat is None else flat
        self._flat_index: dict[int, int] | None = None

    # -- construction (used by definitions, mappings and strategies) ---------------------------

    @classmethod
    def product(
        cls, definition: PartitionsDefinition, axes: tuple[Axis, ...], sels: Sequence[Sel]
    ) -> PartitionKeys:
        """The product of per-dimension selections (indices into ``axes``)."""
        return cls(Space(definition, axes, tuple(sels)))

    @classmethod
    def full(cls, definition: PartitionsDefinition, axes: tuple[Axis, ...]) -> PartitionKeys:
        """Every key of the axes."""
        return cls.product(definition, axes, [range(a.size) for a in axes])

    @classmethod
    def empty(cls, definition: PartitionsDefinition, axes: tuple[Axis, ...]) -> PartitionKeys:
        """No keys."""
        return cls.product(definition, axes, [range(0) for _ in axes])

    @classmethod
    def union(
        cls,
        definition: PartitionsDefinition,
        axes: tuple[Axis, ...],
        parts: Iterable[PartitionKeys],
    ) -> PartitionKeys:
        """The keys in any of ``parts`` (all over ``axes``), in definition order.

        One part stays as it is; several are merged into explicit positions (O(n)).
        """
        kept = [p for p in parts if len(p)]
        if not kept:
            return cls.empty(definition, axes)
        if len(kept) == 1 and kept[0].axes is axes:
            return kept[0]
        tuples = (ix for part in kept for ix in part.axis_index_tuples())
        return cls.from_axis_indices(definition, axes, tuples)

    @classmethod
    def from_axis_indices(
        cls,
        definition: PartitionsDefinition,
        axes: tuple[Axis, ...],
        tuples: Iterable[Sequence[int]],
    ) -> PartitionKeys:
        """The keys with these per-dimension axis indices, in definition order (O(n))."""
        if len(axes) == 1:
            return cls.product(definition, axes, [compact(ix[0] for ix in tuples)])
        full = Space(definition, axes, tuple(range(a.size) for a in axes))
        strides = full.strides
        positions = compact(sum(i * s for i, s in zip(ix, strides, strict=True)) for ix in tuples)
        return cls(full, positions)

    # -- structure ----------------------------------------------------------------------------

    @property
    def definition(self) -> PartitionsDefinition:
        """The definition these keys belong to."""
        return self._space.definition

    @property
    def axes(self) -> tuple[Axis, ...]:
        """The per-dimension axes (the definition fixed at one ``now`` / storage read)."""
        return self._space.axes

    @property
    def dimension_names(self) -> tuple[str, ...]:
        """Dimension names of a multi definition (``()`` for a single dimension)."""
        return self._space.definition.dimension_names

    @property
    def selections(self) -> tuple[Sel, ...]:
        """Per-dimension selections: ranges or tuples of indices into each dimension."""
        return self._space.sels

    @property
    def view(self) -> Sel:
        """The flat view: positions in the product of :attr:`selections`."""
        return self._flat

    @property
    def is_product(self) -> bool:
        """Whether these keys are exactly the product of :attr:`selections`, in order."""
        flat = self._flat
        return isinstance(flat, range) and flat == range(self._space.total)

    def products(self) -> Iterator[PartitionKeys]:
        """Full sub-products whose union is these keys (one when :attr:`is_product`).

        A contiguous view splits into at most 2 per dimension; other views into one per run of
        keys sharing all but the last dimension.
        """
        space, flat = self._space, self._flat
        if self.is_product:
            yield self
            return
        if isinstance(flat, range) and flat.step in (1, -1):
            lo, hi = (flat.start, flat.stop) if flat.step == 1 else (flat.stop + 1, flat.start + 1)
            if lo < hi:
                for block in blocks(space, lo, hi):
                    sels = [sel[a:b] for sel, (a, b) in zip(space.sels, block, strict=True)]
                    yield PartitionKeys.product(space.definition, space.axes, sels)
            return
        last = space.sizes[-1]
        for row, group in itertools.groupby(sorted(set(flat)), key=lambda p: p // last):
            prefix = space.digits(row * last)[:-1]
            sels = [s[x : x + 1] for s, x in zip(space.sels, prefix, strict=False)]
            sels.append(tuple(space.sels[-1][p % last] for p in group))
            yield PartitionKeys.product(space.definition, space.axes, sels)

    def axis_index_tuples(self) -> Iterator[tuple[int, ...]]:
        """Per key (as a set, in product order): the index into each dimension's axis."""
        for part in self.products():
            yield from itertools.product(*part.selections)

    def dimension_keys(self, dimension: str | None = None) -> PartitionKeys:
        """The keys of one dimension selected by the product (all of them for ``None``).

        For a multi definition, ``dimension`` names the dimension; the result is over that
        dimension's definition. For a view that is not a full product this is the
        dimension's selection, a superset of the values actually used.
        """
        space = self._space
        if dimension is None and len(space.axes) == 1:
            return PartitionKeys.product(
                space.definition, space.axes, [take(space.sels[0], self._flat)]
            )
        names = space.definition.dimension_names
        if dimension not in names:
            from rivers.partitions.errors import PartitionError

            raise PartitionError(f"no dimension {dimension!r}: the dimensions are {names}")
        d = names.index(dimension)
        axis = space.axes[d]
        return PartitionKeys.product(axis.definition, (axis,), [space.sels[d]])

    # -- sequence -----------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._flat)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> PartitionKeys: ...

    def __getitem__(self, index: int | slice) -> str | PartitionKeys:
        if isinstance(index, slice):
            return PartitionKeys(self._space, self._flat[index])
        return self._space.key(self._flat[index])

    def __iter__(self) -> Iterator[str]:
        space, flat = self._space, self._flat
        if len(space.axes) == 1:
            selected = take(space.sels[0], flat)
            for at in range(0, len(selected), _CHUNK):
                yield from space.axes[0].keys(selected[at : at + _CHUNK])
            return
        if len(flat) < sum(space.sizes):  # too few keys to pay for per-dimension key lists
            yield from map(space.key, flat)
            return
        lists = [space.key_list(d) for d in range(len(space.axes))]
        if not (isinstance(flat, range) and flat.step == 1):
            for p in flat:
                yield "|".join(keys[x] for keys, x in zip(lists, space.digits(p), strict=True))
            return
        if self.is_product:
            yield from map("|".join, itertools.product(*lists))
            return
        last = lists[-1]
        for row in range(flat.start // len(last), (flat.stop - 1) // len(last) + 1):
            base = row * len(last)
            lo, hi = max(flat.start - base, 0), min(flat.stop - base, len(last))
            prefix = "|".join(lists[d][x] for d, x in enumerate(space.digits(base)[:-1])) + "|"
            yield from (prefix + key for key in last[lo:hi])

    def position(self, key: object) -> int | None:
        """The index of ``key`` in these keys, or None (O(1) for ranges of time windows)."""
        p = self._space.position(key)
        if p is None:
            return None
        flat = self._flat
        if isinstance(flat, range):
            return flat.index(p) if p in flat else None
        if self._flat_index is None:
            self._flat_index = {q: i for i, q in enumerate(flat)}
        return self._flat_index.get(p)

    def __contains__(self, key: object) -> bool:
        return self.position(key) is not None

    def index(self, value: Any, start: int = 0, stop: int = sys.maxsize) -> int:
        """The index of ``value`` (ValueError when absent, as for any sequence)."""
        i = self.position(value)
        lo, hi, _ = slice(start, stop).indices(len(self))
        if i is None or not lo <= i < hi:
            raise ValueError(f"{value!r} is not in {self!r}")
        return i

    def count(self, value: Any) -> int:
        """1 if ``value`` is one of the keys, else 0 (keys are unique)."""
        return int(value in self)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PartitionKeys):
            if len(self) != len(other):
                return False
            if self._space is other._space and self._flat == other._flat:
                return True
            return all(a == b for a, b in zip(self, other, strict=True))
        if isinstance(other, list | tuple):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # equal to lists, which are unhashable

    def __repr__(self) -> str:
        definition = self._space.definition
        if definition.kind == "multi":
            label = f"multi({', '.join(definition.dimension_names)})"
        elif definition.kind == "time_window":
            label = definition._time_spec().name
        elif definition.kind == "dynamic":
            label = f"dynamic {definition.name!r}"
        else:
            label = "static"
        n = len(self)
        if not n:
            return f"PartitionKeys({label}, 0 keys)"
        if n == 1:
            return f"PartitionKeys({label}, 1 key: {self[0]!r})"
        return f"PartitionKeys({label}, {n} keys: {self[0]!r} … {self[-1]!r})"
