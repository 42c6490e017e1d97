"""The parallel executor: worker processes, no level barriers, crashes isolated to a step."""

from __future__ import annotations

import os
import time

import pytest

import rivers as rs

PARALLEL = rs.Executor.parallel(max_workers=2)


def test_sync_steps_run_in_reused_worker_processes(make_repo):
    """Sync steps run outside the run process, in at most max_workers reused processes."""
    assets = []
    for i in range(8):

        def pid(i: int = i) -> int:
            return os.getpid()

        assets.append(rs.Asset(name=f"pid_{i}")(pid))
    result = make_repo(*assets).materialize(executor=PARALLEL)
    assert result.success
    pids = {result.output_for(f"pid_{i}") for i in range(8)}
    assert os.getpid() not in pids
    assert 1 <= len(pids) <= 2


def test_in_memory_values_flow_between_worker_processes(make_repo):
    """With the default in-memory IO handler, values still reach downstream workers."""

    @rs.Asset
    def base() -> list[int]:
        return [1, 2, 3]

    @rs.Asset
    def total(base: list[int]) -> int:
        return sum(base)

    result = make_repo(base, total).materialize(executor=PARALLEL)
    assert result.output_for("total") == 6


def test_steps_start_as_soon_as_their_inputs_exist(make_repo):
    """A fast chain finishes while a slow independent step still runs (no level barrier)."""

    @rs.Asset
    def slow() -> float:
        time.sleep(1.5)
        return time.time()

    @rs.Asset
    def fast() -> int:
        return 1

    @rs.Asset
    def after_fast(fast: int) -> float:
        return time.time()

    @rs.Asset
    def joined(slow: float, after_fast: float) -> float:
        return slow - after_fast

    result = make_repo(slow, fast, after_fast, joined).materialize(executor=PARALLEL)
    assert result.success
    assert result.output_for("joined") > 0.5  # after_fast ended well before slow did


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("os._exit(3)", "exited with status 3"),
        ("os.kill(os.getpid(), signal.SIGSEGV)", "SIGSEGV"),
        ("os.kill(os.getpid(), signal.SIGKILL)", "SIGKILL"),
    ],
)
def test_a_dying_worker_fails_only_its_step(make_repo, body, expected):
    """A worker that dies fails its step with a clear reason; other steps still succeed."""
    code = f"def doomed():\n    import os, signal\n    {body}\n"
    namespace: dict[str, object] = {}
    exec(code, namespace)  # noqa: S102 - builds the crashing function under test
    doomed = rs.Asset(name="doomed")(namespace["doomed"])

    @rs.Asset
    def healthy() -> int:
        return 1

    @rs.Asset
    def after_doomed(doomed: int) -> int:
        return doomed

    @rs.Asset
    def after_healthy(healthy: int) -> int:
        return healthy + 1

    repo = make_repo(doomed, healthy, after_doomed, after_healthy)
    result = repo.materialize(executor=PARALLEL)
    assert not result.success
    (failure,) = result.failures
    assert failure.step_key == "doomed"
    assert failure.error is not None and failure.error.error_type == "WorkerCrashed"
    assert expected in failure.message
    assert result.skipped == ["after_doomed"]
    assert result.output_for("after_healthy") == 2
    failed = {e.asset_key for e in result.events if e.kind is rs.EventKind.ASSET_FAILED}
    assert failed == {"doomed"}


def test_a_crash_is_retried_by_the_retry_policy(make_repo, tmp_path):
    """A step whose worker died is retried in a fresh worker when its policy allows."""
    marker = tmp_path / "crashed-once"

    @rs.Asset(retry_policy=rs.RetryPolicy(max_retries=1))
    def flaky() -> str:
        if not marker.exists():
            marker.write_text("x")
            os._exit(9)
        return "second time lucky"

    result = make_repo(flaky).materialize(executor=PARALLEL)
    assert result.success
    assert result.output_for("flaky") == "second time lucky"
    retries = [e for e in result.events if e.kind is rs.EventKind.STEP_UP_FOR_RETRY]
    assert len(retries) == 1 and "status 9" in retries[0].message


def test_user_retries_and_failures_work_in_workers(make_repo, tmp_path):
    """Retry policies and user tracebacks behave the same in a worker as in process."""
    counter = tmp_path / "attempts"

    @rs.Asset(retry_policy=rs.RetryPolicy(max_retries=2))
    def flaky() -> int:
        attempts = int(counter.read_text()) if counter.exists() else 0
        counter.write_text(str(attempts + 1))
        if attempts < 2:
            raise ConnectionError("again")
        return attempts

    @rs.Asset
    def broken() -> int:
        raise ValueError("bad input in worker")

    result = make_repo(flaky, broken).materialize(executor=PARALLEL)
    assert result.output_for("flaky") == 2
    (failure,) = result.failures
    assert failure.error is not None
    assert "bad input in worker" in failure.error.traceback
    assert "test_parallel_executor.py" in failure.error.traceback


def test_executor_override_runs_a_step_in_process(make_repo):
    """metadata={'rivers/executor': 'in_process'} keeps one step in the run process."""

    @rs.Asset(metadata={"rivers/executor": "in_process"})
    def here() -> int:
        return os.getpid()

    @rs.Asset
    def elsewhere() -> int:
        return os.getpid()

    result = make_repo(here, elsewhere).materialize(executor=PARALLEL)
    assert result.output_for("here") == os.getpid()
    assert result.output_for("elsewhere") != os.getpid()


def test_parallel_override_under_the_in_process_executor(make_repo):
    """metadata={'rivers/executor': 'parallel'} sends one step to a worker process."""

    @rs.Asset(metadata={"rivers/executor": "parallel"})
    def isolated() -> int:
        return os.getpid()

    result = make_repo(isolated).materialize()
    assert result.output_for("isolated") != os.getpid()


def test_unpicklable_definitions_are_a_clear_error(make_repo):
    """Assets that cannot travel to a worker are refused before the run starts."""
    import threading

    lock = threading.Lock()

    @rs.Asset
    def holds_lock() -> bool:
        return lock.locked()

    repo = make_repo(holds_lock)
    with pytest.raises(rs.RiversError, match="cannot be sent to worker processes"):
        repo.materialize(executor=PARALLEL)
    assert repo.materialize().success  # in process it is fine
