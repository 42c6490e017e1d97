"""``rivers ui``: serve the gateway (a ``rivers.commands`` entry point)."""

from __future__ import annotations

import argparse
import asyncio

from rivers_ui.settings import DEFAULT_GRPC_PORT, DEFAULT_HTTP_PORT, load_settings

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``ui`` command."""
    parser = subparsers.add_parser(
        "ui",
        help="serve the web UI, the JSON API and the public gRPC API (the gateway)",
        description="Serve the rivers gateway: the public gRPC API (rivers.v1.api.Api, which "
        "rivers.client.RiversClient talks to) and the web UI with its JSON API, plus "
        "/metrics, /healthz and /readyz. It needs the shared store and the planner. Each "
        "flag overrides its RIVERS_* environment variable. SIGTERM or Ctrl-C stops it "
        "gracefully. Exit status: 0 stopped, 2 could not start.",
    )
    parser.add_argument(
        "--storage",
        metavar="URL",
        default=None,
        help="ws:// URL of the store (default ws://127.0.0.1:8000; env RIVERS_STORAGE_URL; "
        "credentials from RIVERS_STORAGE_USER / RIVERS_STORAGE_PASSWORD)",
    )
    parser.add_argument(
        "--planner",
        metavar="HOST:PORT",
        default=None,
        help="the planner's gRPC address (default 127.0.0.1:7001; env RIVERS_PLANNER_ADDRESS)",
    )
    parser.add_argument(
        "--host", default=None, help="interface to bind (default 127.0.0.1; env RIVERS_HOST)"
    )
    parser.add_argument(
        "--grpc-port",
        type=int,
        default=None,
        help=f"public gRPC API port, 0 for any free one (default {DEFAULT_GRPC_PORT}; "
        "env RIVERS_GRPC_PORT)",
    )
    parser.add_argument(
        "--http-port",
        type=int,
        default=None,
        help=f"web UI / JSON API port (default {DEFAULT_HTTP_PORT}; env RIVERS_HTTP_PORT)",
    )
    parser.add_argument(
        "--log-format",
        choices=["pretty", "json"],
        default=None,
        help="log lines for people or machines (default json; env RIVERS_LOG_FORMAT)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Execute ``rivers ui``; returns the exit status.

    Raises:
        RiversError: invalid settings, an unreachable store or a port already taken.
    """
    settings = load_settings(
        storage_url=args.storage,
        planner_address=args.planner,
        host=args.host,
        grpc_port=args.grpc_port,
        http_port=args.http_port,
        log_format=args.log_format,
    )
    # Imported here so `rivers --help` does not load grpc and the storage engine.
    from rivers_ui.server import serve

    asyncio.run(serve(settings))
    return 0
