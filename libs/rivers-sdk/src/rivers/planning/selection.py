"""Asset selection strings.

One selection is a list of items, each one of:

- ``"orders"`` or ``"shop/orders"``: an asset by key, or by name when the name is unique;
- ``"group:sales"``: every asset of a group; ``"tag:team=data"`` / ``"tag:pii"``: by tag;
- ``"*"``: every asset;
- ``"+orders"`` (and its parents), ``"++orders"`` (two levels), ``"*orders"`` (all ancestors);
- ``"orders+"``, ``"orders++"``, ``"orders*"`` likewise downstream; both sides combine
  (``"+orders*"``), and the marks apply to group and tag items too.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from rivers.definitions.keys import key_name
from rivers.errors import SelectionError
from rivers.planning.graph import AssetGraph

__all__ = ["normalize_selection", "resolve_selection"]

_ITEM = re.compile(r"^(?P<up>\*|\++)?(?P<body>[^*+]+?)(?P<down>\*|\++)?$")


def normalize_selection(selection: str | Iterable[object] | None) -> tuple[str, ...]:
    """A canonical, hashable form of a user selection (sorted strings; ``("*",)`` for all)."""
    if selection is None:
        return ("*",)
    items: Iterable[object] = [selection] if isinstance(selection, str) else selection
    out: set[str] = set()
    for item in items:
        if isinstance(item, str):
            text = item.strip()
        else:
            key = getattr(item, "key", None)
            if not isinstance(key, str):
                raise SelectionError(f"cannot select {item!r}: pass asset keys or assets")
            text = key
        if not text:
            raise SelectionError("empty item in selection")
        out.add(text)
    if not out:
        raise SelectionError("the selection is empty")
    return tuple(sorted(out))


def _depth(mark: str | None) -> int | None:
    if mark is None:
        return 0
    if mark == "*":
        return None
    return len(mark)


def _base(graph: AssetGraph, body: str) -> set[str]:
    if body.startswith("group:"):
        group = body[len("group:") :]
        if group not in graph.groups:
            raise SelectionError(f"no asset group {group!r}; groups: {sorted(graph.groups)}")
        return set(graph.groups[group])
    if body.startswith("tag:"):
        name, _, value = body[len("tag:") :].partition("=")
        found = {
            k
            for k, tags in graph.tags.items()
            if name in tags and (not value or tags[name] == value)
        }
        if not found:
            raise SelectionError(f"no asset has tag {body[len('tag:') :]!r}")
        return found
    if body in graph:
        return {body}
    named = [k for k in graph.order if key_name(k) == body] if "/" not in body else []
    if len(named) == 1:
        return set(named)
    if len(named) > 1:
        raise SelectionError(f"{body!r} is ambiguous, it names {sorted(named)}; use the full key")
    close = difflib.get_close_matches(body, list(graph.order), n=3)
    hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
    raise SelectionError(f"no asset {body!r} in this repository{hint}")


def resolve_selection(
    graph: AssetGraph, selection: str | Iterable[object] | None
) -> frozenset[str]:
    """The asset keys a selection names (external assets included).

    Raises:
        SelectionError: an item names nothing, or is malformed.
    """
    items = normalize_selection(selection)
    if items == ("*",):
        return frozenset(graph.order)
    chosen: set[str] = set()
    for item in items:
        if item == "*":
            chosen.update(graph.order)
            continue
        m = _ITEM.match(item)
        if m is None:
            raise SelectionError(
                f"malformed selection {item!r}; examples: 'orders', '+orders', 'orders*', "
                "'group:sales'"
            )
        base = _base(graph, m["body"])
        chosen |= graph.upstream(base, _depth(m["up"]))
        chosen |= graph.downstream(base, _depth(m["down"]))
    return frozenset(chosen)
