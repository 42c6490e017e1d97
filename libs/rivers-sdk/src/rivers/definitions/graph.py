"""Graph assets: composing tasks into one asset whose tasks are separate plan steps.

``@rs.Asset.from_graph()`` runs the decorated body once, at definition time, with a
composition active: calling a task or an asset there returns a handle instead of running
anything, and handles record the graph — which task consumes which output, what is mapped
over (``.map``), and where results are gathered (``.collect`` waits for every mapped item,
``.collect_stream`` hands them over as they finish).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from rivers.errors import DefinitionError

if TYPE_CHECKING:
    from rivers.definitions.task import Task

__all__ = [
    "Binding",
    "Composition",
    "GraphDefinition",
    "GraphNode",
    "Handle",
    "compose_graph",
    "current_composition",
]

BindingKind = Literal["const", "asset", "node", "item", "collect", "stream"]


@dataclass(frozen=True, slots=True)
class Binding:
    """Where one task argument comes from.

    - ``const``: a literal value written in the graph body;
    - ``asset``: an outer asset's value (``ref`` names it; resolved like an asset input);
    - ``node``: another task's output;
    - ``item``: the current item of the map node that runs this task (or of its source map);
    - ``collect`` / ``stream``: every result of a map node, as a list once all are done, or
      as an iterator that yields results as they finish.
    """

    kind: BindingKind
    ref: str = ""
    value: Any = None


@dataclass(frozen=True, slots=True)
class GraphNode:
    """One task invocation of a graph.

    A ``map`` node runs ``task`` once per item of ``source`` (another node's output, an outer
    asset, or — for chained maps — the items of another map node), at most
    ``max_concurrency`` at a time; ``item_param`` receives the item.
    """

    node_id: str
    task: Task
    args: dict[str, Binding]
    kind: Literal["call", "map"] = "call"
    source: Binding | None = None
    item_param: str | None = None
    max_concurrency: int | None = None

    @property
    def bindings(self) -> list[Binding]:
        """Every binding of the node: its arguments and its map source."""
        return [*self.args.values(), *([self.source] if self.source else [])]

    @property
    def upstream_nodes(self) -> list[str]:
        """Nodes this node waits for (map sources and chained maps included)."""
        return [b.ref for b in self.bindings if b.kind in ("node", "item", "collect", "stream")]

    @property
    def outer_assets(self) -> list[str]:
        """Outer asset references this node loads."""
        return [b.ref for b in self.bindings if b.kind == "asset"]


@dataclass(frozen=True, slots=True)
class GraphDefinition:
    """The tasks of a graph asset and which one's output is the asset's value."""

    nodes: tuple[GraphNode, ...]
    output: str

    def node(self, node_id: str) -> GraphNode:
        """The node called ``node_id``."""
        for node in self.nodes:
            if node.node_id == node_id:
                return node
        raise KeyError(node_id)


@dataclass(eq=False)
class Handle:
    """The future output of a task or asset inside a graph body."""

    composition: Composition
    binding: Binding
    mapped: bool = False

    def map(self, task: Task, *, max_concurrency: int | None = None, **kwargs: Any) -> Handle:
        """Run ``task`` once per item of this output (dynamic fan-out).

        The item goes to ``task``'s first parameter not given in ``kwargs``; mapping the
        result of a map chains the two per item.
        """
        return self.composition.map(self, task, max_concurrency, kwargs)

    def collect(self) -> Handle:
        """Every mapped result as a list, in item order, once all have finished (a barrier)."""
        return self._gather("collect")

    def collect_stream(self) -> Handle:
        """Mapped results as an iterator yielding each as soon as it finishes (no barrier).

        The consuming task starts when the first result is ready; a sync task iterates with
        ``for``, an async task with ``async for``.
        """
        return self._gather("stream")

    def _gather(self, kind: Literal["collect", "stream"]) -> Handle:
        if not self.mapped:
            raise DefinitionError(
                f"{kind}() gathers the results of .map(...); this handle is not mapped"
            )
        return Handle(self.composition, Binding(kind, self.binding.ref))

    def __iter__(self) -> Iterator[Any]:
        raise DefinitionError(
            "a graph body cannot iterate a task's output (it does not exist yet); use "
            ".map(task) to run a task per item"
        )

    def __bool__(self) -> bool:
        raise DefinitionError(
            "a graph body cannot branch on a task's output (it does not exist yet); decide "
            "inside a task instead"
        )


@dataclass
class Composition:
    """Records the nodes a graph body creates."""

    owner: str
    nodes: list[GraphNode] = field(default_factory=list)
    _names: dict[str, int] = field(default_factory=dict)

    def _node_id(self, task: Task) -> str:
        count = self._names.get(task.name, 0) + 1
        self._names[task.name] = count
        return task.name if count == 1 else f"{task.name}_{count}"

    def _bind(self, value: Any, task: Task) -> Binding:
        if isinstance(value, Handle):
            if value.composition is not self:
                raise DefinitionError(f"graph {self.owner!r}: a handle from another graph body")
            if value.mapped:
                raise DefinitionError(
                    f"graph {self.owner!r}: task {task.name!r} receives a mapped output; "
                    "map it (.map(task)) or gather it (.collect() / .collect_stream())"
                )
            return value.binding
        return Binding("const", value=value)

    def _bind_args(
        self, task: Task, args: tuple[Any, ...], kwargs: dict[str, Any], skip: str | None = None
    ) -> dict[str, Binding]:
        params = [i.arg_name for i in task.spec.inputs if i.arg_name != skip]
        if len(args) > len(params):
            raise DefinitionError(
                f"graph {self.owner!r}: task {task.name!r} takes {len(params)} inputs, "
                f"got {len(args)} positional arguments"
            )
        bound: dict[str, Binding] = {}
        for param, value in zip(params, args, strict=False):
            bound[param] = self._bind(value, task)
        for param, value in kwargs.items():
            if param not in params:
                raise DefinitionError(
                    f"graph {self.owner!r}: task {task.name!r} has no parameter {param!r}"
                )
            if param in bound:
                raise DefinitionError(
                    f"graph {self.owner!r}: task {task.name!r} got {param!r} twice"
                )
            bound[param] = self._bind(value, task)
        for spec in task.spec.inputs:
            if spec.arg_name not in bound and spec.arg_name != skip and not spec.optional:
                # Not passed: a parameter named after an asset is wired to that asset.
                bound[spec.arg_name] = Binding("asset", spec.arg_name)
        return bound

    def call(self, task: Task, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Handle:
        """Record an invocation of ``task`` and return its handle."""
        node = GraphNode(self._node_id(task), task, self._bind_args(task, args, kwargs))
        self.nodes.append(node)
        return Handle(self, Binding("node", node.node_id))

    def map(
        self, source: Handle, task: Task, max_concurrency: int | None, kwargs: dict[str, Any]
    ) -> Handle:
        """Record ``task`` mapped over ``source``'s items."""
        if max_concurrency is not None and max_concurrency < 1:
            raise DefinitionError(f"graph {self.owner!r}: max_concurrency must be >= 1")
        free = [i.arg_name for i in task.spec.inputs if i.arg_name not in kwargs]
        if not free:
            raise DefinitionError(
                f"graph {self.owner!r}: task {task.name!r} has no parameter left for the item"
            )
        item_param = free[0]
        # Chained map: item i of this node is computed from item i of the source map.
        source_binding = Binding("item", source.binding.ref) if source.mapped else source.binding
        node = GraphNode(
            self._node_id(task),
            task,
            self._bind_args(task, (), kwargs, skip=item_param),
            kind="map",
            source=source_binding,
            item_param=item_param,
            max_concurrency=max_concurrency,
        )
        self.nodes.append(node)
        return Handle(self, Binding("node", node.node_id), mapped=True)

    def asset(self, asset_key: str) -> Handle:
        """A handle to an outer asset's value (an asset called inside the graph body)."""
        return Handle(self, Binding("asset", asset_key))


_local = threading.local()


def current_composition() -> Composition | None:
    """The graph body being composed in this thread, if any."""
    return getattr(_local, "composition", None)


@contextmanager
def _composing(owner: str) -> Iterator[Composition]:
    if current_composition() is not None:
        raise DefinitionError(f"graph {owner!r}: graph bodies cannot be nested")
    composition = Composition(owner)
    _local.composition = composition
    try:
        yield composition
    finally:
        _local.composition = None


def compose_graph(owner: str, body: Any) -> GraphDefinition:
    """Run a graph body and return the graph it builds.

    Raises:
        DefinitionError: the body returns no task output, returns a mapped output without
            gathering it, or uses handles in ways that need their values.
    """
    with _composing(owner) as composition:
        try:
            result = body()
        except DefinitionError:
            raise
        except Exception as exc:
            raise DefinitionError(f"graph {owner!r}: the graph body raised {exc!r}") from exc
    if not isinstance(result, Handle) or result.binding.kind != "node":
        raise DefinitionError(
            f"graph {owner!r}: the body must return the output of a task call (e.g. "
            "`return total(numbers().map(double).collect())`)"
        )
    if result.mapped:
        raise DefinitionError(
            f"graph {owner!r}: the body returns a mapped output; gather it with a task that "
            "takes .collect() (or .collect_stream())"
        )
    return GraphDefinition(nodes=tuple(composition.nodes), output=result.binding.ref)
