"""Async steps on the run's loop, max_async_concurrent, and cancelling a running run."""

from __future__ import annotations

import asyncio
import threading
import time

import rivers as rs


def _sleepers(n: int, seconds: float, probe: dict[str, int]) -> list[rs.Asset]:
    assets = []
    for i in range(n):

        async def sleeper(i: int = i) -> int:
            probe["now"] += 1
            probe["max"] = max(probe["max"], probe["now"])
            await asyncio.sleep(seconds)
            probe["now"] -= 1
            return i

        assets.append(rs.Asset(name=f"sleeper_{i}")(sleeper))
    return assets


def test_async_assets_run_concurrently_on_the_loop(make_repo):
    """50 async assets sleeping 0.5 s finish together under the parallel executor."""
    probe = {"now": 0, "max": 0}
    repo = make_repo(*_sleepers(50, 0.5, probe))
    started = time.perf_counter()
    result = repo.materialize(executor=rs.Executor.parallel(max_workers=2))
    assert result.success
    assert time.perf_counter() - started < 5  # serially this would take 25 s
    assert probe["max"] == 50


def test_max_async_concurrent_caps_the_async_fan_out(make_repo):
    """max_async_concurrent bounds how many async steps run at once."""
    probe = {"now": 0, "max": 0}
    repo = make_repo(*_sleepers(8, 0.05, probe))
    result = repo.materialize(executor=rs.Executor.parallel(max_async_concurrent=3))
    assert result.success
    assert probe["max"] == 3


def test_in_process_executor_runs_async_assets_one_at_a_time(make_repo):
    """The in-process executor awaits async assets serially."""
    probe = {"now": 0, "max": 0}
    result = make_repo(*_sleepers(4, 0.01, probe)).materialize()
    assert result.success
    assert probe["max"] == 1


def test_cancel_terminates_running_worker_steps(make_repo, tmp_path):
    """request_run_cancel stops a long step in a worker (SIGTERM) and marks the run CANCELED."""
    cleanup = tmp_path / "cleanup-ran"

    @rs.Asset
    def long_running() -> int:
        try:
            time.sleep(60)
        finally:
            cleanup.write_text("yes")  # SIGTERM raises SystemExit: finally blocks run
        return 1

    @rs.Asset
    def downstream(long_running: int) -> int:
        return long_running

    repo = make_repo(long_running, downstream)
    outcome: dict[str, rs.MaterializeResult] = {}
    runner = threading.Thread(
        target=lambda: outcome.setdefault(
            "r", repo.materialize(executor=rs.Executor.parallel(max_workers=1, cancel_grace=5))
        )
    )
    runner.start()
    deadline = time.time() + 30
    run_id = None
    while time.time() < deadline and run_id is None:
        runs = repo.storage.get_runs()
        if runs and any(
            e.kind is rs.EventKind.STEP_STARTED for e in repo.storage.get_run_events(runs[0].run_id)
        ):
            run_id = runs[0].run_id
        time.sleep(0.1)
    assert run_id is not None
    assert repo.storage.request_run_cancel(run_id)
    runner.join(timeout=30)
    assert not runner.is_alive()
    result = outcome["r"]
    assert not result.success
    run = repo.storage.get_run(run_id)
    assert run is not None and run.status is rs.RunStatus.CANCELED
    assert result.events[-1].kind is rs.EventKind.RUN_CANCELED
    assert "downstream" in result.skipped
    assert cleanup.read_text() == "yes"
    assert not repo.storage.request_run_cancel(run_id)  # finished runs cannot be cancelled
