"""The gateway in-process on port 0, over a real store, with the real planner beside it.

Each :class:`Stack` owns a fresh store served by a storage host (so run workers in other
processes can reach it), a planner and a gateway, both started with ``start(settings)`` on
an event loop in a background thread, as ``rivers dev`` runs them.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterable
from pathlib import Path
from typing import Any, TypeVar

import grpc

import rivers as rs
from rivers._proto.rivers.v1 import api_pb2_grpc
from rivers.client import RiversClient
from rivers.execution.events import EventKind, RunEvent
from rivers.storage import LocationRecord, RunRecord, RunStatus
from rivers.storage.host import HostThread, start_in_thread
from rivers_planner.server import PlannerService
from rivers_planner.server import start as start_planner
from rivers_planner.settings import PlannerSettings
from rivers_ui.server import Gateway
from rivers_ui.server import start as start_gateway
from rivers_ui.settings import GatewaySettings

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "gateway-secret"


class LoopThread:
    """An event loop in a daemon thread; tests submit coroutines to it and wait."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


class Stack:
    """A store, a planner and a gateway; ``client`` talks to the gateway's gRPC API."""

    def __init__(self, loop: LoopThread, tmp: Path, **gateway_settings: Any) -> None:
        self.loop = loop
        self.tmp = tmp
        self.host: HostThread = start_in_thread(tmp / "store", password=PASSWORD)
        self.storage = rs.Storage.connect(self.host.url, password=PASSWORD).open()
        self.planner: PlannerService | None = None
        self.gateway: Gateway | None = None
        self._clients: list[RiversClient] = []
        self._channels: list[grpc.Channel] = []
        self.gateway_settings = gateway_settings
        self.grpc_port = 0

    # --- services ------------------------------------------------------------------------

    def common(self) -> dict[str, Any]:
        return {
            "host": "127.0.0.1",
            "storage_url": self.host.url,
            "storage_user": "root",
            "storage_password": PASSWORD,
        }

    def start_planner(self) -> PlannerService:
        settings = PlannerSettings(**self.common(), grpc_port=0)
        self.planner = self.loop.run(start_planner(settings))
        return self.planner

    def stop_planner(self) -> None:
        if self.planner is not None:
            self.loop.run(self.planner.stop())
            self.planner = None

    def start_gateway(self, **overrides: Any) -> Gateway:
        planner = f"127.0.0.1:{self.planner.grpc_port}" if self.planner else "127.0.0.1:1"
        values = {
            **self.common(),
            "grpc_port": self.grpc_port,
            "http_port": 0,
            "planner_address": planner,
            "shutdown_grace": 2.0,
            **self.gateway_settings,
            **overrides,
        }
        self.gateway = self.loop.run(start_gateway(GatewaySettings(**values)))
        # A restarted gateway comes back on the same port, as a real deployment would.
        self.grpc_port = self.gateway.grpc_port
        return self.gateway

    def stop_gateway(self) -> None:
        if self.gateway is not None:
            self.loop.run(self.gateway.stop())
            self.gateway = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def http(self) -> str:
        assert self.gateway is not None
        return f"http://127.0.0.1:{self.gateway.http_port}"

    def client(self, **kwargs: Any) -> RiversClient:
        client = RiversClient(self.address, **kwargs)
        self._clients.append(client)
        return client

    def stub(self) -> Any:
        """A raw stub, to check status codes on the wire."""
        channel = grpc.insecure_channel(self.address)
        self._channels.append(channel)
        return api_pb2_grpc.ApiStub(channel)

    def close(self) -> None:
        for client in self._clients:
            client.close()
        for channel in self._channels:
            channel.close()
        try:
            self.stop_gateway()
            self.stop_planner()
        finally:
            self.storage.close()
            self.host.stop()

    # --- what a code server would do -----------------------------------------------------

    def register(self, repo: rs.CodeRepository, *, name: str | None = None) -> LocationRecord:
        """Register ``repo``'s location and publish its snapshot, as its code server does."""
        snapshot = repo.snapshot
        if name is not None:
            snapshot = snapshot.model_copy(update={"location": name})
        location = self.storage.ensure_location(snapshot.location)
        snapshot_id = self.storage.store_snapshot(location.identity, snapshot)
        self.storage.heartbeat_location(
            location.identity, endpoint=None, snapshot_id=snapshot_id, server_id="test"
        )
        found = self.storage.get_location(location.identity)
        assert found is not None
        return found

    def run_worker(self, module: str, run_id: str) -> subprocess.CompletedProcess[str]:
        """Execute a queued run in a real run worker process, as a code server would."""
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "rivers.execution.run_worker",
                "--module",
                module,
                "--run-id",
                run_id,
                "--storage",
                self.host.url,
            ],
            # The IO handler writes under .rivers/ of the working directory: keep it in tmp.
            cwd=self.tmp,
            env={**os.environ, "RIVERS_STORAGE_PASSWORD": PASSWORD, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    # --- runs and events written directly -------------------------------------------------

    def add_run(
        self,
        location: LocationRecord,
        *,
        status: RunStatus = RunStatus.STARTED,
        created_at: float | None = None,
        **fields: Any,
    ) -> RunRecord:
        run = RunRecord(
            run_id=fields.pop("run_id", uuid.uuid4().hex),
            location_id=location.identity,
            status=status,
            created_at=time.time() if created_at is None else created_at,
            **fields,
        )
        self.storage.add_run(run)
        return run

    def emit(
        self, run: RunRecord, *kinds: EventKind, finish: RunStatus | None = None
    ) -> list[RunEvent]:
        """Write events of ``run`` (one batch, as a run worker does); optionally finish it."""
        events = [
            RunEvent.now(run.run_id, kind, message=f"{kind} #{i}") for i, kind in enumerate(kinds)
        ]
        stored = self.storage.store_events(events, location_id=run.location_id)
        if finish is not None:
            self.storage.update_run(run.run_id, status=finish, end_time=time.time())
        return stored


def collect(events: Iterable[RunEvent], into: list[tuple[float, RunEvent]]) -> None:
    """Append (arrival time, event) for each event (runs in a thread)."""
    for event in events:
        into.append((time.perf_counter(), event))


def in_thread(target: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what or predicate}")
