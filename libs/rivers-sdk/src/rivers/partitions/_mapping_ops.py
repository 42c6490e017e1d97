"""How partition mappings move key selections between definitions, dimension by dimension.

A mapping between two definitions becomes a *plan*: for every upstream dimension, which
downstream dimension it follows (or none: all of it) and the one-dimension mapping to apply.
Selections are mapped one full sub-product at a time, so ranges stay ranges (O(1) for time
windows) and only unions of several sub-products are enumerated.

Time-window offsets shift each run of downstream windows by whole downstream windows before
the overlapping upstream windows are looked up, so a run maps in O(1) whatever the offsets;
``reverse_dim`` is its exact inverse (the downstream keys whose upstream keys meet a run).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from rivers.partitions._axes import Axis, TimeAxis
from rivers.partitions._space import Sel, compact
from rivers.partitions.errors import PartitionError
from rivers.partitions.selection import PartitionKeys

if TYPE_CHECKING:
    from rivers.partitions.definition import PartitionsDefinition
    from rivers.partitions.mapping import PartitionMapping

__all__ = ["Plan", "downstream", "plan", "upstream"]

# Per upstream dimension: (index of the downstream dimension it follows, or None, mapping).
Plan = list[tuple[int | None, "PartitionMapping | None"]]


def _dims(definition: PartitionsDefinition) -> list[tuple[str | None, PartitionsDefinition]]:
    if definition.kind == "multi":
        return list(definition.dims)
    return [(None, definition)]


def _matching(multi: PartitionsDefinition, single: PartitionsDefinition, name: str | None) -> int:
    names = multi.dimension_names
    if name is not None:
        if name not in names:
            raise PartitionError(f"subset(dimension={name!r}): no such dimension in {names}")
        return names.index(name)
    equal = [i for i, (_, d) in enumerate(multi.dims) if d == single]
    if len(equal) != 1:
        found = "several" if equal else "no"
        raise PartitionError(
            f"subset(): {found} dimension of the multi definition {names} equals the other "
            "definition; name it with subset(dimension=...)"
        )
    return equal[0]


def plan(mapping: PartitionMapping, down: PartitionsDefinition, up: PartitionsDefinition) -> Plan:
    """The per-upstream-dimension plan of ``mapping``, or PartitionError if it cannot apply."""
    from rivers.partitions.mapping import PartitionMapping

    up_dims, down_dims = _dims(up), _dims(down)
    up_names, down_names = [n for n, _ in up_dims], [n for n, _ in down_dims]
    same_names = up.kind == down.kind == "multi" and up_names == down_names
    kind, identity = mapping.kind, PartitionMapping.identity()
    if kind == "identity":
        if same_names or (up.kind != "multi" and down.kind != "multi"):
            return [(i, mapping) for i in range(len(up_dims))]
        raise PartitionError("identity() needs definitions with the same dimensions")
    if kind == "multi":
        if not same_names:
            raise PartitionError(
                f"multi() maps between multi definitions with the same dimensions, got "
                f"{tuple(down_names)} downstream and {tuple(up_names)} upstream"
            )
        per = dict(mapping.dims)
        unknown = sorted(set(per) - {n for n in up_names if n})
        if unknown:
            raise PartitionError(f"multi() names unknown dimensions {unknown}")
        return [(i, per.get(n or "", identity)) for i, n in enumerate(up_names)]
    if kind == "time_window":
        if same_names:
            if not any(d.kind == "time_window" for _, d in up_dims):
                raise PartitionError("time_window() needs a time-window dimension")
            return [
                (i, mapping if d.kind == "time_window" else identity)
                for i, (_, d) in enumerate(up_dims)
            ]
        down_time = down.time_dimension if down.kind == "multi" else None
        up_time = up.time_dimension if up.kind == "multi" else None
        if down.kind != "multi" and up.kind != "multi":
            return [(0, mapping)]
        if down_time is not None and up.kind != "multi":
            return [(down_names.index(down_time), mapping)]
        if up_time is not None and down.kind != "multi":
            return [(0, mapping) if n == up_time else (None, None) for n in up_names]
        raise PartitionError(
            "time_window() needs one time dimension on each side (or multi definitions with "
            "the same dimensions)"
        )
    if kind == "subset":
        if up.kind != "multi" and down.kind != "multi":
            raise PartitionError("subset() needs a multi definition on at least one side")
        if up.kind != "multi":
            return [(_matching(down, up, mapping.dimension), identity)]
        if down.kind != "multi":
            j = _matching(up, down, mapping.dimension)
            return [(0, identity) if i == j else (None, None) for i in range(len(up_dims))]
        shared = set(up_names) & set(down_names)
        if not shared or not (set(up_names) <= shared or set(down_names) <= shared):
            raise PartitionError(
                f"subset() needs the dimensions of one side to be a subset of the other's, got "
                f"{tuple(down_names)} downstream and {tuple(up_names)} upstream"
            )
        return [(down_names.index(n), identity) if n in shared else (None, None) for n in up_names]
    raise PartitionError(f"{kind}() has no per-dimension plan")


def _runs(sel: Sel) -> Iterator[tuple[int, int]]:
    """Inclusive ``(first, last)`` runs of consecutive indices."""
    if isinstance(sel, range):
        if len(sel):
            yield sel[0], sel[-1]
        return
    first = last = None
    for i in sel:
        if last is not None and i == last + 1:
            last = i
            continue
        if first is not None and last is not None:
            yield first, last
        first = last = i
    if first is not None and last is not None:
        yield first, last


def _merge(ranges: Iterable[range]) -> Sel:
    parts = [r for r in ranges if len(r)]
    if len(parts) == 1:
        return parts[0]
    return compact(i for r in parts for i in r)


def _clip(sel: Sel, size: int) -> Sel:
    if isinstance(sel, range):
        return range(max(sel.start, 0), max(min(sel.stop, size), 0))
    return tuple(i for i in sel if 0 <= i < size)


def _time_axes(a: Axis, b: Axis) -> tuple[TimeAxis, TimeAxis]:
    if not (isinstance(a, TimeAxis) and isinstance(b, TimeAxis)):
        raise PartitionError("time_window() maps between time-window partitions only")
    return a, b


def map_dim(mapping: PartitionMapping | None, sel: Sel, down: Axis, up: Axis) -> Sel:
    """Upstream indices of downstream indices ``sel`` along one dimension."""
    if mapping is None or mapping.kind == "all":
        return range(up.size)
    if mapping.kind == "last":
        return range(up.size - 1, up.size) if up.size else range(0)
    if mapping.kind == "for_keys":
        found = (up.index(str(k)) for k in mapping.keys)
        return compact(i for i in found if i is not None)
    if mapping.kind == "identity":
        if down.definition == up.definition:
            return _clip(sel, up.size)
        found = (up.index(down.key(i)) for i in sel)
        return compact(i for i in found if i is not None)
    if mapping.kind != "time_window":
        raise PartitionError(f"{mapping.kind}() cannot map one dimension")
    d, u = _time_axes(down, up)
    start, end, out = mapping.start_offset, mapping.end_offset, []
    for a, b in _runs(sel):
        # Offsets shift the downstream run by whole downstream windows (Dagster >= 1.7.4);
        # the upstream windows are those overlapping the shifted span [start(a+s), end(b+e)).
        first = u.spec.calendar.index_containing(d.spec.calendar.start_at(a + start))
        last = u.spec.first_at_or_after(d.spec.calendar.start_at(b + end + 1)) - 1
        out.append(range(max(first, 0), min(last, u.size - 1) + 1))
    return _merge(out)


def reverse_dim(mapping: PartitionMapping | None, sel: Sel, up: Axis, down: Axis) -> Sel:
    """Downstream indices whose upstream indices (along one dimension) meet ``sel``."""
    everything = range(down.size)
    if mapping is None or mapping.kind == "all":
        return everything
    if mapping.kind == "last":
        return everything if up.size and (up.size - 1) in sel else range(0)
    if mapping.kind == "for_keys":
        hits = (up.index(str(k)) for k in mapping.keys)
        return everything if any(i is not None and i in sel for i in hits) else range(0)
    if mapping.kind == "identity":
        if down.definition == up.definition:
            return _clip(sel, down.size)
        found = (down.index(up.key(i)) for i in sel)
        return compact(i for i in found if i is not None)
    u, d = _time_axes(up, down)
    start, end, out = mapping.start_offset, mapping.end_offset, []
    for a, b in _runs(sel):
        # Downstream windows [first, last] overlap the upstream run; window x reads the
        # windows overlapping x+s..x+e, which meets [first, last] iff first-e <= x <= last-s.
        first = d.spec.calendar.index_containing(u.spec.calendar.start_at(a))
        last = d.spec.first_at_or_after(u.spec.calendar.start_at(b + 1)) - 1
        out.append(range(max(first - end, 0), min(last - start, d.size - 1) + 1))
    return _merge(out)


def upstream(
    mapping: PartitionMapping,
    down: PartitionKeys,
    up_def: PartitionsDefinition,
    up_axes: tuple[Axis, ...],
) -> PartitionKeys:
    """The upstream keys of downstream keys ``down`` (clipped to existing upstream keys)."""
    steps = plan(mapping, down.definition, up_def)
    parts = []
    for product in down.products():
        sels: list[Sel] = []
        for d, (src, dim_mapping) in enumerate(steps):
            if src is None:
                sels.append(range(up_axes[d].size))
                continue
            sel = map_dim(dim_mapping, product.selections[src], product.axes[src], up_axes[d])
            if not len(sel):
                break
            sels.append(sel)
        else:
            parts.append(PartitionKeys.product(up_def, up_axes, sels))
    return PartitionKeys.union(up_def, up_axes, parts)


def downstream(
    mapping: PartitionMapping,
    up: PartitionKeys,
    down_def: PartitionsDefinition,
    down_axes: tuple[Axis, ...],
) -> PartitionKeys:
    """The downstream keys whose upstream keys include any of ``up``."""
    steps = plan(mapping, down_def, up.definition)
    parts = []
    for product in up.products():
        sels: list[Sel] = [range(a.size) for a in down_axes]
        for d, (src, dim_mapping) in enumerate(steps):
            if src is not None:
                sels[src] = reverse_dim(
                    dim_mapping, product.selections[d], product.axes[d], down_axes[src]
                )
        if all(len(s) for s in sels):
            parts.append(PartitionKeys.product(down_def, down_axes, sels))
    return PartitionKeys.union(down_def, down_axes, parts)
