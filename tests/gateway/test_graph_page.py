"""The asset graph page ``/``, its config-schema endpoint, layout, staleness, config checks."""

from __future__ import annotations

import json
import re
from typing import Any

import aiohttp
import grpc
import pytest

import rivers as rs
from rivers._convert.common import json_object_fields
from rivers._proto.rivers.v1 import api_pb2 as pb
from rivers.storage import RunStatus
from tests.fixtures.code_locations import basic, ui_demo
from tests.gateway.harness import Stack


def _call(stack: Stack, method: str, path: str, body: Any = None) -> tuple[int, str]:
    async def fetch() -> tuple[int, str]:
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, stack.http + path, json=body) as reply,
        ):
            return reply.status, await reply.text()

    return stack.loop.run(fetch())


def _embedded(html: str) -> dict[str, Any]:
    found = re.search(r'<script id="graph-data" type="application/json">(.*?)</script>', html, re.S)
    assert found, "the page embeds the graph"
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def test_home_page_embeds_the_graph_and_its_filters(stack: Stack) -> None:
    """``/`` renders the graph page with every node embedded and the group/location options."""
    stack.register(ui_demo.repo)
    stack.register(basic.repo)
    status, html = _call(stack, "GET", "/")
    assert status == 200
    assert "/static/graph.js" in html
    data = _embedded(html)
    keys = {(n["location"], n["key"]) for n in data["nodes"]}
    assert ("ui_demo", "report") in keys
    assert ("basic", "numbers") in keys
    for option in ("raw", "core", "reports", "derived", "ui_demo", "basic"):
        assert f'<option value="{option}">' in html
    report = next(n for n in data["nodes"] if n["key"] == "report" and n["location"] == "ui_demo")
    assert report["has_config"] is True
    assert report["group"] == "reports"
    orders = next(n for n in data["nodes"] if n["key"] == "orders")
    assert orders["description"] == "Raw orders, as delivered."
    assert orders["has_config"] is False


def test_home_page_without_locations_says_so(stack: Stack) -> None:
    """With no code location registered the page renders an empty state, not an error."""
    status, html = _call(stack, "GET", "/")
    assert status == 200
    assert "No assets yet" in html
    assert _embedded(html) == {"nodes": [], "edges": []}


def test_embedded_json_cannot_close_the_script_tag(stack: Stack) -> None:
    """A description holding ``</script>`` stays inside the JSON (escaped, still parseable)."""

    @rs.Asset(description="</script><script>alert(1)</script> & more")
    def sneaky() -> int:
        return 1

    stack.register(rs.CodeRepository(name="sneaky", assets=[sneaky]))
    _, html = _call(stack, "GET", "/")
    assert "<script>alert(1)" not in html
    assert _embedded(html)["nodes"][0]["description"].startswith("</script>")


def test_layout_orders_rows_to_avoid_crossings(stack: Stack) -> None:
    """Barycenter ordering puts each child next to its parent: no edge crosses another."""

    @rs.Asset()
    def a_root() -> int:
        return 1

    @rs.Asset()
    def z_root() -> int:
        return 1

    @rs.Asset()
    def c1(z_root: int) -> int:
        return z_root

    @rs.Asset()
    def c2(a_root: int) -> int:
        return a_root

    stack.register(rs.CodeRepository(name="cross", assets=[a_root, z_root, c1, c2]))
    _, text = _call(stack, "GET", "/api/graph")
    nodes = {n["key"]: n for n in json.loads(text)["nodes"]}
    assert {nodes["a_root"]["order"], nodes["z_root"]["order"]} == {0, 1}
    assert nodes["c2"]["order"] - nodes["c1"]["order"] == (
        nodes["a_root"]["order"] - nodes["z_root"]["order"]
    )


def test_asset_materialized_before_its_upstream_is_stale(stack: Stack) -> None:
    """Re-materializing an upstream makes its materialized downstreams stale, not green."""
    stack.register(basic.repo)
    client = stack.client()
    for selection in (None, ["numbers"]):
        run = client.launch_run(selection)
        worker = stack.run_worker("tests.fixtures.code_locations.basic", run.run_id)
        assert worker.returncode == 0, worker.stderr
        assert client.wait_for_run(run.run_id, timeout=10).status is RunStatus.SUCCESS
    _, text = _call(stack, "GET", "/api/graph")
    nodes = {n["key"]: n["status"] for n in json.loads(text)["nodes"]}
    assert nodes == {
        "numbers": "materialized",
        "scaled": "stale",
        "total": "stale",
        "report": "materialized",
    }


def test_config_schema_endpoint(stack: Stack) -> None:
    """The endpoint returns each asset's pydantic JSON schema, null for assets without config."""
    stack.register(ui_demo.repo)
    status, text = _call(stack, "GET", "/api/assets/config-schema?keys=report,orders")
    assert status == 200
    body = json.loads(text)
    assert body["location"] == "ui_demo"
    assert body["schemas"]["orders"] is None
    top_n = body["schemas"]["report"]["properties"]["top_n"]
    assert (top_n["minimum"], top_n["maximum"], top_n["default"]) == (1, 100, 5)


@pytest.mark.parametrize(
    ("query", "status", "expected"),
    [
        ("?keys=nope", 404, "nope"),
        ("", 400, "keys"),
        ("?location=elsewhere&keys=report", 404, "elsewhere"),
    ],
    ids=["unknown-asset", "no-keys", "unknown-location"],
)
def test_config_schema_errors(stack: Stack, query: str, status: int, expected: str) -> None:
    """Unknown assets or locations are 404, a request naming no asset is 400."""
    stack.register(ui_demo.repo)
    got, text = _call(stack, "GET", "/api/assets/config-schema" + query)
    assert got == status
    assert expected in json.loads(text)["error"]


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"top_n": 0}, "'top_n'"),
        ({"top_n": 101}, "'top_n'"),
        ({"top_n": "five"}, "'top_n'"),
        ({"fail": "yes"}, "'fail'"),
        ({"title": 3}, "'title'"),
    ],
    ids=["below-minimum", "above-maximum", "not-an-integer", "not-a-boolean", "not-a-string"],
)
def test_launch_refuses_config_outside_the_schema(
    stack: Stack, config: dict[str, Any], expected: str
) -> None:
    """POST /api/runs answers 400 naming the asset and field; no run is queued."""
    stack.register(ui_demo.repo)
    body = {"selection": ["report"], "config": {"report": config}}
    status, text = _call(stack, "POST", "/api/runs", body)
    assert status == 400, text
    error = json.loads(text)["error"]
    assert "'report'" in error
    assert expected in error
    assert stack.storage.get_runs(limit=10) == []


def test_launch_accepts_config_within_the_schema(stack: Stack) -> None:
    """Valid values, and omitted fields that have defaults, queue the run with that config."""
    stack.register(ui_demo.repo)
    config = {"report": {"top_n": 3, "title": "T"}}
    status, text = _call(stack, "POST", "/api/runs", {"selection": ["report"], "config": config})
    assert status == 201, text
    assert json.loads(text)["config"] == config


def test_grpc_launch_refuses_config_outside_the_schema(stack: Stack) -> None:
    """The gRPC LaunchRun applies the same check: INVALID_ARGUMENT naming asset and field."""
    stack.register(ui_demo.repo)
    with pytest.raises(rs.RiversError, match=r"'report'.*'top_n'"):
        stack.client().launch_run(["report"], config={"report": {"top_n": 0}})


def test_grpc_launch_status_code_for_bad_config(stack: Stack) -> None:
    """On the wire the refusal is INVALID_ARGUMENT (a float-typed Struct int still passes)."""
    stack.register(ui_demo.repo)
    stub = stack.stub()
    bad = pb.LaunchRunRequest(
        selection=["report"], config=json_object_fields({"report": {"top_n": 0}})
    )
    with pytest.raises(grpc.RpcError) as caught:
        stub.LaunchRun(bad)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    good = pb.LaunchRunRequest(
        selection=["report"], config=json_object_fields({"report": {"top_n": 7}})
    )
    assert stub.LaunchRun(good).run.run_id
