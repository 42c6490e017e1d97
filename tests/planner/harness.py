"""Running a planner in-process on port 0, and the snapshots the tests plan from."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import grpc

import rivers as rs
from rivers._proto.rivers.v1 import planner_pb2_grpc
from rivers.definitions.snapshot import DefinitionsSnapshot
from rivers_planner.server import PlannerService, start
from rivers_planner.settings import PlannerSettings
from tests.fixtures.code_locations import basic, partitioned

T = TypeVar("T")

# Daily since 1900: ~46,000 keys, enough that listing them all would show.
CENTURY = rs.PartitionsDefinition.daily(start="1900-01-01")


@rs.Asset(partitions_def=CENTURY)
def century() -> int:
    return 1


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


class Snapshots:
    """Ids of the stored fixture snapshots."""

    def __init__(self, storage: rs.Storage) -> None:
        self.basic = self._store(storage, basic.repo.snapshot)
        self.partitioned = self._store(storage, partitioned.repo.snapshot)
        century_repo = rs.CodeRepository(name="century", assets=[century])
        self.century = self._store(storage, century_repo.snapshot)

    @staticmethod
    def _store(storage: rs.Storage, snapshot: DefinitionsSnapshot) -> str:
        location = storage.ensure_location(snapshot.location)
        return storage.store_snapshot(location.identity, snapshot)


class Planner:
    """A started planner service, its loop and a connected stub."""

    def __init__(self, loop: LoopThread, service: PlannerService) -> None:
        self.loop = loop
        self.service = service
        self.channel = grpc.insecure_channel(f"127.0.0.1:{service.grpc_port}")
        self.stub = planner_pb2_grpc.PlannerStub(self.channel)

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.service.http_port}/metrics"

    def stop(self) -> None:
        try:
            self.loop.run(self.service.stop())
        finally:
            self.channel.close()


def start_planner(loop: LoopThread, storage: rs.Storage, **settings: Any) -> Planner:
    values = {"host": "127.0.0.1", "grpc_port": 0, "http_port": 0, **settings}
    service = loop.run(start(PlannerSettings(**values), storage=storage))
    return Planner(loop, service)
