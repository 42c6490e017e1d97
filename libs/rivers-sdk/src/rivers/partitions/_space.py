"""The product space behind ``PartitionKeys``: per-dimension selections and their positions.

A product position is a mixed-radix number over the dimensions in name order, the last
dimension varying fastest. ``_Space`` maps positions to keys and back and caches the
per-dimension key lists that fast iteration needs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from rivers.partitions._axes import Axis

if TYPE_CHECKING:
    from rivers.partitions.definition import PartitionsDefinition

__all__ = ["Sel", "Space", "blocks", "compact", "take"]

Sel = range | tuple[int, ...]


def take(seq: Sel, view: Sel) -> Sel:
    """The items of ``seq`` at the positions of ``view`` (a range view keeps ranges lazy)."""
    if isinstance(view, range):
        if view.step > 0 or view.stop >= 0:
            return seq[view.start : view.stop : view.step]
        return seq[view.start :: view.step]
    return tuple(seq[p] for p in view)


def compact(indices: Iterable[int]) -> Sel:
    """Sorted unique ``indices`` as a range when contiguous, else a tuple."""
    ordered = sorted(set(indices))
    if ordered and ordered[-1] - ordered[0] + 1 == len(ordered):
        return range(ordered[0], ordered[-1] + 1)
    return tuple(ordered)


class Space:
    """The product of per-dimension selections and per-dimension caches shared by views."""

    __slots__ = ("_lists", "_positions", "axes", "definition", "sels", "sizes", "strides", "total")

    def __init__(
        self, definition: PartitionsDefinition, axes: tuple[Axis, ...], sels: tuple[Sel, ...]
    ) -> None:
        self.definition, self.axes, self.sels = definition, axes, sels
        self.sizes = tuple(len(s) for s in sels)
        strides = [1] * len(sels)
        for d in range(len(sels) - 2, -1, -1):
            strides[d] = strides[d + 1] * self.sizes[d + 1]
        self.strides = tuple(strides)
        self.total = math.prod(self.sizes)
        self._lists: dict[int, list[str]] = {}
        self._positions: dict[int, dict[int, int]] = {}

    def digits(self, p: int) -> list[int]:
        """The per-dimension positions (into ``sels``) of product position ``p``."""
        out = [0] * len(self.sizes)
        for d in range(len(self.sizes) - 1, -1, -1):
            p, out[d] = divmod(p, self.sizes[d])
        return out

    def axis_indices(self, p: int) -> tuple[int, ...]:
        """The per-dimension axis indices of product position ``p``."""
        return tuple(sel[x] for sel, x in zip(self.sels, self.digits(p), strict=True))

    def key(self, p: int) -> str:
        """The key at product position ``p``."""
        if len(self.axes) == 1:
            return self.axes[0].key(self.sels[0][p])
        return "|".join(
            axis.key(i) for axis, i in zip(self.axes, self.axis_indices(p), strict=True)
        )

    def key_list(self, d: int) -> list[str]:
        """The keys of dimension ``d``'s selection (computed once)."""
        cached = self._lists.get(d)
        if cached is None:
            cached = self._lists[d] = self.axes[d].keys(self.sels[d])
        return cached

    def sel_position(self, d: int, axis_index: int) -> int | None:
        """Where axis index ``axis_index`` sits in dimension ``d``'s selection, if it does."""
        sel = self.sels[d]
        if isinstance(sel, range):
            return sel.index(axis_index) if axis_index in sel else None
        index = self._positions.get(d)
        if index is None:
            index = self._positions[d] = {a: x for x, a in enumerate(sel)}
        return index.get(axis_index)

    def position(self, key: object) -> int | None:
        """The product position of a key string (or PartitionKey), or None."""
        if not isinstance(key, str):
            from rivers.partitions.keys import PartitionKey

            if not isinstance(key, PartitionKey):
                return None
            key = str(key)
        parts = key.split("|") if len(self.axes) > 1 else [key]
        if len(parts) != len(self.axes):
            return None
        p = 0
        for d, part in enumerate(parts):
            axis_index = self.axes[d].index(part)
            x = None if axis_index is None else self.sel_position(d, axis_index)
            if x is None:
                return None
            p += x * self.strides[d]
        return p


def blocks(space: Space, lo: int, hi: int, d: int = 0) -> Iterator[list[tuple[int, int]]]:
    """Split product positions ``[lo, hi)`` into at most 2 * dims full sub-products."""
    if d == len(space.sizes):
        yield []
        return
    stride, size = space.strides[d], space.sizes[d]
    if lo == 0 and hi == size * stride:
        yield [(0, n) for n in space.sizes[d:]]
        return
    first, last = lo // stride, (hi - 1) // stride
    if first == last:
        for rest in blocks(space, lo - first * stride, hi - first * stride, d + 1):
            yield [(first, first + 1), *rest]
        return
    full_from, full_to = first, last + 1
    if lo > first * stride:
        full_from = first + 1
        for rest in blocks(space, lo - first * stride, stride, d + 1):
            yield [(first, first + 1), *rest]
    if hi < (last + 1) * stride:
        full_to = last
    if full_from < full_to:
        yield [(full_from, full_to), *((0, n) for n in space.sizes[d + 1 :])]
    if full_to == last:
        for rest in blocks(space, 0, hi - last * stride, d + 1):
            yield [(last, last + 1), *rest]
