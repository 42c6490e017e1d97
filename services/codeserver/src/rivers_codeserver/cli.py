"""``rivers serve``: the code server of one code location, with the location's daemon.

Registered on the ``rivers`` command through the ``rivers.commands`` entry point; also
runnable alone as ``python -m rivers_codeserver serve ...``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["main", "register", "run"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``serve`` command."""
    parser = subparsers.add_parser(
        "serve",
        help="serve a code location over gRPC, with its daemon",
        description="Load MODULE (the only process that imports it), register it as a code "
        "location in the store, serve its definitions over gRPC, execute its runs in worker "
        "processes and evaluate its sensors and schedules. The location's daemon (schedules, "
        "sensors, automation, run queue, backfills) runs in the same process unless "
        "--no-daemon. Every flag also reads a RIVERS_* "
        "environment variable (flags win). Stops gracefully on SIGTERM or Ctrl-C. Exit "
        "status: 0 stopped, 2 could not start (the module failed to load, bad settings, "
        "store unreachable, the daemon failed to start).",
    )
    parser.add_argument(
        "-m",
        "--module",
        default=None,
        help="the code location's module, pkg.mod or pkg.mod:ATTR (env RIVERS_MODULE)",
    )
    parser.add_argument(
        "--name",
        default=None,
        help="the location's name (default: the repository's; env RIVERS_LOCATION_NAME)",
    )
    parser.add_argument(
        "--identity",
        default=None,
        help="the location's immutable UUID, as a deployment stamps it "
        "(env RIVERS_LOCATION_IDENTITY)",
    )
    parser.add_argument(
        "--storage",
        default=None,
        help="ws:// URL of the store (default ws://127.0.0.1:8000; env RIVERS_STORAGE_URL; "
        "credentials from RIVERS_STORAGE_USER and RIVERS_STORAGE_PASSWORD)",
    )
    parser.add_argument(
        "--host", default=None, help="interface to bind (default 127.0.0.1; env RIVERS_HOST)"
    )
    parser.add_argument(
        "--advertise-host",
        default=None,
        help="host other services dial, recorded in the store (default: --host)",
    )
    parser.add_argument(
        "--grpc-port", type=int, default=None, help="gRPC port (default 7002; 0: any free one)"
    )
    parser.add_argument(
        "--http-port",
        type=int,
        default=None,
        help="HTTP port for /metrics, /healthz, /readyz (default: no HTTP)",
    )
    parser.add_argument(
        "--reload",
        action="store_true",
        default=None,
        help="reload the module when its files change (env RIVERS_RELOAD)",
    )
    parser.add_argument(
        "--evaluation-workers",
        type=int,
        default=None,
        help="processes evaluating sync sensors and schedules (default 2; "
        "env RIVERS_EVALUATION_WORKERS)",
    )
    parser.add_argument(
        "--evaluation-timeout",
        type=float,
        default=None,
        help="seconds one sensor or schedule evaluation may take (default 60; "
        "env RIVERS_EVALUATION_TIMEOUT)",
    )
    parser.add_argument(
        "--no-daemon",
        action="store_true",
        default=None,
        help="do not start the location's daemon in this process (env RIVERS_NO_DAEMON)",
    )
    parser.add_argument(
        "--log-format", choices=["json", "pretty"], default=None, help="log style (default json)"
    )
    parser.add_argument("--log-level", default=None, help="log level (default INFO)")
    parser.set_defaults(func=run)


def _settings(args: argparse.Namespace) -> Any:
    from rivers_codeserver.settings import CodeServerSettings

    given: dict[str, Any] = {
        "module": args.module,
        "location_name": args.name,
        "location_identity": args.identity,
        "storage_url": args.storage,
        "host": args.host,
        "advertise_host": args.advertise_host,
        "grpc_port": args.grpc_port,
        "http_port": args.http_port,
        "reload": args.reload,
        "evaluation_workers": args.evaluation_workers,
        "evaluation_timeout": args.evaluation_timeout,
        "no_daemon": args.no_daemon,
        "log_format": args.log_format,
        "log_level": args.log_level,
    }
    return CodeServerSettings(**{k: v for k, v in given.items() if v is not None})


def run(args: argparse.Namespace) -> int:
    """Execute ``rivers serve``; returns the exit status."""
    from pydantic import ValidationError

    from rivers._service.settings import settings_problems
    from rivers.cli.loader import LoadError
    from rivers.errors import RiversError
    from rivers_codeserver.location import describe_load_error
    from rivers_codeserver.server import serve

    try:
        settings = _settings(args)
    except ValidationError as exc:
        problems = settings_problems(exc)
        if any(e["type"] == "missing" and e["loc"] == ("module",) for e in exc.errors()):
            problems = "no module given: pass -m MODULE (or set RIVERS_MODULE)"
        sys.stderr.write(f"rivers: error: invalid code server settings: {problems}\n")
        return 2
    try:
        asyncio.run(serve(settings))
    except LoadError as exc:
        sys.stderr.write(f"rivers: error: {describe_load_error(settings.module_name, exc)}\n")
        return 2
    except RiversError as exc:  # the store is unreachable, or the daemon did not start
        sys.stderr.write(f"rivers: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m rivers_codeserver serve ...``: the command without the rest of ``rivers``."""
    parser = argparse.ArgumentParser(prog="rivers")
    register(parser.add_subparsers(title="commands", metavar="COMMAND"))
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return 2
    code: int = func(args)
    return code
