"""BashTask (streamed output, exit status, env, cwd, every executor) and multi-assets."""

from __future__ import annotations

import pickle
import sys

import pytest

import rivers as rs

EXECUTORS = [rs.Executor.in_process(), rs.Executor.parallel(max_workers=2)]


def _script(code: str) -> list[str]:
    return [sys.executable, "-c", code]


@rs.BashTask(
    command=_script(
        "import os, sys; print('hello', os.environ['GREETING']); print(os.getcwd()); "
        "print('warned', file=sys.stderr)"
    ),
    env={"GREETING": "bonjour"},
    cwd="/",
)
def greet(): ...


@rs.BashTask(
    command=_script("import sys; print('partial'); sys.stderr.write('boom\\n'); sys.exit(4)")
)
def fails(): ...


@rs.Task
def shout(text: str) -> str:
    return text.upper()


@rs.Asset.from_graph()
def greeting():
    return shout(greet())


@rs.Asset.from_graph()
def broken_script():
    return shout(fails())


@pytest.mark.parametrize("executor", EXECUTORS, ids=["in_process", "parallel"])
def test_bash_task_output_env_cwd_and_log_lines(make_repo, executor):
    """A BashTask's stdout is its value; env and cwd apply; output lines land in the log."""
    result = make_repo(greeting).materialize(executor=executor)
    assert result.success, [f.message for f in result.failures]
    assert result.output_for("greeting") == "HELLO BONJOUR\n/\n"
    logs = [(e.level, e.message) for e in result.events if e.kind is rs.EventKind.LOG]
    assert ("INFO", "hello bonjour") in logs
    assert ("WARNING", "warned") in logs


@pytest.mark.parametrize("executor", EXECUTORS, ids=["in_process", "parallel"])
def test_bash_task_failure_carries_the_stderr_tail(make_repo, executor):
    """A non-zero exit fails the step; the message names the status and the stderr tail."""
    result = make_repo(broken_script).materialize(executor=executor)
    assert not result.success
    (failure,) = result.failures
    assert "exited with status 4" in failure.message
    assert "boom" in failure.message


def test_bash_task_is_picklable_and_callable():
    """A BashTask survives pickling and runs its command when called directly."""
    clone = pickle.loads(pickle.dumps(greet))
    assert clone.command == greet.command
    assert "hello bonjour" in greet()


def test_bash_task_needs_a_command_list():
    """A command given as one string (or empty) is refused at definition time."""
    with pytest.raises(rs.DefinitionError, match="list of strings"):
        rs.BashTask(command="echo hi")  # type: ignore[arg-type]


@rs.Asset.from_multi(output_defs=[rs.AssetDef("users"), rs.AssetDef("orders")])
def extract(context: rs.AssetExecutionContext):
    if "users" in context.output_selection:
        yield rs.Output(value=["ada", "bob"], output_name="users")
    if "orders" in context.output_selection:
        yield rs.Output(value=[1, 2, 3], output_name="orders", metadata={"rows": 3})


@rs.Asset
def order_count(orders: list[int]) -> int:
    return len(orders)


@pytest.mark.parametrize("executor", EXECUTORS, ids=["in_process", "parallel"])
def test_multi_asset_materializes_every_output_in_one_step(make_repo, executor):
    """One call produces both assets; each is stored and recorded with its metadata."""
    repo = make_repo(extract, order_count)
    result = repo.materialize(executor=executor)
    assert result.success, [f.message for f in result.failures]
    assert result.output_for("users") == ["ada", "bob"]
    assert result.output_for("order_count") == 3
    starts = [e for e in result.events if e.kind is rs.EventKind.STEP_STARTED]
    assert [e.step_key for e in starts].count("extract") == 1
    orders = next(e for e in result.materializations if e.asset_key == "orders")
    assert orders.metadata["rows"].value == 3


def test_multi_asset_subsetting_through_output_selection(make_repo):
    """Selecting one output calls the function with only that output selected."""
    repo = make_repo(extract, order_count)
    result = repo.materialize(["users"])
    assert result.materialized_keys == ["users"]
    assert repo.storage.get_asset_record(repo.location_id(), "orders") is None


def test_multi_asset_missing_output_fails(make_repo):
    """A selected output that is never yielded fails the step, naming the output."""

    @rs.Asset.from_multi(output_defs=[rs.AssetDef("a"), rs.AssetDef("b")])
    def half():
        yield rs.Output(1, output_name="a")

    result = make_repo(half).materialize()
    assert not result.success
    assert "['b']" in result.failures[0].message
