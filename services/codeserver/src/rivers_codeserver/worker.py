"""The run worker process: executes one stored run or backfill of the code location.

``python -m rivers_codeserver.worker --module M [--attribute A] --storage URL
(--run-id R | --backfill-id B | --spare)``

It does what ``python -m rivers.execution.run_worker`` does (the same SDK calls:
``execute_stored_run`` / ``execute_stored_backfill``; a module that fails to load fails the
run with the reason), with two differences that make launches fast:

- ``--spare`` starts it *ahead of time*: it imports rivers and the user's module, connects
  and signs in to the store, then waits for one JSON line on stdin naming its run or
  backfill. The code server keeps one such spare ready, so a launch costs a pipe write instead
  of an interpreter start, the imports and a sign-in (about 0.5 s on a small machine).
- it leaves with ``os._exit`` once its storage is closed, skipping an interpreter shutdown
  that can abort on the thread blocked reading stdin.

stdin is a pipe from the code server; when it closes (the server stopped or died) the worker
stops at once, as the SDK's run worker does. This module imports neither grpc nor the server.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

__all__ = ["main"]


def _watch_parent() -> None:
    # read() returns only when the code server closes the pipe or dies: then stop, as the
    # SDK's run worker does (the code server, or the stale-run monitor, records the outcome).
    try:
        sys.stdin.buffer.read()
    finally:
        os.kill(os.getpid(), signal.SIGTERM)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rivers_codeserver.worker")
    parser.add_argument("--module", required=True)
    parser.add_argument("--attribute")
    parser.add_argument("--storage", required=True, help="ws:// URL of the store")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--run-id", help="execute this stored run")
    target.add_argument("--backfill-id", help="execute this stored backfill, run after run")
    target.add_argument(
        "--spare", action="store_true", help="load everything, then read the target from stdin"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Execute one stored run or backfill; 0 success, 1 failure, 2 could not start."""
    args = _parser().parse_args(argv)
    # Ctrl-C in a terminal reaches the whole process group: the code server decides what
    # happens to its runs (they finish, or it cancels them), not the keyboard.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from rivers.telemetry import configure_logging, get_logger

    configure_logging(os.environ.get("RIVERS_LOG_LEVEL", "WARNING"), style="json")
    log = get_logger("rivers.codeserver.worker")

    from rivers import tracing
    from rivers.cli.loader import LoadError, load_repository
    from rivers.definitions.repository import CodeRepository
    from rivers.storage import Storage

    storage = Storage.connect(
        args.storage,
        username=os.environ.get("RIVERS_STORAGE_USER", "root"),
        password=os.environ.get("RIVERS_STORAGE_PASSWORD", "root"),
        namespace=os.environ.get("RIVERS_STORAGE_NAMESPACE", "rivers"),
        database=os.environ.get("RIVERS_STORAGE_DATABASE", "rivers"),
    )
    repo: CodeRepository | LoadError
    try:
        repo = load_repository(args.module, args.attribute)
    except LoadError as exc:
        repo = exc  # reported on the run once we know which one
    try:
        if args.spare:
            try:
                _warm_up(storage)
            except Exception as exc:  # the run itself connects again and reports a failure
                log.warning("worker.warm_up_failed", error=str(exc))
            line = sys.stdin.buffer.readline()
            if not line:
                return 0  # the code server retired this spare
            target: dict[str, Any] = json.loads(line)
        else:
            target = {"run_id": args.run_id, "backfill_id": args.backfill_id}
            target["trace"] = tracing.from_environment()
        threading.Thread(target=_watch_parent, name="rivers-parent-watch", daemon=True).start()
        tracing.setup("run-worker")
        with tracing.attached(target.get("trace")):
            return _execute(storage, repo, target, log)
    finally:
        tracing.shutdown()
        storage.close()


def _warm_up(storage: Any) -> None:
    # What every run needs first, done before it is known: sign in (the slowest part), and
    # import the execution and planning modules the worker would otherwise load lazily.
    import rivers.execution.backfill
    import rivers.execution.run
    import rivers.planning.plan  # noqa: F401

    storage.open()


def _execute(storage: Any, repo: Any, target: dict[str, Any], log: Any) -> int:
    from rivers.cli.loader import LoadError
    from rivers.errors import RiversError
    from rivers.execution.backfill import execute_stored_backfill
    from rivers.execution.run import execute_stored_run

    run_id: str | None = target.get("run_id")
    backfill_id: str | None = target.get("backfill_id")
    if isinstance(repo, LoadError):
        if run_id:
            _fail_run(storage, run_id, f"the code location failed to load: {repo}", log)
        log.error("worker.load_failed", run_id=run_id, backfill_id=backfill_id, error=str(repo))
        return 2
    repo.use_default_storage(storage)
    try:
        if backfill_id:
            status = execute_stored_backfill(repo, backfill_id)
            return 0 if status.failed == 0 else 1
        assert run_id is not None
        result = execute_stored_run(repo, run_id)
    except (RiversError, KeyError) as exc:
        log.error("worker.failed", run_id=run_id, backfill_id=backfill_id, error=str(exc))
        return 2
    return 0 if result.success else 1


def _fail_run(storage: Any, run_id: str, reason: str, log: Any) -> None:
    from rivers.errors import RiversError
    from rivers.storage import RunStatus

    try:
        storage.update_run(
            run_id, status=RunStatus.FAILURE, end_time=time.time(), failure_reason=reason
        )
    except RiversError as exc:
        log.error("worker.record_failed", run_id=run_id, error=str(exc))


def _exit(code: int) -> None:
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing to flush to
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    _exit(main())
