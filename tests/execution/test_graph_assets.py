"""Graph assets: tasks as plan steps, fan-out with .map, .collect and .collect_stream."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

import rivers as rs
from rivers.planning import build_plan

EXECUTORS = [rs.Executor.in_process(), rs.Executor.parallel(max_workers=2)]


@rs.Task
def double(x: int) -> int:
    return x * 2


@rs.Task
def total(xs: list[int]) -> int:
    return sum(xs)


@rs.Asset
def numbers() -> list[int]:
    return [1, 2, 3, 4, 5]


@rs.Asset.from_graph()
def doubled():
    return total(numbers().map(double).collect())


def test_tasks_are_separate_plan_steps(make_repo):
    """Each task of a graph asset is its own step; only the output task materializes it."""
    repo = make_repo(numbers, doubled)
    steps = {s.key: s for s in build_plan(repo.snapshot).steps}
    assert steps["doubled.double"].kind == "map"
    assert steps["doubled.double"].upstream == ("numbers",)
    assert steps["doubled.total"].asset_keys == ("doubled",)
    assert steps["doubled.total"].upstream == ("doubled.double",)


@pytest.mark.parametrize("executor", EXECUTORS, ids=["in_process", "parallel"])
def test_map_and_collect(make_repo, executor):
    """.map runs the task per item; .collect hands the results, in item order, to the next."""
    result = make_repo(numbers, doubled).materialize(executor=executor)
    assert result.success, [f.message for f in result.failures]
    assert result.output_for("doubled") == 30
    items = [e.step_key for e in result.events if e.kind is rs.EventKind.STEP_SUCCESS]
    assert [f"doubled.double[{i}]" for i in range(5)] == sorted(k for k in items if "[" in k)


@pytest.mark.parametrize("executor", EXECUTORS, ids=["in_process", "parallel"])
def test_collect_stream_starts_the_consumer_on_the_first_result(make_repo, executor, tmp_path):
    """The stream consumer sees the first result before the last mapped item has finished."""
    log = tmp_path / "log"

    @rs.Task
    def slow_item(i: int) -> int:
        time.sleep(0.05 + 0.2 * i)
        with log.open("a") as fh:
            fh.write(f"item {i} done {time.time()}\n")
        return i

    @rs.Task
    def consume(stream) -> list[int]:
        seen = []
        for value in stream:
            with log.open("a") as fh:
                fh.write(f"consumer got {value} {time.time()}\n")
            seen.append(value)
        return seen

    @rs.Asset
    def seeds() -> list[int]:
        return [0, 1, 2, 3]

    @rs.Asset.from_graph()
    def streamed():
        return consume(seeds().map(slow_item, max_concurrency=4).collect_stream())

    result = make_repo(seeds, streamed).materialize(executor=executor)
    assert result.success, [f.message for f in result.failures]
    assert sorted(result.output_for("streamed")) == [0, 1, 2, 3]
    lines = log.read_text().splitlines()
    first_seen = next(i for i, line in enumerate(lines) if line.startswith("consumer got"))
    last_done = max(i for i, line in enumerate(lines) if line.startswith("item"))
    assert first_seen < last_done


def test_async_tasks_and_async_map_templates(make_repo):
    """Async task bodies and async map templates are awaited."""

    @rs.Task
    async def fetch(i: int) -> int:
        await asyncio.sleep(0.01)
        return i + 100

    @rs.Task
    async def gather(values: list[int]) -> int:
        await asyncio.sleep(0)
        return max(values)

    @rs.Asset.from_graph()
    def fetched():
        return gather(numbers().map(fetch).collect())

    result = make_repo(numbers, fetched).materialize(
        executor=rs.Executor.parallel(max_workers=2, max_async_concurrent=5)
    )
    assert result.output_for("fetched") == 105


def test_task_parameters_named_after_assets_are_wired_in(make_repo):
    """A task parameter named after an outer asset receives that asset's value."""

    @rs.Asset
    def factor() -> int:
        return 10

    @rs.Task
    def scale(x: int, factor: int) -> int:
        return x * factor

    @rs.Asset.from_graph()
    def scaled():
        return total(numbers().map(scale).collect())

    repo = make_repo(numbers, factor, scaled)
    assert repo.materialize().output_for("scaled") == 150
    deps = {d.asset_key for d in repo.snapshot.assets_by_key["scaled"].dependencies}
    assert deps == {"numbers", "factor"}


def test_chained_calls_node_io_handler_and_node_executor(make_repo, tmp_path):
    """Intermediate outputs go through node_io_handler; rivers/node/executor places a task."""

    @rs.Task(metadata={"rivers/node/executor": "in_process"})
    def here(values: list[int]) -> list[int]:
        return [*values, os.getpid()]

    @rs.Task
    def there(values: list[int]) -> list[int]:
        return [*values, os.getpid()]

    @rs.Asset.from_graph(node_io_handler=rs.IOHandler.filesystem(tmp_path / "nodes"))
    def placed():
        return there(here(numbers()))

    result = make_repo(numbers, placed).materialize(executor=rs.Executor.parallel(max_workers=1))
    assert result.success, [f.message for f in result.failures]
    *_, here_pid, there_pid = result.output_for("placed")
    assert here_pid == os.getpid()
    assert there_pid != os.getpid()
    assert list((tmp_path / "nodes").glob("placed.here/*.pkl"))


def test_a_failing_mapped_item_fails_the_map_and_skips_the_collector(make_repo):
    """One failing item fails the map step (events per item) and skips what gathers it."""

    @rs.Task
    def picky(x: int) -> int:
        if x == 3:
            raise ValueError("three is not allowed")
        return x

    @rs.Asset.from_graph()
    def picked():
        return total(numbers().map(picky).collect())

    result = make_repo(numbers, picked).materialize()
    assert not result.success
    failures = {f.step_key: f.message for f in result.failures}
    assert "three is not allowed" in failures["picked.picky[2]"]
    assert "1 of 5 mapped items failed" in failures["picked.picky"]
    assert "picked" in result.skipped


def test_graph_body_errors_are_definition_errors():
    """Returning nothing usable or branching on a handle fails at definition time."""
    with pytest.raises(rs.DefinitionError, match="must return the output of a task"):

        @rs.Asset.from_graph()
        def empty():
            return None

    with pytest.raises(rs.DefinitionError, match="cannot branch"):

        @rs.Asset.from_graph()
        def branching():
            return double(1) if numbers() else double(2)

    with pytest.raises(rs.DefinitionError, match="gather it"):

        @rs.Asset.from_graph()
        def ungathered():
            return total(numbers().map(double))


def test_reference_map_example_runs_as_written(make_repo):
    """The design page's .map(...).collect_stream() example materializes."""

    @rs.Task
    def sum_all(xs) -> int:
        return sum(xs)

    @rs.Asset.from_graph()
    def doubled():
        mapped = numbers().map(double, max_concurrency=4)
        return sum_all(mapped.collect_stream())

    assert make_repo(numbers, doubled).materialize().output_for("doubled") == 30
