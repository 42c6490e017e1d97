"""Running the tasks of graph assets: call nodes, mapped items, collected and streamed results."""

from __future__ import annotations

import inspect
import queue
import threading
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from rivers.definitions.asset import Asset
from rivers.definitions.graph import Binding, GraphNode
from rivers.definitions.task import BashTask
from rivers.execution.bash import run_bash
from rivers.execution.capture import current_scope
from rivers.execution.context import AssetExecutionContext
from rivers.execution.events import EventKind
from rivers.execution.io import InputContext, IOHandler, OutputContext
from rivers.execution.partitioned import PartitionContext, load_mapped
from rivers.execution.runcontext import RunContext
from rivers.execution.step import (
    _attempts,
    _Await,
    _InputLoadError,
    _Program,
    _record_output,
    asset_failed,
    emit_outcome,
)
from rivers.planning.plan import PlanStep

if TYPE_CHECKING:
    from rivers.definitions.task import Task

__all__ = [
    "ITEM",
    "MappedItemError",
    "ResultStream",
    "StreamReader",
    "item_step_key",
    "map_item_program",
    "node_output_key",
    "node_program",
]

#: The injected-values key holding a mapped item.
ITEM = "__item__"


class MappedItemError(RuntimeError):
    """A mapped item failed, so the stream consuming the map cannot complete."""


class ResultStream:
    """Results of a map node as they finish, for the task consuming ``.collect_stream()``.

    Lives in the run process; a consumer in a worker process reaches it by reference.
    """

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.started = threading.Event()

    def put(self, value: Any) -> None:
        """Hand over one finished item's result."""
        self._queue.put(("item", value))
        self.started.set()

    def finish(self) -> None:
        """Every item has been handed over."""
        self._queue.put(("end", None))
        self.started.set()

    def fail(self, message: str) -> None:
        """An item failed: the consumer's iteration raises."""
        self._queue.put(("error", message))
        self.started.set()

    def take(self) -> tuple[str, Any]:
        """The next message, waiting for it: ``("item", value)``, ``("end", None)`` or an error."""
        return self._queue.get()


class StreamReader:
    """What a task receives for ``.collect_stream()``: a sync and async iterator of results."""

    def __init__(self, source: Any) -> None:
        self._source = source

    def _next(self, kind: str, value: Any) -> Any:
        if kind == "item":
            return value
        if kind == "error":
            raise MappedItemError(value)
        return _END

    def __iter__(self) -> StreamReader:
        return self

    def __next__(self) -> Any:
        value = self._next(*self._source.take())
        if value is _END:
            raise StopIteration
        return value

    def __aiter__(self) -> StreamReader:
        return self

    async def __anext__(self) -> Any:
        import asyncio

        value = self._next(*await asyncio.to_thread(self._source.take))
        if value is _END:
            raise StopAsyncIteration
        return value


_END = object()


def node_output_key(graph_key: str, node_id: str, run_id: str) -> str:
    """Where an intermediate task output is stored: scoped to its run."""
    return f"{graph_key}.{node_id}/{run_id}"


def item_step_key(step_key: str, index: int) -> str:
    """The step key events of one mapped item carry."""
    return f"{step_key}[{index}]"


def _node_handler(run: RunContext, graph: Asset) -> IOHandler:
    return graph.node_io_handler or run.default_io


def _load(run: RunContext, graph: Asset, binding: Binding) -> Any:
    """The value of a ``const``, ``asset`` or ``node`` binding."""
    if binding.kind == "const":
        return binding.value
    if binding.kind == "node":
        context = InputContext(
            asset_key=node_output_key(graph.key, binding.ref, run.run_id),
            downstream_key=graph.key,
            run_id=run.run_id,
        )
        return _node_handler(run, graph).load_input(context)
    inp = next(i for i in run.inputs[graph.key] if i.arg_name == binding.ref)
    handler = inp.io_handler or run.handler_for(inp.asset_key)

    def load(partition_key: str | None) -> Any:
        context = InputContext(
            asset_key=inp.asset_key,
            downstream_key=graph.key,
            run_id=run.run_id,
            partition_key=partition_key,
            metadata=inp.metadata,
        )
        return handler.load_input(context)

    try:
        return load_mapped(
            load,
            downstream_keys=run.keys_of(graph),
            upstream_def=run.assets[inp.asset_key].partitions_def,
            mapping=inp.partition_mapping,
            storage=run.storage,
        )
    except Exception as exc:
        raise _InputLoadError(
            f"graph {graph.key!r}: loading {inp.asset_key!r} failed: {type(exc).__name__}: {exc}",
            exc,
        ) from exc


def load_source(run: RunContext, graph: Asset, binding: Binding) -> Any:
    """A map node's source value (loaded in the run process to split it into items)."""
    return _load(run, graph, binding)


def _kwargs(
    run: RunContext, graph: Asset, node: GraphNode, injected: dict[str, Any]
) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    for param, binding in node.args.items():
        if binding.kind in ("collect", "stream", "item"):
            kwargs[param] = injected[param]
        else:
            kwargs[param] = _load(run, graph, binding)
    if node.kind == "map" and node.item_param is not None:
        kwargs[node.item_param] = injected[ITEM]
    return kwargs


def _call(
    run: RunContext,
    graph: Asset,
    node: GraphNode,
    step_key: str,
    kwargs: dict[str, Any],
    attempt: int,
) -> Generator[_Await, Any, tuple[Any, AssetExecutionContext[Any] | None]]:
    task: Task = node.task
    if isinstance(task, BashTask):
        # The command's lines go through the step's capture scope, like print() output: same
        # stream metadata, same caps. The stderr reader thread has no scope of its own.
        scope = current_scope()

        def log_line(stream: str, line: str) -> None:
            if scope is not None:
                scope.line(stream, line)
            else:
                level = "WARNING" if stream == "stderr" else "INFO"
                run.emit(EventKind.LOG, step_key, level=level, message=line)

        return run_bash(task, log_line), None
    context: AssetExecutionContext[Any] | None = None
    if task.spec.context_param is not None:
        keys = run.keys_of(graph)
        context = AssetExecutionContext(
            run_id=run.run_id,
            asset_key=graph.key,
            step_key=step_key,
            config=None,
            output_selection=frozenset({graph.key}),
            partition=(
                PartitionContext(graph.partitions_def, keys)
                if keys is not None and graph.partitions_def is not None
                else None
            ),
            retry_number=attempt,
            storage=run.storage,
        )
        kwargs[task.spec.context_param] = context
    result = task.fn(**kwargs)
    if inspect.isawaitable(result):
        result = yield _Await(result)
    return result, context


def node_program(run: RunContext, step: PlanStep, first_attempt: int) -> _Program:
    """Run one call node of a graph asset; the output node materializes the asset."""
    assert step.graph is not None
    assert step.node is not None
    graph = run.assets[step.graph]
    assert graph.graph is not None
    node = graph.graph.node(step.node)
    injected = run.injected.get(step.key, {})
    is_output = bool(step.asset_keys)
    keys = run.keys_of(graph) if is_output else None

    def body(attempt: int) -> Generator[_Await, Any, None]:
        kwargs = _kwargs(run, graph, node, injected)
        result, context = yield from _call(run, graph, node, step.key, kwargs, attempt)
        if is_output:
            outcome = _record_output(run, graph, step, keys, result, context)
            emit_outcome(run, step.key, graph.key, outcome, attempt)
            return
        out = OutputContext(
            asset_key=node_output_key(graph.key, node.node_id, run.run_id),
            run_id=run.run_id,
            step_key=step.key,
        )
        _node_handler(run, graph).handle_output(out, result)

    ok, _ = yield from _attempts(
        run,
        step.key,
        graph.key if is_output else None,
        node.task.retry_policy,
        first_attempt,
        body,
        asset_failed(run, step.key, graph.key, keys) if is_output else (lambda message: None),
    )
    return ok


def map_item_program(
    run: RunContext, step: PlanStep, index: int, item: Any, first_attempt: int = 0
) -> _Program:
    """Run a map node's task on one item; returns ``(ok, result)``."""
    assert step.graph is not None
    assert step.node is not None
    graph = run.assets[step.graph]
    assert graph.graph is not None
    node = graph.graph.node(step.node)
    injected = {**run.injected.get(step.key, {}), ITEM: item}
    key = item_step_key(step.key, index)

    def body(attempt: int) -> Generator[_Await, Any, Any]:
        kwargs = _kwargs(run, graph, node, injected)
        result, _ = yield from _call(run, graph, node, key, kwargs, attempt)
        return result

    return (
        yield from _attempts(
            run,
            key,
            None,
            node.task.retry_policy,
            first_attempt,
            body,
            map_step=step.key,
            map_index=index,
        )
    )
