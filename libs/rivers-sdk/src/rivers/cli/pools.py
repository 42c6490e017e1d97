"""``rivers pools``: list concurrency pools, inspect one, and set or clear its limit."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable, Sequence

from rivers.cli.console import Console, format_table
from rivers.cli.materialize import parse_storage
from rivers.errors import RiversError
from rivers.storage import PoolInfo

__all__ = ["main", "register"]

_STORAGE_HELP = (
    "the store: a directory (embedded store), ws://host:port, or 'memory' "
    "(default: .rivers/storage)"
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``pools`` command and its ``list``, ``info``, ``set`` and ``clear`` subcommands."""
    pools = subparsers.add_parser(
        "pools",
        help="concurrency pools: list, inspect, set limits",
        description="Inspect concurrency pools and change their limits at run time. A limit "
        "set here wins over the repository's pool_limits until cleared. Exit status: 0 ok, "
        "2 bad input.",
    )
    pools.set_defaults(func=lambda _args: _usage(pools))
    commands = pools.add_subparsers(title="commands", metavar="COMMAND")

    def command(
        name: str, help_: str, func: Callable[[argparse.Namespace], int]
    ) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, help=help_, description=help_[0].upper() + help_[1:])
        parser.add_argument("--storage", default=".rivers/storage", help=_STORAGE_HELP)
        parser.set_defaults(func=func)
        return parser

    command("list", "list every pool with its limit and usage", list_pools)
    info = command("info", "show one pool's limit and the steps holding its slots", pool_info)
    info.add_argument("name", help="the pool")
    set_ = command("set", "set a pool's limit (overrides the code default; 0 pauses)", set_limit)
    set_.add_argument("name", help="the pool")
    set_.add_argument("limit", type=_limit, help="slots (an integer >= 0)")
    clear = command("clear", "drop a pool's manual limit (back to the code default)", clear_limit)
    clear.add_argument("name", help="the pool")


def list_pools(args: argparse.Namespace) -> int:
    """``rivers pools list``: a table of every pool."""
    console = Console()
    with parse_storage(args.storage) as storage:
        infos = storage.get_all_pool_infos()
    if not infos:
        console.line("no pools yet (declare pool= on an asset, or: rivers pools set NAME LIMIT)")
        return 0
    rows = [
        [
            i.name,
            _fmt_limit(i),
            i.source,
            str(i.slots_in_use),
            str(i.holders),
            str(i.waiters),
        ]
        for i in infos
    ]
    console.line(format_table(["pool", "limit", "source", "in use", "holders", "waiting"], rows))
    return 0


def pool_info(args: argparse.Namespace) -> int:
    """``rivers pools info NAME``: the pool's limits and a table of its slot holders."""
    console = Console()
    with parse_storage(args.storage) as storage:
        info = storage.get_pool_info(args.name)
        holders = storage.get_pool_slot_holders(args.name)
    console.line(f"pool {info.name}")
    console.line(f"  limit:   {_fmt_limit(info)} ({info.source})")
    if info.manual_limit is not None and info.code_limit is not None:
        console.line(f"  code default: {info.code_limit} (overridden by the manual limit)")
    console.line(f"  in use:  {info.slots_in_use} slot(s), {info.holders} holder(s)")
    console.line(f"  waiting: {info.waiters} step(s)")
    if not holders:
        return 0
    now = time.time()
    rows = [
        [h.run_id, h.step_key, str(h.slots), h.owner, _fmt_expiry(h.lease_expires_at - now)]
        for h in holders
    ]
    console.line("")
    console.line(format_table(["run", "step", "slots", "owner", "lease expires in"], rows))
    return 0


def set_limit(args: argparse.Namespace) -> int:
    """``rivers pools set NAME LIMIT``: an operator's limit, winning over the code default."""
    with parse_storage(args.storage) as storage:
        storage.set_pool_limit(args.name, args.limit)
        info = storage.get_pool_info(args.name)
    note = f" (overrides the code default {info.code_limit})" if info.code_limit is not None else ""
    paused = "; the pool is paused" if args.limit == 0 else ""
    Console().line(f"pool {args.name}: limit set to {args.limit}{note}{paused}")
    return 0


def clear_limit(args: argparse.Namespace) -> int:
    """``rivers pools clear NAME``: drop the manual limit."""
    with parse_storage(args.storage) as storage:
        storage.clear_pool_limit(args.name)
        info = storage.get_pool_info(args.name)
    now = "unlimited" if info.limit is None else f"{info.limit} (code default)"
    Console().line(f"pool {args.name}: manual limit cleared; limit is now {now}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``rivers pools ...`` on its own (``python -m rivers.cli.pools list ...``)."""
    from rivers.telemetry import configure_logging

    parser = argparse.ArgumentParser(prog="rivers")
    register(parser.add_subparsers(title="commands", metavar="COMMAND"))
    args = parser.parse_args(["pools", *(sys.argv[1:] if argv is None else argv)])
    configure_logging(logging.WARNING)
    try:
        code: int = args.func(args)
    except RiversError as exc:
        sys.stderr.write(f"rivers: error: {exc}\n")
        return 2
    return code


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid limit {text!r}: an integer >= 0") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"invalid limit {text!r}: an integer >= 0")
    return value


def _fmt_limit(info: PoolInfo) -> str:
    return "unlimited" if info.limit is None else str(info.limit)


def _fmt_expiry(seconds: float) -> str:
    return f"{seconds:.1f}s" if seconds >= 0 else f"expired {-seconds:.1f}s ago"


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_usage(sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
