"""GET /api/graph: nodes, edges, levels and statuses from snapshots, records and runs."""

from __future__ import annotations

from typing import Any

import aiohttp

import rivers as rs
from rivers.storage import RunStatus
from tests.fixtures.code_locations import basic, failing
from tests.gateway.harness import Stack


def _get(stack: Stack, path: str) -> tuple[int, Any]:
    async def fetch() -> tuple[int, Any]:
        async with aiohttp.ClientSession() as session, session.get(stack.http + path) as reply:
            return reply.status, await reply.json()

    return stack.loop.run(fetch())


def _nodes(body: Any) -> dict[str, dict[str, Any]]:
    return {node["key"]: node for node in body["nodes"]}


def test_graph_has_levels_and_edges_and_missing_assets(stack: Stack) -> None:
    """Levels are the longest path from a root; edges go upstream -> downstream."""
    stack.register(basic.repo)
    status, body = _get(stack, "/api/graph?location=basic")
    assert status == 200
    nodes = _nodes(body)
    assert {k: n["level"] for k, n in nodes.items()} == {
        "numbers": 0,
        "scaled": 1,
        "total": 1,
        "report": 2,
    }
    edges = {(e["source"], e["target"]) for e in body["edges"]}
    assert edges == {
        ("basic:numbers", "basic:scaled"),
        ("basic:numbers", "basic:total"),
        ("basic:scaled", "basic:report"),
        ("basic:total", "basic:report"),
    }
    assert {n["status"] for n in nodes.values()} == {"missing"}
    assert nodes["numbers"]["group"] == "raw"
    assert nodes["numbers"]["partitioned"] is False


def test_graph_statuses_after_real_runs(stack: Stack) -> None:
    """A successful run marks its assets materialized; a queued run marks its assets running."""
    location = stack.register(basic.repo)
    client = stack.client()
    run = client.launch_run(config={"scaled": {"factor": 3}})
    worker = stack.run_worker("tests.fixtures.code_locations.basic", run.run_id)
    assert worker.returncode == 0, worker.stderr
    assert client.wait_for_run(run.run_id, timeout=10).status is RunStatus.SUCCESS
    nodes = _nodes(_get(stack, "/api/graph")[1])
    assert {n["status"] for n in nodes.values()} == {"materialized"}
    assert {n["last_run_id"] for n in nodes.values()} == {run.run_id}
    assert all(n["last_materialized_at"] for n in nodes.values())
    stack.add_run(location, status=RunStatus.QUEUED, asset_keys=("total",))
    nodes = _nodes(_get(stack, "/api/graph")[1])
    assert nodes["total"]["status"] == "running"
    assert nodes["numbers"]["status"] == "materialized"


def test_graph_marks_assets_of_a_failed_run_failed(stack: Stack) -> None:
    """Assets a failed run did not materialize are failed; the ones it did are materialized."""
    repo = rs.CodeRepository(
        name="failing",
        assets=[failing.source, failing.broken, failing.after_broken, failing.healthy],
    )
    stack.register(repo)
    client = stack.client()
    run = client.launch_run()
    stack.run_worker("tests.fixtures.code_locations.failing", run.run_id)
    assert client.wait_for_run(run.run_id, timeout=10).status is RunStatus.FAILURE
    nodes = _nodes(_get(stack, "/api/graph?location=failing")[1])
    assert nodes["source"]["status"] == "materialized"
    assert nodes["healthy"]["status"] == "materialized"
    assert nodes["broken"]["status"] == "failed"
    assert nodes["broken"]["failed_run_id"] == run.run_id
    assert nodes["after_broken"]["level"] == 2


def test_graph_of_an_unknown_location_is_a_404(stack: Stack) -> None:
    """An unknown location name is NOT_FOUND, as in the other JSON routes."""
    stack.register(basic.repo)
    status, body = _get(stack, "/api/graph?location=nope")
    assert status == 404
    assert "nope" in body["error"]
