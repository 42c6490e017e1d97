"""``rivers storage serve``: own an embedded store and serve it to other processes."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rivers.cli.console import Console
from rivers.errors import StorageError

__all__ = ["main", "register", "serve"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``storage`` command and its ``serve`` subcommand."""
    storage = subparsers.add_parser(
        "storage",
        help="storage commands (serve an embedded store)",
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
