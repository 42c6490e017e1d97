"""The logging bridge and captured step output: what steps log and print reaches the event log."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import rivers as rs
from rivers.cli.main import main as cli_main
from rivers.execution.capture import StepScope
from rivers.execution.events import EventKind, RunEvent
from rivers.execution.runlogs import filter_logs, log_stream, read_run_logs
from rivers.telemetry import bind_ids, configure_logging, get_logger
from rivers.telemetry import logs as telemetry_logs
from tests.gateway.harness import LoopThread, Stack

EXECUTORS = [
    pytest.param(rs.Executor.in_process(), id="in_process"),
    pytest.param(rs.Executor.parallel(max_workers=2), id="parallel"),
]


def _lines(result: rs.MaterializeResult, step: str, stream: str | None = None) -> list[RunEvent]:
    return filter_logs(result.events, step=step, stream=stream)


@pytest.fixture
def rivers_logger_state() -> Iterator[None]:
    """Restore the ``rivers`` logger's handlers, level and propagation after the test."""
    root = logging.getLogger("rivers")
    saved = (list(root.handlers), root.level, root.propagate)
    render_level = telemetry_logs._render_level
    yield
    telemetry_logs._render_level = render_level
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    root.propagate = saved[2]


@pytest.mark.parametrize("executor", EXECUTORS)
def test_context_log_and_rivers_loggers_reach_the_event_log(make_repo, executor):
    """context.log and getLogger('rivers').getChild(...) become LOG events with level and extras."""

    @rs.Asset
    def logged(context: rs.AssetExecutionContext) -> int:
        context.log.info("loaded %d rows", 3, extra={"rows": 3, "table": "orders"})
        context.log.warning("slow source")
        logging.getLogger("rivers").getChild("mine").debug("a debug detail")
        return 1

    result = make_repo(logged).materialize(executor=executor)
    assert result.success
    lines = _lines(result, "logged", "log")
    assert [(e.level, e.message) for e in lines] == [
        ("INFO", "loaded 3 rows"),
        ("WARNING", "slow source"),
        ("DEBUG", "a debug detail"),
    ]
    assert lines[0].metadata["rows"].value == 3
    assert lines[0].metadata["table"].value == "orders"
    assert lines[0].metadata["logger"].value == "rivers.asset.logged"
    assert lines[2].metadata["logger"].value == "rivers.mine"
    assert {e.step_key for e in lines} == {"logged"}


@pytest.mark.parametrize("executor", EXECUTORS)
def test_stdout_and_stderr_are_captured_per_step_in_order(make_repo, executor):
    """print() and sys.stderr writes become stdout/stderr lines of their step, in order."""

    @rs.Asset
    def noisy() -> int:
        print("first")  # noqa: T201 - the captured output under test
        sys.stderr.write("oops\n")
        print("second", end="")  # noqa: T201 - a partial line is flushed at the end
        return 1

    @rs.Asset
    def quiet(noisy: int) -> int:
        return noisy

    result = make_repo(noisy, quiet).materialize(executor=executor)
    assert result.success
    lines = _lines(result, "noisy")
    assert [(log_stream(e), e.level, e.message) for e in lines] == [
        ("stdout", "INFO", "first"),
        ("stderr", "WARNING", "oops"),
        ("stdout", "INFO", "second"),
    ]
    assert _lines(result, "quiet") == []
    # Each line comes after its step started and before it succeeded.
    kinds = [(e.kind, e.message) for e in result.events if e.step_key == "noisy"]
    assert kinds[0][0] is EventKind.STEP_STARTED
    assert kinds[-1][0] is EventKind.STEP_SUCCESS


def test_concurrent_async_steps_are_attributed_to_their_own_step(make_repo, capsys):
    """Interleaved prints of async steps land on the right step; prints outside pass through."""

    async def chatter(name: str) -> int:
        for i in range(5):
            print(f"{name} {i}")  # noqa: T201 - the captured output under test
            await asyncio.sleep(0.01)
        return 1

    @rs.Asset
    async def left() -> int:
        return await chatter("left")

    @rs.Asset
    async def right() -> int:
        return await chatter("right")

    result = make_repo(left, right).materialize(executor=rs.Executor.parallel())
    assert result.success
    assert [e.message for e in _lines(result, "left")] == [f"left {i}" for i in range(5)]
    assert [e.message for e in _lines(result, "right")] == [f"right {i}" for i in range(5)]
    print("outside any step")  # noqa: T201 - must reach the real stdout
    out = capsys.readouterr().out
    assert "outside any step" in out
    assert "left 0" not in out


@pytest.mark.parametrize("executor", EXECUTORS)
def test_mapped_items_and_bash_tasks_are_attributed(make_repo, executor):
    """A mapped item's lines carry its item key and map metadata; BashTask lines are streams."""

    @rs.Asset
    def numbers() -> list[int]:
        return [1, 2]

    @rs.Task
    def double(x: int, context: rs.AssetExecutionContext) -> int:
        context.log.info("doubling %d", x)
        return x * 2

    @rs.Task
    def total(values: list[int]) -> int:
        return sum(values)

    @rs.BashTask(command=["sh", "-c", "echo out-line; echo err-line >&2"])
    def shout(): ...

    @rs.Asset.from_graph()
    def doubled():
        return total(numbers().map(double).collect())

    @rs.Asset.from_graph()
    def shouted():
        return shout()

    result = make_repo(numbers, doubled, shouted).materialize(executor=executor)
    assert result.success, [f.message for f in result.failures]
    (map_step,) = {
        e.metadata["map_step"].value for e in filter_logs(result.events) if "map_step" in e.metadata
    }
    items = {e.step_key: e for e in filter_logs(result.events, step=map_step)}
    assert set(items) == {f"{map_step}[0]", f"{map_step}[1]"}
    assert items[f"{map_step}[1]"].metadata["map_index"].value == 1
    assert items[f"{map_step}[1]"].message == "doubling 2"
    bash = [e for e in filter_logs(result.events) if e.message in ("out-line", "err-line")]
    # Two pipes read by two threads: their relative order is not defined.
    assert sorted((log_stream(e), e.level, e.message) for e in bash) == [
        ("stderr", "WARNING", "err-line"),
        ("stdout", "INFO", "out-line"),
    ]


def test_output_over_the_cap_ends_with_a_truncated_marker(make_repo, monkeypatch):
    """Lines past RIVERS_STEP_LOG_MAX_LINES are dropped and summarized by one final event."""
    monkeypatch.setenv("RIVERS_STEP_LOG_MAX_LINES", "5")

    @rs.Asset
    def flood() -> int:
        for i in range(20):
            print(f"line {i:02d}")  # noqa: T201 - the captured output under test
        return 1

    result = make_repo(flood).materialize()
    lines = _lines(result, "flood", "stdout")
    assert [e.message for e in lines[:5]] == [f"line {i:02d}" for i in range(5)]
    assert len(lines) == 6
    assert lines[-1].message == "… truncated (15 more lines, 120 bytes)"
    assert lines[-1].level == "WARNING"
    assert lines[-1].metadata["truncated_lines"].value == 15


def test_ten_thousand_lines_are_stored_in_order_in_few_rows(make_repo, tmp_path):
    """10,000 lines reach storage in order as a handful of chunk events, not 10,000 rows."""

    @rs.Asset
    def chatty(context: rs.AssetExecutionContext) -> int:
        for i in range(10_000):
            context.log.info("row %d", i)
        return 1

    repo = make_repo(chatty, storage=rs.Storage.embedded(tmp_path / "store"))
    result = repo.materialize()
    stored = repo.storage.get_run_events(result.run_id, kinds=[EventKind.LOG])
    assert len(stored) <= 50
    lines = read_run_logs(repo.storage, result.run_id, step="chatty")
    assert [e.message for e in lines] == [f"row {i}" for i in range(10_000)]


def test_chunks_wait_at_most_the_linger_for_live_readers():
    """A lone line is sent within a fraction of a second, without waiting for the step's end."""
    sent: list[RunEvent] = []

    class Sink:
        def emit(self, event: RunEvent) -> None:
            sent.append(event)

    scope = StepScope(Sink(), "run", "step")
    scope.line("stdout", "hello")
    started = time.monotonic()
    while not sent and time.monotonic() - started < 2:
        time.sleep(0.01)
    waited = time.monotonic() - started
    scope.close()
    assert [e.message for e in sent] == ["hello"]
    assert waited < 1


def test_rivers_logs_prints_a_steps_lines(make_repo, tmp_path, capsys, rivers_logger_state):
    """``rivers logs RUN_ID --step KEY`` prints time, level, step and message of each line."""

    @rs.Asset
    def first(context: rs.AssetExecutionContext) -> int:
        context.log.info("from first")
        return 1

    @rs.Asset
    def second(first: int) -> int:
        print("from second")  # noqa: T201 - the captured output under test
        return first

    store = tmp_path / "store"
    repo = make_repo(first, second, storage=rs.Storage.embedded(store))
    run_id = repo.materialize().run_id
    repo.storage.close()
    capsys.readouterr()
    assert cli_main(["logs", run_id, "--step", "second", "--storage", str(store)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1
    assert out[0].endswith(" INFO    second [stdout] from second")
    assert cli_main(["logs", "no-such-run", "--storage", str(store)]) == 1


def test_service_logs_carry_run_and_step_ids(capsys, rivers_logger_state):
    """The SDK's structured logs inside bind_ids render run_id and step_key (JSON style)."""
    configure_logging("INFO", style="json")
    log = get_logger("rivers.test_observability")
    with bind_ids(run_id="r1", step_key="s1"):
        log.info("inside.step", n=1)
    log.debug("below.level")
    entries = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    assert [e["event"] for e in entries] == ["inside.step"]
    assert entries[0]["run_id"] == "r1"
    assert entries[0]["step_key"] == "s1"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """A store, a planner and a gateway (stopped and deleted after the test)."""
    loop = LoopThread()
    stack = Stack(loop, tmp_path)
    try:
        stack.start_planner()
        stack.start_gateway()
        yield stack
    finally:
        stack.close()
        loop.close()


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - local test URL
        return json.loads(response.read().decode())


def test_client_and_http_route_return_a_runs_log_lines(stack: Stack):
    """RiversClient.run_logs and GET /api/runs/{id}/logs give the lines, by step and stream."""

    @rs.Asset
    def talker(context: rs.AssetExecutionContext) -> int:
        context.log.info("said %s", "hi", extra={"who": "me"})
        print("printed")  # noqa: T201 - the captured output under test
        return 1

    repo = rs.CodeRepository(assets=[talker], storage=stack.storage)
    run_id = repo.materialize().run_id
    with stack.client() as client:
        lines = client.run_logs(run_id, step="talker")
        assert [(log_stream(e), e.message) for e in lines] == [
            ("log", "said hi"),
            ("stdout", "printed"),
        ]
        assert [e.message for e in client.run_logs(run_id, stream="stdout")] == ["printed"]
    body = _get_json(stack.http + f"/api/runs/{run_id}/logs?step=talker&stream=log")
    assert [(line["message"], line["metadata"]["who"]) for line in body["lines"]] == [
        ("said hi", "me")
    ]
    assert body["lines"][0]["stream"] == "log"
    with pytest.raises(urllib.error.HTTPError) as missing:
        _get_json(stack.http + "/api/runs/no-such-run/logs")
    assert missing.value.code == 404
    missing.value.close()


def test_root_handlers_see_what_they_saw_before_the_bridge(make_repo, caplog, rivers_logger_state):
    """With ``rivers`` unconfigured, root handlers get user records at the root's level only."""
    root = logging.getLogger("rivers")
    root.handlers.clear()
    root.setLevel(logging.NOTSET)
    root.propagate = True
    caplog.set_level(logging.WARNING)

    @rs.Asset
    def talks(context: rs.AssetExecutionContext) -> int:
        context.log.info("only in the event log")
        context.log.warning("also for the root handlers")
        return 1

    result = make_repo(talks).materialize()
    assert [e.message for e in _lines(result, "talks")] == [
        "only in the event log",
        "also for the root handlers",
    ]
    seen = [r.getMessage() for r in caplog.records if r.name.startswith("rivers")]
    assert seen == ["also for the root handlers"]


def test_listeners_printing_during_a_step_neither_deadlock_nor_feed_its_log(make_repo, capsys):
    """A run listener that prints every event writes to the real stdout, not the step's log."""

    def listener(event: RunEvent) -> None:
        print(f"listener saw {event.kind}")  # noqa: T201 - the listener output under test

    @rs.Asset
    def busy(context: rs.AssetExecutionContext) -> int:
        for i in range(3):
            print(f"step line {i}")  # noqa: T201 - the captured output under test
        context.log.info("logged")
        return 1

    result = make_repo(busy).materialize(_listeners=[listener])
    assert result.success
    assert [e.message for e in _lines(result, "busy")] == [
        "step line 0",
        "step line 1",
        "step line 2",
        "logged",
    ]
    assert "listener saw LOG" in capsys.readouterr().out
