"""Code server test support: a store served on loopback, servers on an event loop thread."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import grpc

import rivers as rs
from rivers._proto.rivers.v1 import codelocation_pb2 as pb
from rivers._proto.rivers.v1 import codelocation_pb2_grpc as pb_grpc
from rivers.cli.loader import load_repository
from rivers.storage.host import start_in_thread
from rivers_codeserver.server import CodeServer
from rivers_codeserver.settings import CodeServerSettings

T = TypeVar("T")
PASSWORD = "codeserver-tests"
BASIC = "tests.fixtures.code_locations.basic"
SLOW = "tests.fixtures.code_locations.slow"
PARTITIONED = "tests.fixtures.code_locations.partitioned"
SENSORS = "tests.fixtures.code_locations.sensors"


class LoopThread:
    """An event loop in a daemon thread: servers live here, tests call in synchronously."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


class Running:
    """A started code server and a client stub on its port."""

    def __init__(self, loop: LoopThread, server: CodeServer) -> None:
        self.loop = loop
        self.server = server
        self.channel = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}")
        self.stub = pb_grpc.CodeLocationStub(self.channel)
        self.stopped = False

    def launch(self, run_id: str) -> None:
        """Launch a stored run through LaunchRun, as the location's daemon does."""
        reply = self.stub.LaunchRun(pb.LaunchRunRequest(run_id=run_id), timeout=30)
        assert reply.launched, reply.message

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            self.channel.close()
            self.loop.run(self.server.stop())


class Store:
    """The store served on loopback (as `rivers storage serve` does) and a client of it."""

    def __init__(self, path: Path) -> None:
        self.host = start_in_thread(path, password=PASSWORD)
        self.url = self.host.url
        self.storage = rs.Storage.connect(self.url, password=PASSWORD)
        self._repos: dict[str, rs.CodeRepository] = {}

    def repo(self, module: str) -> rs.CodeRepository:
        """The module's assets in a repository on this store (the module's own is shared)."""
        if module not in self._repos:
            loaded = load_repository(module)
            self._repos[module] = rs.CodeRepository(
                name=loaded.name, assets=list(loaded.assets.values()), storage=self.storage
            )
        return self._repos[module]

    def settings(self, module: str, **values: Any) -> CodeServerSettings:
        base: dict[str, Any] = {
            "module": module,
            "storage_url": self.url,
            "storage_password": PASSWORD,
            "grpc_port": 0,
            "heartbeat_interval": 0.5,
            "run_worker_grace": 1.0,
            "shutdown_grace": 5.0,
        }
        return CodeServerSettings(**{**base, **values})

    def close(self) -> None:
        self.storage.close()
        self.host.stop()


def wait_for(predicate: Callable[[], T], timeout: float = 30.0, what: str = "it") -> T:
    """Poll ``predicate`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def wait_finished(storage: rs.Storage, run_id: str, timeout: float = 30.0) -> rs.RunRecord:
    """The run once it reached a final status."""

    def finished() -> rs.RunRecord | None:
        record = storage.get_run(run_id)
        return record if record is not None and record.status.is_finished else None

    return wait_for(finished, timeout, f"run {run_id} to finish")
