"""``rivers queue``: show and change the global run queue limits every daemon honours.

The limits (``RunQueueConfig`` in storage) bound the in-progress runs of all code locations
together: ``max_concurrent_runs``, and tag concurrency limits as in Dagster: a tag key (every
run carrying the tag), a ``key:value`` pair, or each distinct value of a key on its own.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from rivers.cli.console import Console, format_table
from rivers.cli.materialize import parse_storage
from rivers.errors import RiversError
from rivers.storage import Storage
from rivers.storage.records import RunQueueConfig, TagConcurrencyLimit

__all__ = ["main", "register"]

_STORAGE_HELP = (
    "the store: a directory (embedded store), ws://host:port, or 'memory' "
    "(default: .rivers/storage)"
)
_UNLIMITED = ("none", "unlimited")  # --max-concurrent-runs values removing the limit


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``queue`` command and its ``show`` and ``set`` subcommands."""
    queue = subparsers.add_parser(
        "queue",
        help="run queue limits: max concurrent runs, tag concurrency limits",
        description="Show or change the run queue limits shared by every code location's "
        "daemon. Exit status: 0 ok, 2 bad input.",
    )
    queue.set_defaults(func=lambda _args: _usage(queue))
    commands = queue.add_subparsers(title="commands", metavar="COMMAND")
    show = commands.add_parser(
        "show", help="print the limits", description="Print the run queue limits."
    )
    show.add_argument("--storage", default=".rivers/storage", help=_STORAGE_HELP)
    show.set_defaults(func=show_config)
    set_ = commands.add_parser(
        "set",
        help="change the limits",
        description="Change the run queue limits. Limits given are merged into the stored "
        "ones (a new limit for the same tag, value or per-value key replaces the old one); "
        "--clear drops every limit first, so `rivers queue set --clear` alone removes them all.",
    )
    set_.add_argument("--storage", default=".rivers/storage", help=_STORAGE_HELP)
    set_.add_argument(
        "--max-concurrent-runs",
        type=_max_runs,
        metavar="N",
        help="runs in progress at once across all locations (0 pauses the queue; "
        "'unlimited' removes the limit)",
    )
    set_.add_argument(
        "--tag-limit",
        action="append",
        type=_tag_limit,
        default=[],
        metavar="KEY[:VALUE]=LIMIT",
        help="at most LIMIT runs in progress carrying tag KEY (any value), or KEY with VALUE "
        "(split at the first ':'); repeatable",
    )
    set_.add_argument(
        "--tag-limit-per-value",
        action="append",
        type=_per_value_limit,
        default=[],
        metavar="KEY=LIMIT",
        help="at most LIMIT runs in progress for each distinct value of tag KEY; repeatable",
    )
    set_.add_argument("--clear", action="store_true", help="drop every stored limit first")
    set_.set_defaults(func=set_config)


def show_config(args: argparse.Namespace) -> int:
    """``rivers queue show``: the stored limits."""
    with parse_storage(args.storage) as storage:
        config = storage.get_run_queue_config()
    _print(Console(), config)
    return 0


def set_config(args: argparse.Namespace) -> int:
    """``rivers queue set ...``: merge (or, with ``--clear``, replace) the stored limits.

    Raises:
        RiversError: nothing to change was given.
    """
    limits: list[TagConcurrencyLimit] = [*args.tag_limit, *args.tag_limit_per_value]
    if not (args.clear or limits or args.max_concurrent_runs is not None):
        raise RiversError(
            "nothing to set: pass --max-concurrent-runs, --tag-limit, --tag-limit-per-value "
            "or --clear"
        )
    with parse_storage(args.storage) as storage:
        config = _merged(storage, args.clear, args.max_concurrent_runs, limits)
        storage.set_run_queue_config(config)
        config = storage.get_run_queue_config()
    _print(Console(), config)
    return 0


def _merged(
    storage: Storage,
    clear: bool,
    max_runs: int | str | None,
    limits: Sequence[TagConcurrencyLimit],
) -> RunQueueConfig:
    current = RunQueueConfig() if clear else storage.get_run_queue_config()
    by_target = {_target(t): t for t in current.tag_concurrency_limits}
    for limit in limits:  # a later limit for the same target wins, as the last flag does
        by_target[_target(limit)] = limit
    maximum = current.max_concurrent_runs
    if max_runs is not None:
        maximum = None if max_runs == "unlimited" else int(max_runs)
    return RunQueueConfig(
        max_concurrent_runs=maximum, tag_concurrency_limits=tuple(by_target.values())
    )


def _target(limit: TagConcurrencyLimit) -> tuple[str, str | None, bool]:
    return limit.key, limit.value, limit.per_value


def _print(console: Console, config: RunQueueConfig) -> None:
    maximum = config.max_concurrent_runs
    shown = "unlimited" if maximum is None else str(maximum)
    paused = " (the queue is paused)" if maximum == 0 else ""
    console.line(f"max concurrent runs: {shown}{paused}")
    if not config.tag_concurrency_limits:
        console.line("tag limits: none")
        return
    rows = [
        [
            t.key,
            "(each value)" if t.per_value else "(any)" if t.value is None else t.value,
            str(t.limit),
        ]
        for t in config.tag_concurrency_limits
    ]
    console.line("tag limits:")
    console.line(format_table(["tag", "value", "limit"], rows))


# --- argument types ----------------------------------------------------------------------------


def _count(text: str, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid {what}: an integer >= 0") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"invalid {what}: an integer >= 0")
    return value


def _max_runs(text: str) -> int | str:
    """A count, or ``"unlimited"`` to remove the limit."""
    if text.strip().lower() in _UNLIMITED:
        return "unlimited"
    return _count(text, f"--max-concurrent-runs {text!r}")


def _split(text: str, form: str) -> tuple[str, int]:
    target, sep, raw = text.rpartition("=")
    if not sep or not target:
        raise argparse.ArgumentTypeError(f"invalid tag limit {text!r}: expected {form}")
    return target, _count(raw, f"limit in {text!r}")


def _tag_limit(text: str) -> TagConcurrencyLimit:
    target, limit = _split(text, "KEY=LIMIT or KEY:VALUE=LIMIT")
    key, sep, value = target.partition(":")
    key = key.strip()
    if not key:
        raise argparse.ArgumentTypeError(f"invalid tag limit {text!r}: the tag key is empty")
    return TagConcurrencyLimit(key=key, value=value if sep else None, limit=limit)


def _per_value_limit(text: str) -> TagConcurrencyLimit:
    key, limit = _split(text, "KEY=LIMIT")
    key = key.strip()
    if ":" in key:
        raise argparse.ArgumentTypeError(
            f"invalid per-value limit {text!r}: it applies to each value of a key, so give "
            "KEY=LIMIT without a value (or use --tag-limit KEY:VALUE=LIMIT)"
        )
    if not key:
        raise argparse.ArgumentTypeError(f"invalid per-value limit {text!r}: the tag key is empty")
    return TagConcurrencyLimit(key=key, limit=limit, per_value=True)


def main(argv: Sequence[str] | None = None) -> int:
    """``rivers queue ...`` on its own (``python -m rivers.cli.queue show ...``)."""
    from rivers.telemetry import configure_logging

    parser = argparse.ArgumentParser(prog="rivers")
    register(parser.add_subparsers(title="commands", metavar="COMMAND"))
    args = parser.parse_args(["queue", *(sys.argv[1:] if argv is None else argv)])
    configure_logging(logging.WARNING)
    try:
        code: int = args.func(args)
    except RiversError as exc:
        sys.stderr.write(f"rivers: error: {exc}\n")
        return 2
    return code


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_usage(sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
