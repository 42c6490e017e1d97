"""``rivers dev MODULE``: the whole stack for one code location, in one process.

Storage (the embedded store under ``.rivers/``, served on loopback to run workers and the
services), the planner, the code server, its daemon (schedules, sensors, automation,
backfills and the run queue) and the gateway (UI and public API) each run as a real gRPC/HTTP
server on loopback; runs execute in worker subprocesses. Editing the module reloads the code
location. Ctrl-C stops everything, newest first.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import signal
import time
import typing
from collections.abc import Awaitable, Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from rivers.cli.console import Console
from rivers.errors import RiversError
from rivers.storage.host import start_in_thread
from rivers.telemetry import configure_logging, get_logger

__all__ = ["register"]

log = get_logger("rivers.dev")

_SERVICES = ("planner", "codeserver", "daemon", "ui")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``dev`` command."""
    parser = subparsers.add_parser(
        "dev",
        help="run the whole stack for a code location in one process (UI on :3000)",
        description="Start storage (embedded, under --dir), the planner, the code server and "
        "its daemon (schedules, sensors, run queue), and the UI/API gateway for MODULE, each "
        "on loopback. Editing the module reloads it. Ctrl-C stops everything.",
    )
    parser.add_argument("module", help="module of the code location, e.g. my_pkg.pipelines")
    parser.add_argument("--port", type=int, default=3000, help="UI/HTTP port (default 3000)")
    parser.add_argument(
        "--grpc-port", type=int, default=7000, help="public gRPC API port (default 7000)"
    )
    parser.add_argument(
        "--dir", default=".rivers", help="where the store and IO files live (default .rivers)"
    )
    parser.add_argument("--no-reload", action="store_true", help="do not reload on edits")
    parser.set_defaults(func=run)


def _service_starters() -> dict[str, Callable[..., Awaitable[Any]]]:
    found = {e.name: e for e in entry_points(group="rivers.services")}
    missing = [name for name in _SERVICES if name not in found]
    if missing:
        raise RiversError(
            f"rivers dev needs the service packages {missing}; install them "
            "(make setup does: pip install -e services/*)"
        )
    return {name: found[name].load() for name in _SERVICES}


def _settings(start: Callable[..., Any], **values: Any) -> Any:
    settings_type = typing.get_type_hints(start)["settings"]
    return settings_type(**values)


async def _run_stack(args: argparse.Namespace, console: Console) -> None:
    started = time.perf_counter()
    starters = _service_starters()
    base = Path(args.dir)
    password = secrets.token_urlsafe(16)
    host = await asyncio.to_thread(
        start_in_thread, base / "storage", username="root", password=password
    )
    common = {
        "host": "127.0.0.1",
        "storage_url": host.url,
        "storage_user": "root",
        "storage_password": password,
        "log_format": "pretty",
    }
    handles: list[Any] = []
    try:
        planner = await starters["planner"](_settings(starters["planner"], **common, grpc_port=0))
        handles.append(planner)
        code = await starters["codeserver"](
            _settings(
                starters["codeserver"],
                **common,
                grpc_port=0,
                module=args.module,
                reload=not args.no_reload,
            )
        )
        handles.append(code)
        # Exactly one daemon per location: the code server's start() never starts one (only
        # `rivers serve` does), so dev starts it here, dialing the code server directly.
        if getattr(code, "daemon", None) is None:
            daemon = await starters["daemon"](
                _settings(
                    starters["daemon"],
                    **common,
                    grpc_port=0,
                    location_name=code.location.name,
                    location_identity=code.location.identity,
                    codeserver_address=f"127.0.0.1:{code.grpc_port}",
                )
            )
            handles.append(daemon)
        gateway = await starters["ui"](
            _settings(
                starters["ui"],
                **common,
                grpc_port=args.grpc_port,
                http_port=args.port,
                planner_address=f"127.0.0.1:{planner.grpc_port}",
            )
        )
        handles.append(gateway)
        console.line(
            f"rivers dev: {args.module} ready in {time.perf_counter() - started:.1f} s\n"
            f"  UI      http://127.0.0.1:{gateway.http_port}\n"
            f"  API     grpc 127.0.0.1:{gateway.grpc_port}\n"
            f"  store   {base / 'storage'} (served at {host.url})\n"
            "  Ctrl-C to stop"
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        console.line("rivers dev: stopping")
    finally:
        for handle in reversed(handles):
            try:
                await handle.stop()
            except Exception as exc:  # keep stopping the others
                log.warning("dev.stop_failed", service=type(handle).__name__, error=str(exc))
        await asyncio.to_thread(host.stop)


def run(args: argparse.Namespace) -> int:
    """Execute ``rivers dev``."""
    configure_logging("INFO", style="pretty")
    console = Console()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run_stack(args, console))
    console.line("rivers dev: stopped")
    return 0
