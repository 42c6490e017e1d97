"""``rivers logs RUN_ID``: a run's log lines and captured output, from its event log."""

from __future__ import annotations

import argparse

from rivers.cli.console import Console
from rivers.cli.materialize import parse_storage
from rivers.execution.capture import STREAMS
from rivers.execution.runlogs import format_log_line, read_run_logs

__all__ = ["register", "show_logs"]

_STORAGE_HELP = (
    "the store: a directory (embedded store), ws://host:port, or 'memory' "
    "(default: .rivers/storage)"
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``logs`` command."""
    parser = subparsers.add_parser(
        "logs",
        help="print a run's log lines and captured stdout/stderr",
        description="Print the log lines of a run (context.log, rivers loggers, BashTask "
        "output) and the stdout/stderr its steps wrote, in order: time, level, step, "
        "message. Exit status: 0 ok, 1 no such run, 2 bad input.",
    )
    parser.add_argument("run_id", help="the run")
    parser.add_argument("--step", default=None, help="only this step (a map step: all its items)")
    parser.add_argument("--stream", choices=STREAMS, default=None, help="only this stream")
    parser.add_argument("--storage", default=".rivers/storage", help=_STORAGE_HELP)
    parser.set_defaults(func=show_logs)


def show_logs(args: argparse.Namespace) -> int:
    """``rivers logs``: print the lines; 1 when the run does not exist."""
    console = Console()
    with parse_storage(args.storage) as storage:
        if storage.get_run(args.run_id) is None:
            console.line(f"no run {args.run_id!r} in {args.storage}")
            return 1
        lines = read_run_logs(storage, args.run_id, step=args.step, stream=args.stream)
    for line in lines:
        console.line(format_log_line(line))
    if not lines:
        console.line("(no log lines)")
    return 0
