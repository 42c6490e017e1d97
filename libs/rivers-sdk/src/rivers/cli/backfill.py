"""``rivers backfill``: backfill partitions of a code location's assets, with progress."""

from __future__ import annotations

import argparse
import time

from rivers.cli.console import Console
from rivers.cli.loader import load_repository
from rivers.cli.materialize import load_config, parse_storage, parse_tags, split_items
from rivers.errors import RiversError
from rivers.execution.backfill import BackfillStatus

__all__ = ["register"]

_SHOWN_FAILURES = 20
_PROGRESS_EVERY = 0.5  # seconds between progress lines, so 10,000 runs stay readable


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``backfill`` command."""
    parser = subparsers.add_parser(
        "backfill",
        help="backfill partitions of assets now, in this process (stored, resumable)",
        description="Backfill a range (or list) of partitions of assets sharing one partitions "
        "definition. The backfill and its runs are stored; progress prints as runs finish. "
        "Exit status: 0 every partition succeeded, 1 some failed, 2 bad input.",
    )
    parser.add_argument("-m", "--module", required=True, help="module of the code location")
    parser.add_argument(
        "--assets",
        action="append",
        metavar="SELECTION",
        help="assets to backfill (selection forms as in materialize; repeatable or "
        "comma-separated; default: every partitioned asset)",
    )
    parser.add_argument("--from", dest="start", metavar="KEY", help="first partition key")
    parser.add_argument("--to", dest="end", metavar="KEY", help="last partition key (inclusive)")
    parser.add_argument(
        "--partition", action="append", metavar="KEY", help="one partition key (repeatable)"
    )
    parser.add_argument("--all", action="store_true", help="backfill every partition")
    parser.add_argument(
        "--strategy",
        choices=["multi_run", "single_run", "per_dimension"],
        help="one run per partition, one run for all, or per dimension (default: the assets')",
    )
    parser.add_argument("--multi-run-dims", help="per_dimension: dimensions iterated across runs")
    parser.add_argument("--single-run-dims", help="per_dimension: dimensions batched in a run")
    parser.add_argument(
        "--rerun-failed", metavar="BACKFILL_ID", help="backfill only that backfill's failures"
    )
    parser.add_argument("--status", metavar="BACKFILL_ID", help="show a stored backfill and exit")
    parser.add_argument("--config", help="run config file (YAML, JSON or TOML)")
    parser.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument(
        "--storage", default=".rivers/storage", help="directory, ws://host:port or 'memory'"
    )
    parser.set_defaults(func=run)


def _partitions(args: argparse.Namespace) -> object:
    from rivers.partitions import PartitionKeyRange

    chosen = [bool(args.start or args.end), bool(args.partition), bool(args.all)]
    if sum(chosen) != 1:
        raise RiversError(
            "choose the partitions: --from KEY --to KEY, --partition KEY ..., or --all"
        )
    if args.all:
        return None
    if args.partition:
        return split_items(args.partition)
    if not (args.start and args.end):
        raise RiversError("--from and --to go together")
    return PartitionKeyRange.single(args.start, args.end)


def _strategy(args: argparse.Namespace) -> object:
    from rivers.partitions import BackfillStrategy

    if args.strategy is None:
        return None
    if args.strategy == "multi_run":
        return BackfillStrategy.multi_run()
    if args.strategy == "single_run":
        return BackfillStrategy.single_run()
    return BackfillStrategy.per_dimension(
        multi_run=split_items([args.multi_run_dims or ""]),
        single_run=split_items([args.single_run_dims or ""]),
    )


class _Progress:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.started = time.perf_counter()
        self.last = 0.0

    def __call__(self, status: BackfillStatus) -> None:
        now = time.perf_counter()
        finished = status.runs_done == status.runs_total
        if status.runs_done and not finished and now - self.last < _PROGRESS_EVERY:
            return
        self.last = now
        elapsed = now - self.started
        if status.runs_done == 0:
            self.console.line(
                f"backfill {status.backfill_id}: {status.requested} partition(s) in "
                f"{status.runs_total} run(s)"
            )
            return
        rate = status.runs_done / elapsed if elapsed else 0.0
        left = status.runs_total - status.runs_done
        eta = f", ETA {left / rate:.0f} s" if rate and left else ""
        self.console.line(
            f"  [{status.runs_done}/{status.runs_total} runs] {status.succeeded} succeeded, "
            f"{status.failed} failed, {status.in_progress} to go ({rate:.1f} runs/s{eta})"
        )


def _summary(console: Console, status: BackfillStatus) -> None:
    console.line()
    console.line(
        f"backfill {status.backfill_id} {status.status}: {status.succeeded} of "
        f"{status.requested} partition(s) succeeded, {status.failed} failed "
        f"({status.runs_done} run(s))"
    )
    failures = sorted(status.failed_partitions.items())
    for key, reason in failures[:_SHOWN_FAILURES]:
        console.line(f"  {console.mark('fail')} {key}: {reason}")
    if len(failures) > _SHOWN_FAILURES:
        console.line(f"  ... and {len(failures) - _SHOWN_FAILURES} more")
    if failures:
        console.line(
            f"re-run the failures: rivers backfill -m ... --rerun-failed {status.backfill_id}"
        )


def run(args: argparse.Namespace) -> int:
    """Execute ``rivers backfill``."""
    console = Console()
    module, _, attribute = args.module.partition(":")
    repo = load_repository(module, attribute or None)
    repo.use_default_storage(parse_storage(args.storage))
    if args.status:
        try:
            status = repo.get_backfill(args.status)
        except KeyError as exc:
            raise RiversError(str(exc.args[0])) from None
        _summary(console, status)
        return 0 if status.failed == 0 else 1
    config = load_config(args.config)
    progress = _Progress(console)
    if args.rerun_failed:
        try:
            status = repo.rerun_backfill_failures(
                args.rerun_failed, config=config, on_progress=progress
            )
        except KeyError as exc:
            raise RiversError(str(exc.args[0])) from None
    else:
        status = repo.backfill(
            split_items(args.assets) if args.assets else None,
            _partitions(args),
            _strategy(args),  # type: ignore[arg-type]
            config=config,
            tags=parse_tags(args.tag),
            on_progress=progress,
        )
    _summary(console, status)
    return 0 if status.failed == 0 else 1
