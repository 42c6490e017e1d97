"""``rivers storage serve|prune|stats``: serve an embedded store, prune old history, sizes.

``prune`` deletes the run events (captured logs included), runs and ticks older than a
duration, keeping unfinished runs, the newest ``--keep-last`` runs and every asset's latest
materialization (see :mod:`rivers.storage._retention`); ``stats`` counts rows per table.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rivers.cli.console import Console, format_table
from rivers.errors import StorageError

__all__ = ["main", "parse_duration", "prune", "register", "serve", "stats"]

_STORAGE_HELP = (
    "the store: a directory (embedded), ws://HOST:PORT (a served store or SurrealDB server) "
    "(default: .rivers/storage)"
)
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(text: str) -> float:
    """Seconds in ``30d``, ``12h``, ``90m``, ``45s``, ``2w`` or plain seconds (``3600``).

    Raises:
        argparse.ArgumentTypeError: not a positive duration.
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", text.lower())
    if match is None or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(
            f"invalid duration {text!r} (e.g. 30d, 12h, 90m, or plain seconds)"
        )
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``storage`` command and its ``serve`` subcommand."""
    storage = subparsers.add_parser(
        "storage",
        help="storage commands (serve an embedded store, prune old history, table sizes)",
        description="Manage rivers storage.",
    )
    storage.set_defaults(func=lambda _args: _usage(storage))
    commands = storage.add_subparsers(title="commands", metavar="COMMAND")
    parser = commands.add_parser(
        "serve",
        help="own an embedded store and serve it over SurrealDB's WebSocket protocol",
        description="Open the embedded store at --path (this process becomes its only owner) "
        "and serve it over SurrealDB's WebSocket RPC protocol, so other processes connect "
        "with rs.Storage.connect('ws://HOST:PORT', username=..., password=...). Stops "
        "gracefully on Ctrl-C or SIGTERM. Exit status: 0 stopped, 2 could not start.",
    )
    parser.add_argument(
        "--path",
        type=Path,
        default=None,
        help="store directory (default: .rivers/storage; env RIVERS_STORAGE_PATH)",
    )
    parser.add_argument(
        "--host", default=None, help="interface to bind (default: 127.0.0.1; RIVERS_STORAGE_HOST)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help="TCP port, 0 for any free one (default: 8000; env RIVERS_STORAGE_PORT)",
    )
    parser.add_argument(
        "--user",
        default=None,
        help="root user clients sign in as (default: root; env RIVERS_STORAGE_USER)",
    )
    parser.add_argument(
        "--password",
        default=None,
        help="its password (default: root; prefer env RIVERS_STORAGE_PASSWORD, which other "
        "users cannot see in the process list)",
    )
    parser.set_defaults(func=serve)
    _register_prune(commands)
    _register_stats(commands)


def _register_prune(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "prune",
        help="delete old run events, runs and ticks (keeps latest materializations)",
        description="Delete finished runs older than --older-than with their events and "
        "captured logs, and older ticks, in small transactions so running work is not "
        "blocked. Kept: unfinished runs, the --keep-last newest runs, asset records, and "
        "each asset partition's latest materialization event with its run record. "
        "Exit status: 0 done, 2 bad arguments or storage unreachable.",
    )
    parser.add_argument(
        "--older-than",
        type=parse_duration,
        required=True,
        metavar="DURATION",
        help="age of what is deleted: 30d, 12h, 90m, or plain seconds",
    )
    parser.add_argument(
        "--keep-last",
        type=int,
        default=0,
        metavar="N",
        help="always keep the N most recent runs, whatever their age (default 0)",
    )
    parser.add_argument(
        "--location", default=None, help="prune only this code location's runs and ticks"
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=1000,
        help="rows per transaction (default 1000: ~0.3 s each on an embedded store)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="count what would be deleted, delete nothing"
    )
    parser.add_argument("--storage", default=".rivers/storage", help=_STORAGE_HELP)
    parser.set_defaults(func=prune)


def _register_stats(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "stats",
        help="rows per table (and bytes on disk of an embedded store)",
        description="Count the rows of every table of the store.",
    )
    parser.add_argument("--storage", default=".rivers/storage", help=_STORAGE_HELP)
    parser.set_defaults(func=stats)


def _open(value: str) -> Any:
    from rivers.cli.materialize import parse_storage

    return parse_storage(value)


def _location_id(storage: Any, name: str) -> str | None:
    for record in storage.list_locations():
        if name in (record.name, record.identity):
            return str(record.identity)
    return None


def prune(args: argparse.Namespace) -> int:
    """``rivers storage prune``: delete (or count) old history, printing progress."""
    if args.keep_last < 0 or args.batch_size < 1:
        sys.stderr.write("rivers: error: --keep-last must be >= 0 and --batch-size >= 1\n")
        return 2
    console = Console()
    cutoff = time.time() - args.older_than
    try:
        with _open(args.storage) as storage:
            location_id = None
            if args.location is not None:
                location_id = _location_id(storage, args.location)
                if location_id is None:
                    sys.stderr.write(f"rivers: error: no code location {args.location!r}\n")
                    return 2
            verb = "would delete" if args.dry_run else "deleting"
            console.line(
                f"rivers storage: {verb} finished runs, events and ticks before "
                f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(cutoff))}"
                + (f" (keeping the last {args.keep_last} runs)" if args.keep_last else "")
            )
            result = storage.prune(
                cutoff,
                keep_last=args.keep_last,
                location_id=location_id,
                dry_run=args.dry_run,
                batch_size=args.batch_size,
                on_progress=lambda table, rows: console.line(f"  {table}: {rows} deleted"),
            )
    except StorageError as exc:
        sys.stderr.write(f"rivers: error: {exc}\n")
        return 2
    rows = [
        ["run_event", str(result.run_events)],
        ["run", str(result.runs)],
        ["tick", str(result.ticks)],
    ]
    header = "would delete" if args.dry_run else "deleted"
    console.line(format_table(["table", header], rows))
    console.line(
        f"kept {result.runs_kept} old run(s) holding an asset's latest materialization; "
        f"{result.seconds:.2f}s"
    )
    return 0


def stats(args: argparse.Namespace) -> int:
    """``rivers storage stats``: rows per table, and bytes on disk of an embedded store."""
    console = Console()
    try:
        with _open(args.storage) as storage:
            tables = storage.table_stats()
            path = storage.path
    except StorageError as exc:
        sys.stderr.write(f"rivers: error: {exc}\n")
        return 2
    console.line(format_table(["table", "rows"], [[t.table, str(t.rows)] for t in tables]))
    console.line(f"total: {sum(t.rows for t in tables)} rows")
    if path is not None:
        size = sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())
        console.line(f"on disk: {size} bytes in {path} (SurrealDB keeps no per-table sizes)")
    return 0


def serve(args: argparse.Namespace) -> int:
    """Run ``rivers storage serve`` until interrupted; returns the exit status."""
    from pydantic import ValidationError

    # Imported here so `rivers --help` does not load aiohttp and the storage engine.
    from rivers.storage.host import StorageHost, StorageHostSettings, serve_forever

    given: dict[str, Any] = {
        "path": args.path,
        "host": args.host,
        "port": args.port,
        "user": args.user,
        "password": args.password,
    }
    try:
        settings = StorageHostSettings(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        sys.stderr.write(f"rivers: error: invalid storage settings: {problems}\n")
        return 2
    console = Console()

    def ready(host: StorageHost) -> None:
        console.line(
            f"rivers storage: serving {host.path} at {host.url} "
            f"(user {settings.user!r}; Ctrl-C to stop)"
        )

    try:
        serve_forever(settings, on_ready=ready)
    except StorageError as exc:
        sys.stderr.write(f"rivers: error: {exc}\n")
        return 2
    console.line("rivers storage: stopped")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``rivers storage ...`` on its own (``python -m rivers.cli.storage serve ...``)."""
    from rivers.telemetry import configure_logging

    parser = argparse.ArgumentParser(prog="rivers")
    register(parser.add_subparsers(title="commands", metavar="COMMAND"))
    args = parser.parse_args(["storage", *(sys.argv[1:] if argv is None else argv)])
    configure_logging(logging.WARNING)
    code: int = args.func(args)
    return code


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_usage(sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
