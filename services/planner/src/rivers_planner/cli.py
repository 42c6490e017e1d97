"""``rivers planner``: serve the planner (a ``rivers.commands`` entry point)."""

from __future__ import annotations

import argparse
import asyncio

from rivers_planner.settings import DEFAULT_GRPC_PORT, load_settings

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``planner`` command."""
    parser = subparsers.add_parser(
        "planner",
        help="serve the planner: plans runs and backfills from definitions snapshots (gRPC)",
        description="Serve rivers.v1.planner.Planner over gRPC: plans runs and backfills from "
        "the definitions snapshots code servers store, without loading user code. Reports gRPC "
        "health, supports reflection, and serves /metrics, /healthz and /readyz on "
        "--http-port. Each flag overrides its RIVERS_* environment variable. SIGTERM or "
        "Ctrl-C stops it gracefully. Exit status: 0 stopped, 2 could not start.",
    )
    parser.add_argument(
        "--storage",
        metavar="URL",
        default=None,
        help="ws:// URL of the store (default ws://127.0.0.1:8000; env RIVERS_STORAGE_URL; "
        "credentials from RIVERS_STORAGE_USER / RIVERS_STORAGE_PASSWORD)",
    )
    parser.add_argument(
        "--host", default=None, help="interface to bind (default 127.0.0.1; env RIVERS_HOST)"
    )
    parser.add_argument(
        "--grpc-port",
        type=int,
        default=None,
        help=f"gRPC port, 0 for any free one (default {DEFAULT_GRPC_PORT}; env RIVERS_GRPC_PORT)",
    )
    parser.add_argument(
        "--http-port",
        type=int,
        default=None,
        help="port of /metrics, /healthz and /readyz (default: none; env RIVERS_HTTP_PORT)",
    )
    parser.add_argument(
        "--log-format",
        choices=["pretty", "json"],
        default=None,
        help="log lines for people or machines (default json; env RIVERS_LOG_FORMAT)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Execute ``rivers planner``; returns the exit status.

    Raises:
        RiversError: invalid settings, an unreachable store or a port already taken.
    """
    settings = load_settings(
        storage_url=args.storage,
        host=args.host,
        grpc_port=args.grpc_port,
        http_port=args.http_port,
        log_format=args.log_format,
    )
    # Imported here so `rivers --help` does not load grpc and the storage engine.
    from rivers_planner.server import serve

    asyncio.run(serve(settings))
    return 0
