"""The asset graph of a snapshot: adjacency, a deterministic topological order, groups.

Built iteratively (Kahn's algorithm), so a 5,000-deep chain is as easy as a wide
graph; networkx is only imported to name the cycle when there is one.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Iterable
from itertools import pairwise
from typing import ClassVar

from rivers.definitions.snapshot import DefinitionsSnapshot
from rivers.errors import DefinitionError

__all__ = ["AssetGraph"]

_CACHE_SIZE = 32


class AssetGraph:
    """Upstream/downstream adjacency and order of one snapshot's assets.

    Obtain it with :meth:`AssetGraph.of`, which caches graphs by snapshot id.
    """

    __slots__ = ("children", "external", "groups", "order", "parents", "position", "tags")

    _cache: ClassVar[OrderedDict[str, AssetGraph]] = OrderedDict()
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, snapshot: DefinitionsSnapshot) -> None:
        assets = snapshot.assets
        if any(a.key > b.key for a, b in pairwise(assets)):
            assets = tuple(sorted(assets, key=lambda a: a.key))
        parents: dict[str, tuple[str, ...]] = {}
        children: dict[str, list[str]] = {}
        groups: dict[str, list[str]] = {}
        tags: dict[str, dict[str, str]] = {}
        external: set[str] = set()
        for asset in assets:
            key = asset.key
            parents[key] = tuple(d.asset_key for d in asset.dependencies)
            children[key] = []
            groups.setdefault(asset.group, []).append(key)
            if asset.tags:
                tags[key] = asset.tags
            if asset.kind == "external":
                external.add(key)
        # Iterating in key order keeps every child list sorted without sorting it.
        for key, ups in parents.items():
            for up in ups:
                siblings = children.get(up)
                if siblings is None:
                    raise DefinitionError(
                        f"asset {key!r} depends on {up!r}, which is not in the snapshot"
                    )
                siblings.append(key)
        self.parents = parents
        self.children = {k: tuple(v) for k, v in children.items()}
        self.groups = {g: tuple(v) for g, v in groups.items()}
        self.tags = tags
        self.external = frozenset(external)
        self.order = self._toposort()
        self.position = {k: i for i, k in enumerate(self.order)}

    @classmethod
    def of(cls, snapshot: DefinitionsSnapshot) -> AssetGraph:
        """The (cached) graph of ``snapshot``.

        Raises:
            DefinitionError: the assets form a cycle, or depend on keys not in the snapshot.
        """
        sid = snapshot.snapshot_id
        with cls._lock:
            graph = cls._cache.get(sid)
            if graph is not None:
                cls._cache.move_to_end(sid)
                return graph
        graph = cls(snapshot)
        with cls._lock:
            cls._cache[sid] = graph
            while len(cls._cache) > _CACHE_SIZE:
                cls._cache.popitem(last=False)
        return graph

    def _toposort(self) -> tuple[str, ...]:
        # Kahn's algorithm, FIFO over keys in sorted order: deterministic for a given snapshot.
        indegree = {k: len(ups) for k, ups in self.parents.items()}
        ready = deque(k for k, d in indegree.items() if d == 0)
        order: list[str] = []
        children = self.children
        while ready:
            key = ready.popleft()
            order.append(key)
            for child in children[key]:
                left = indegree[child] - 1
                indegree[child] = left
                if left == 0:
                    ready.append(child)
        if len(order) != len(self.parents):
            stuck = {k for k, d in indegree.items() if d > 0}
            raise DefinitionError(f"assets form a cycle: {self._describe_cycle(stuck)}")
        return tuple(order)

    def _describe_cycle(self, stuck: set[str]) -> str:
        import networkx as nx

        g = nx.DiGraph()
        g.add_edges_from((up, k) for k in stuck for up in self.parents[k] if up in stuck)
        edges = nx.find_cycle(g)
        path = [edges[0][0], *(v for _, v in edges)]
        return " -> ".join(path)

    def __len__(self) -> int:
        return len(self.order)

    def __contains__(self, key: object) -> bool:
        return key in self.parents

    def upstream(self, keys: Iterable[str], depth: int | None = None) -> set[str]:
        """``keys`` plus their ancestors up to ``depth`` levels (all when ``None``)."""
        return self._walk(keys, self.parents, depth)

    def downstream(self, keys: Iterable[str], depth: int | None = None) -> set[str]:
        """``keys`` plus their descendants up to ``depth`` levels (all when ``None``)."""
        return self._walk(keys, self.children, depth)

    @staticmethod
    def _walk(
        keys: Iterable[str], edges: dict[str, tuple[str, ...]], depth: int | None
    ) -> set[str]:
        seen = set(keys)
        frontier = list(seen)
        level = 0
        while frontier and (depth is None or level < depth):
            nxt: list[str] = []
            for key in frontier:
                for other in edges[key]:
                    if other not in seen:
                        seen.add(other)
                        nxt.append(other)
            frontier = nxt
            level += 1
        return seen
