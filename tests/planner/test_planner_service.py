"""The planner as a service: health, reflection, metrics, caches, graceful stop."""

from __future__ import annotations

import asyncio
import re
import urllib.request
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

import rivers as rs
from rivers._proto.rivers.v1 import planner_pb2 as pb
from rivers_planner.cache import AsyncLRU
from rivers_planner.server import SERVICE_NAME
from tests.planner.harness import LoopThread, Planner, Snapshots, start_planner


def scrape(planner: Planner) -> str:
    with urllib.request.urlopen(planner.metrics_url, timeout=10) as reply:  # noqa: S310 - loopback
        text: str = reply.read().decode()
        return text


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the exposition text (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = rf"^{re.escape(name)}(?:\{{([^}}]*)\}})? (\S+)$"
    for match in re.finditer(pattern, text, re.MULTILINE):
        present = match.group(1) or ""
        if all(part in present.split(",") for part in wanted.split(",") if part):
            return float(match.group(2))
    return 0.0


def test_service_name_comes_from_the_descriptor() -> None:
    """Health and reflection know the service by its full proto name."""
    assert SERVICE_NAME == "rivers.v1.planner.Planner"


def test_reflection_lists_the_planner(planner: Planner) -> None:
    """Server reflection lists the Planner service next to health and reflection."""
    stub = reflection_pb2_grpc.ServerReflectionStub(planner.channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    (reply,) = list(stub.ServerReflectionInfo(iter([request])))
    names = {s.name for s in reply.list_services_response.service}
    assert {SERVICE_NAME, "grpc.health.v1.Health"} <= names


def test_metrics_move_after_calls(planner: Planner, snapshots: Snapshots) -> None:
    """/metrics counts plan-cache misses then hits, planning latency and the gRPC calls."""
    before = scrape(planner)
    request = pb.PlanRunRequest(snapshot_id=snapshots.basic, selection=["total"])
    first = planner.stub.PlanRun(request)
    second = planner.stub.PlanRun(request)
    assert first == second
    after = scrape(planner)

    def moved(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert moved("rivers_planner_plan_cache_total", result="miss") == 1
    assert moved("rivers_planner_plan_cache_total", result="hit") == 1
    assert moved("rivers_planner_planning_seconds_count", operation="plan_run") == 2
    assert moved("rivers_grpc_requests_total", method="PlanRun", code="OK") == 2


def test_failed_calls_are_counted_with_their_code(planner: Planner) -> None:
    """A NOT_FOUND reply shows up in the gRPC request counter under its status code."""
    before = scrape(planner)
    with pytest.raises(grpc.RpcError):
        planner.stub.PlanRun(pb.PlanRunRequest(snapshot_id="f" * 24))
    after = scrape(planner)
    labels = {"method": "PlanRun", "code": "NOT_FOUND"}
    assert (
        sample(after, "rivers_grpc_requests_total", **labels)
        - sample(before, "rivers_grpc_requests_total", **labels)
        == 1
    )


def test_snapshots_are_read_from_storage_once(
    loop: LoopThread, storage: rs.Storage, snapshots: Snapshots
) -> None:
    """Distinct selections of one snapshot read it from storage once (the snapshot cache)."""
    fresh = start_planner(loop, storage)
    try:
        for selection in (["numbers"], ["total"], ["report"]):
            fresh.stub.PlanRun(pb.PlanRunRequest(snapshot_id=snapshots.basic, selection=selection))
        text = scrape(fresh)
    finally:
        fresh.stop()
    assert sample(text, "rivers_planner_snapshot_cache_total", result="miss") == 1
    assert sample(text, "rivers_planner_snapshot_cache_total", result="hit") == 2


def test_health_serving_then_not_serving_once_shutdown_begins(
    loop: LoopThread, storage: rs.Storage
) -> None:
    """Health says SERVING when started and NOT_SERVING (and /readyz 503) while draining."""
    own = start_planner(loop, storage, shutdown_grace=5)
    health = health_pb2_grpc.HealthStub(own.channel)
    seen: dict[str, Any] = {}

    def check() -> int:
        reply = health.Check(health_pb2.HealthCheckRequest(service=SERVICE_NAME), timeout=5)
        return int(reply.status)

    async def while_draining() -> None:
        # Called when shutdown begins, before the servers stop: ask as a balancer would.
        seen["status"] = await asyncio.to_thread(check)
        ready_url = f"http://127.0.0.1:{own.service.http_port}/readyz"
        try:
            await asyncio.to_thread(urllib.request.urlopen, ready_url, timeout=5)
        except urllib.error.HTTPError as exc:
            seen["readyz"] = exc.code
            exc.close()

    assert check() == health_pb2.HealthCheckResponse.SERVING
    own.service.runtime.on_drain(while_draining)
    own.stop()
    assert seen == {"status": health_pb2.HealthCheckResponse.NOT_SERVING, "readyz": 503}


def test_stop_is_idempotent(loop: LoopThread, storage: rs.Storage) -> None:
    """Stopping a stopped planner does nothing (rivers dev stops each service once more)."""
    own = start_planner(loop, storage)
    own.stop()
    loop.run(own.service.stop())


def test_lru_keeps_the_most_recent_and_loads_once() -> None:
    """The cache evicts the least recently used key and shares one load between callers."""
    loads: list[str] = []

    async def scenario() -> list[tuple[str, bool]]:
        cache: AsyncLRU[str, str] = AsyncLRU(2)

        def loader(key: str) -> Any:
            async def load() -> str:
                loads.append(key)
                await asyncio.sleep(0.01)
                return key.upper()

            return load

        both = await asyncio.gather(cache.get("a", loader("a")), cache.get("a", loader("a")))
        results = [*both]
        results.append(await cache.get("b", loader("b")))
        results.append(await cache.get("a", loader("a")))  # hit; "b" is now the oldest
        results.append(await cache.get("c", loader("c")))  # evicts "b"
        results.append(await cache.get("b", loader("b")))
        return results

    results = asyncio.run(scenario())
    assert results == [
        ("A", False),
        ("A", False),
        ("B", False),
        ("A", True),
        ("C", False),
        ("B", False),
    ]
    assert loads == ["a", "b", "c", "b"]


def test_failed_loads_are_not_cached() -> None:
    """A load that raises reaches its callers and is retried on the next request."""

    async def scenario() -> tuple[str, bool]:
        cache: AsyncLRU[str, str] = AsyncLRU(4)

        async def fail() -> str:
            raise rs.StorageError("down")

        async def succeed() -> str:
            return "up"

        with pytest.raises(rs.StorageError):
            await cache.get("k", fail)
        return await cache.get("k", succeed)

    assert asyncio.run(scenario()) == ("up", False)
