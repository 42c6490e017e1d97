"""Turn user selections (keys, ``PartitionKey``, ``PartitionKeyRange``, lists) into keys."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from rivers.partitions._axes import Axis, build_axes, key_error
from rivers.partitions._space import Sel, compact
from rivers.partitions.errors import PartitionError
from rivers.partitions.keys import DimensionSelection, PartitionKey, PartitionKeyRange
from rivers.partitions.selection import PartitionKeys

if TYPE_CHECKING:
    from rivers.partitions.definition import PartitionsDefinition

__all__ = ["resolve", "resolve_item"]


def resolve(
    definition: PartitionsDefinition, spec: object, storage: object, now: datetime
) -> PartitionKeys:
    """See :meth:`PartitionsDefinition.resolve`."""
    if isinstance(spec, PartitionKeys):
        if spec.definition != definition:
            raise PartitionError(f"{spec!r} are keys of another partitions definition")
        return spec
    axes = build_axes(definition, storage, now)
    if spec is None:
        return PartitionKeys.full(definition, axes)
    if isinstance(spec, str | PartitionKey | PartitionKeyRange):
        return _one(definition, axes, spec)
    if isinstance(spec, Sequence):
        if all(isinstance(item, str) for item in spec):
            return _many(definition, axes, spec)
        parts = [_one(definition, axes, item) for item in spec]
        return PartitionKeys.union(definition, axes, parts)
    raise PartitionError(
        f"cannot select partitions with {spec!r}: use None (all), a key string, a PartitionKey, "
        "a PartitionKeyRange, or a list of those"
    )


def resolve_item(
    definition: PartitionsDefinition, axes: tuple[Axis, ...], item: object
) -> PartitionKeys:
    """One key, PartitionKey or PartitionKeyRange over already built ``axes``."""
    return _one(definition, axes, item)


def _many(
    definition: PartitionsDefinition, axes: tuple[Axis, ...], keys: Sequence[str]
) -> PartitionKeys:
    """A list of key strings: one explicit selection (no per-key sub-products)."""
    tuples = (_positions(definition, axes, k) for k in keys)
    return PartitionKeys.from_axis_indices(definition, axes, tuples)


def _index(definition: PartitionsDefinition, axes: tuple[Axis, ...], d: int, key: str) -> int:
    """The index of ``key`` in dimension ``d``, or a PartitionError showing a valid example."""
    axis = axes[d]
    i = axis.index(key) if isinstance(key, str) else None
    if i is not None:
        return i
    if definition.kind != "multi":
        raise key_error(definition, key, axes, _reason(axis, key))
    name = definition.dimension_names[d]
    error = key_error(axis.definition, key, (axis,), _reason(axis, key))
    raise PartitionError(f"dimension {name!r} of {definition.dimension_names}: {error}")


def _reason(axis: Axis, key: str) -> str:
    if axis.definition.kind != "time_window":
        return "not one of its keys"
    spec = axis.definition._time_spec()
    if spec.parse(key, limit=axis.size) is None:
        return f"not in the format {spec.fmt!r}"
    if not axis.size:
        return "no window has ended yet"
    return f"outside the existing keys ({axis.key(0)!r} to {axis.key(axis.size - 1)!r})"


def _positions(definition: PartitionsDefinition, axes: tuple[Axis, ...], key: str) -> list[int]:
    """The per-dimension indices of a full key (``"a|b"`` for multi definitions)."""
    if len(axes) == 1:
        return [_index(definition, axes, 0, key)]
    parts = key.split("|")
    if len(parts) != len(axes):
        raise key_error(definition, key, axes, f"expected {len(axes)} values separated by '|'")
    out = []
    for d, (axis, part) in enumerate(zip(axes, parts, strict=True)):
        i = axis.index(part)
        if i is None:
            name = definition.dimension_names[d]
            reason = f"dimension {name!r}: {part!r} is {_reason(axis, part)}"
            raise key_error(definition, key, axes, reason)
        out.append(i)
    return out


def _dimension_values(
    definition: PartitionsDefinition, names: Sequence[str], what: str
) -> dict[str, int]:
    known = definition.dimension_names
    if definition.kind != "multi":
        raise PartitionError(
            f"{what} selects dimensions {tuple(names)}, but the definition has none"
        )
    unknown = [n for n in names if n not in known]
    if unknown:
        raise PartitionError(
            f"{what} names unknown dimensions {unknown}: the dimensions are {known}"
        )
    return {n: known.index(n) for n in names}


def _one(definition: PartitionsDefinition, axes: tuple[Axis, ...], item: object) -> PartitionKeys:
    if isinstance(item, str) or (isinstance(item, PartitionKey) and item.key is not None):
        indices = _positions(definition, axes, str(item))
        return PartitionKeys.product(definition, axes, [range(i, i + 1) for i in indices])
    if isinstance(item, PartitionKey):
        dims = _dimension_values(definition, [n for n, _ in item.dimensions], "PartitionKey.multi")
        if len(dims) != len(axes):
            missing = [n for n in definition.dimension_names if n not in dims]
            raise PartitionError(
                f"PartitionKey.multi misses dimensions {missing}; use PartitionKeyRange.multi to "
                "select every key of a dimension"
            )
        sels: list[Sel] = [range(0)] * len(axes)
        for name, values in item.dimensions:
            d = dims[name]
            sels[d] = compact(_index(definition, axes, d, v) for v in values)
        return PartitionKeys.product(definition, axes, sels)
    if isinstance(item, PartitionKeyRange):
        if item.start is not None and item.end is not None:
            return _single_range(definition, axes, item.start, item.end)
        return _multi_range(definition, axes, item)
    raise PartitionError(
        f"cannot select partitions with {item!r}: use a key string, PartitionKey or "
        "PartitionKeyRange"
    )


def _single_range(
    definition: PartitionsDefinition, axes: tuple[Axis, ...], start: str, end: str
) -> PartitionKeys:
    first, last = _positions(definition, axes, start), _positions(definition, axes, end)
    if len(axes) == 1:
        if first[0] > last[0]:
            raise PartitionError(f"range start {start!r} comes after its end {end!r}")
        return PartitionKeys.product(definition, axes, [range(first[0], last[0] + 1)])
    full = PartitionKeys.full(definition, axes)
    a, b = full.index(start), full.index(end)
    if a > b:
        raise PartitionError(f"range start {start!r} comes after its end {end!r}")
    return full[a : b + 1]


def _multi_range(
    definition: PartitionsDefinition, axes: tuple[Axis, ...], item: PartitionKeyRange
) -> PartitionKeys:
    dims = _dimension_values(definition, [n for n, _ in item.dimensions], "PartitionKeyRange.multi")
    sels: list[Sel] = [range(a.size) for a in axes]
    for name, selection in item.dimensions:
        sels[dims[name]] = _dimension_sel(definition, axes, dims[name], name, selection)
    return PartitionKeys.product(definition, axes, sels)


def _dimension_sel(
    definition: PartitionsDefinition,
    axes: tuple[Axis, ...],
    d: int,
    name: str,
    selection: DimensionSelection,
) -> Sel:
    if selection.keys:
        return compact(_index(definition, axes, d, v) for v in selection.keys)
    assert selection.start is not None
    assert selection.end is not None
    a = _index(definition, axes, d, selection.start)
    b = _index(definition, axes, d, selection.end)
    if a > b:
        raise PartitionError(
            f"dimension {name!r}: range start {selection.start!r} comes after its end "
            f"{selection.end!r}"
        )
    return range(a, b + 1)
