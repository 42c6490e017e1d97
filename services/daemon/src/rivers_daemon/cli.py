"""``rivers daemon``: one code location's daemon, alone (a ``rivers.commands`` entry point).

``rivers serve`` already runs the daemon in the code server's process; this command is for
deployments that run it separately (``rivers serve --no-daemon`` next to it).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``daemon`` command."""
    parser = subparsers.add_parser(
        "daemon",
        help="run a code location's daemon: schedules, sensors, automation, backfills, run queue",
        description="Run the daemon of one code location: evaluate its schedules and sensors "
        "(through its code server), automation conditions and backfills, and launch its queued "
        "runs under the global concurrency limits. It never imports user code. Each flag "
        "overrides its RIVERS_* environment variable. SIGTERM or Ctrl-C stops it gracefully. "
        "Exit status: 0 stopped, 2 could not start.",
    )
    parser.add_argument(
        "--location",
        metavar="NAME",
        default=None,
        help="the code location's name (env RIVERS_LOCATION)",
    )
    parser.add_argument(
        "--identity",
        default=None,
        help="the location's immutable UUID instead of its name (env RIVERS_LOCATION_IDENTITY)",
    )
    parser.add_argument(
        "--codeserver",
        metavar="HOST:PORT",
        default=None,
        help="the location's code server (default: the endpoint it records in the store; "
        "env RIVERS_CODESERVER_ADDRESS)",
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
        help="gRPC port of health checks, 0 for any free one (default 0; env "
        "RIVERS_DAEMON_GRPC_PORT)",
    )
    parser.add_argument(
        "--http-port",
        type=int,
        default=None,
        help="port of /metrics, /healthz and /readyz (default: none; env RIVERS_DAEMON_HTTP_PORT)",
    )
    parser.add_argument(
        "--tick-interval",
        type=float,
        default=None,
        help="seconds between schedule checks, at most (default 1; env RIVERS_TICK_INTERVAL)",
    )
    parser.add_argument(
        "--evaluation-timeout",
        type=float,
        default=None,
        help="seconds a sensor or schedule evaluation may take (default 60; env "
        "RIVERS_EVALUATION_TIMEOUT)",
    )
    parser.add_argument(
        "--log-format",
        choices=["pretty", "json"],
        default=None,
        help="log lines for people or machines (default json; env RIVERS_LOG_FORMAT)",
    )
    parser.add_argument("--log-level", default=None, help="log level (default INFO)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Execute ``rivers daemon``; returns the exit status (2: bad settings, store unreachable)."""
    from rivers.errors import RiversError
    from rivers_daemon.settings import load_settings

    try:
        settings = load_settings(
            location=args.location,
            location_identity=args.identity,
            codeserver_address=args.codeserver,
            storage_url=args.storage,
            host=args.host,
            grpc_port=args.grpc_port,
            http_port=args.http_port,
            tick_interval=args.tick_interval,
            evaluation_timeout=args.evaluation_timeout,
            log_format=args.log_format,
            log_level=args.log_level,
        )
    except RiversError as exc:
        sys.stderr.write(f"rivers: error: {exc}\n")
        return 2
    # Imported here so `rivers --help` does not load grpc and the storage engine.
    from rivers_daemon.server import serve

    try:
        asyncio.run(serve(settings))
    except RiversError as exc:  # the store is unreachable, a port is taken
        sys.stderr.write(f"rivers: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        return 130
    return 0
