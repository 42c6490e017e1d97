"""The ``rivers`` command line: ``rivers --help`` lists every command."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from rivers import __version__
from rivers.cli import backfill, dev, logs, materialize, pools, queue, storage
from rivers.errors import RiversError
from rivers.telemetry import configure_logging

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every command registered."""
    parser = argparse.ArgumentParser(
        prog="rivers",
        description="rivers: an asset-graph data orchestrator.",
    )
    parser.add_argument("--version", action="version", version=f"rivers {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more logging (-v info, -vv debug)"
    )
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    materialize.register(subparsers)
    backfill.register(subparsers)
    pools.register(subparsers)
    queue.register(subparsers)
    dev.register(subparsers)
    storage.register(subparsers)
    logs.register(subparsers)
    for register in _plugin_commands():
        register(subparsers)
    return parser


def _plugin_commands() -> list[Any]:
    """``register`` functions of the installed services (entry points ``rivers.commands``).

    The services (planner, code server, gateway) add their commands this way, so the SDK never
    imports a service package.
    """
    from importlib.metadata import entry_points

    commands = []
    for entry in sorted(entry_points(group="rivers.commands"), key=lambda e: e.name):
        try:
            commands.append(entry.load())
        except Exception as exc:  # a broken service install must not break every command
            sys.stderr.write(f"rivers: cannot load command {entry.name!r}: {exc}\n")
    return commands


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    configure_logging(level)
    try:
        code: int = func(args)
    except RiversError as exc:
        sys.stderr.write(f"rivers: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("rivers: interrupted\n")
        return 130
    return code
