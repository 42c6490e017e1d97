"""Map steps of graph assets: fanning a task out over items, gathering or streaming results."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from rivers.execution.events import ErrorInfo, EventKind
from rivers.execution.nodes import ResultStream, StreamReader, item_step_key, load_source
from rivers.execution.runcontext import RunContext
from rivers.planning.plan import PlanStep

if TYPE_CHECKING:
    from rivers.definitions.asset import Asset
    from rivers.definitions.graph import GraphNode

__all__ = ["FanOut"]

ItemRunner = Callable[[PlanStep, int, Any], Awaitable[tuple[bool, Any]]]


class FanOut:
    """Results of the run's map steps, and the streams their consumers read."""

    def __init__(self, run: RunContext) -> None:
        self.run = run
        self.results: dict[str, list[Any]] = {}
        self.streams: dict[str, ResultStream] = {}
        for step in run.plan.steps:
            for source in step.streams:
                self.streams.setdefault(source, ResultStream())

    def _graph(self, step: PlanStep) -> tuple[Asset, GraphNode]:
        assert step.graph is not None
        assert step.node is not None
        graph = self.run.assets[step.graph]
        assert graph.graph is not None
        return graph, graph.graph.node(step.node)

    def injected(self, step: PlanStep) -> dict[str, Any]:
        """Values the scheduler hands this task: gathered lists and result streams."""
        if step.graph is None:
            return {}
        graph, node = self._graph(step)
        values: dict[str, Any] = {}
        for param, binding in node.args.items():
            source = f"{graph.key}.{binding.ref}"
            if binding.kind == "collect":
                values[param] = list(self.results[source])
            elif binding.kind == "stream":
                values[param] = StreamReader(self.streams[source])
        return values

    async def run_map(
        self,
        step: PlanStep,
        run_item: ItemRunner,
        on_first_result: Callable[[], None],
    ) -> bool:
        """Run ``step``'s task once per item of its source; True when every item succeeded."""
        graph, node = self._graph(step)
        run = self.run
        run.emit(EventKind.STEP_STARTED, step)
        started = time.perf_counter()
        stream = self.streams.get(step.key)
        try:
            assert node.source is not None
            if node.source.kind == "item":
                items = list(self.results[f"{graph.key}.{node.source.ref}"])
            else:
                source = await asyncio.to_thread(load_source, run, graph, node.source)
                items = list(source)
        except Exception as exc:
            error = ErrorInfo.from_exception(exc)
            return self._fail(step, stream, f"cannot read the items to map: {error.message}", error)
        results: list[Any] = [None] * len(items)
        failures: list[int] = []
        first = True
        limit = asyncio.Semaphore(node.max_concurrency or max(len(items), 1))

        async def one(index: int, item: Any) -> None:
            nonlocal first
            async with limit:
                ok, value = await run_item(step, index, item)
            if not ok:
                failures.append(index)
                return
            results[index] = value
            if stream is not None:
                stream.put(value)
            if first:
                first = False
                on_first_result()

        await asyncio.gather(*(one(i, item) for i, item in enumerate(items)))
        if failures:
            failed = ", ".join(item_step_key(step.key, i) for i in sorted(failures)[:5])
            message = f"{len(failures)} of {len(items)} mapped items failed ({failed})"
            return self._fail(
                step, stream, message, ErrorInfo(error_type="MappedItemsFailed", message=message)
            )
        self.results[step.key] = results
        if stream is not None:
            stream.finish()
        if first:
            on_first_result()  # nothing to map: consumers still start (and see an empty stream)
        run.emit(
            EventKind.STEP_SUCCESS,
            step,
            message=f"{len(items)} mapped items",
            duration_ms=(time.perf_counter() - started) * 1000,
        )
        return True

    def _fail(
        self, step: PlanStep, stream: ResultStream | None, message: str, error: ErrorInfo
    ) -> bool:
        if stream is not None:
            stream.fail(message)
        self.run.emit(EventKind.STEP_FAILURE, step, level="ERROR", message=message, error=error)
        return False
