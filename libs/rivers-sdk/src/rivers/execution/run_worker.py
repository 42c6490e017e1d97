"""A run worker: one process executing one stored run (or backfill) of a code location.

``python -m rivers.execution.run_worker --module M --run-id R --storage URL`` (or
``--backfill-id B`` to execute a stored backfill, run after run).

Code servers start one per run, so user code of different runs never shares a process with
the server itself. The worker loads the code location, connects to the shared store and
executes the stored run (events go straight to storage). It watches its stdin, a pipe from the
code server: when the server dies the pipe closes and the worker stops the run's steps and
exits, instead of running on unsupervised; the run is then failed by the monitors (its
heartbeat stops).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence

from rivers.cli.loader import LoadError, load_repository
from rivers.errors import RiversError
from rivers.execution.backfill import execute_stored_backfill
from rivers.execution.run import execute_stored_run
from rivers.storage import Storage
from rivers.telemetry import configure_logging, get_logger

__all__ = ["main"]

log = get_logger("rivers.run_worker")


def _watch_parent() -> None:
    # stdin is a pipe from the code server; read() returns only when the server closes it
    # or dies. Then stop: SIGTERM ourselves so running steps get their usual cancellation.
    try:
        sys.stdin.buffer.read()
    finally:
        os.kill(os.getpid(), signal.SIGTERM)


def main(argv: Sequence[str] | None = None) -> int:
    """Execute one stored run; exit 0 on success, 1 on failure, 2 when it could not start."""
    parser = argparse.ArgumentParser(prog="python -m rivers.execution.run_worker")
    parser.add_argument("--module", required=True)
    parser.add_argument("--attribute")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--run-id", help="execute this stored run")
    target.add_argument("--backfill-id", help="execute this stored backfill, run after run")
    parser.add_argument("--storage", required=True, help="ws:// URL of the store")
    parser.add_argument("--watch-stdin", action="store_true")
    args = parser.parse_args(argv)
    configure_logging(os.environ.get("RIVERS_LOG_LEVEL", "WARNING"), style="json")
    user = os.environ.get("RIVERS_STORAGE_USER", "root")
    password = os.environ.get("RIVERS_STORAGE_PASSWORD", "root")
    if args.watch_stdin:
        threading.Thread(target=_watch_parent, name="rivers-parent-watch", daemon=True).start()
    storage = Storage.connect(args.storage, username=user, password=password)
    try:
        repo = load_repository(args.module, args.attribute)
        repo.use_default_storage(storage)
        if args.backfill_id:
            status = execute_stored_backfill(repo, args.backfill_id)
            return 0 if status.failed == 0 else 1
        result = execute_stored_run(repo, args.run_id)
    except LoadError as exc:
        # The run cannot start: record why on it, so nobody waits for it forever.
        if args.run_id:
            _fail(storage, args.run_id, f"the code location failed to load: {exc}")
        return 2
    except (RiversError, KeyError) as exc:
        log.error(
            "run_worker.failed", run_id=args.run_id, backfill_id=args.backfill_id, error=str(exc)
        )
        return 2
    finally:
        storage.close()
    return 0 if result.success else 1


def _fail(storage: Storage, run_id: str, reason: str) -> None:
    import time

    from rivers.storage import RunStatus

    try:
        storage.update_run(
            run_id, status=RunStatus.FAILURE, end_time=time.time(), failure_reason=reason
        )
    except RiversError as exc:
        log.error("run_worker.record_failed", run_id=run_id, error=str(exc))


if __name__ == "__main__":
    raise SystemExit(main())
