"""The examples of the design page (reference/rivers-vs-dagster.txt) run as written.

Stand-ins replace the network (`requests`, `client.fetch`), nothing else.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from pydantic import BaseModel

import rivers as rs

API_URL = "https://api.example.com/rows"


class _Response:
    def __init__(self) -> None:
        self.status_code = 201
        self.headers = {"ETag": '"abc123"'}


requests = SimpleNamespace(post=lambda url, json: _Response())


class _Client:
    async def fetch(self, path: str) -> dict[str, int]:
        await asyncio.sleep(0)
        return {path.strip("/"): 1}


client = _Client()


class ThresholdConfig(BaseModel):
    min_value: float = 0.0
    max_value: float = 1.0


@rs.Asset
def filtered(context: rs.AssetExecutionContext[ThresholdConfig]):
    return [x for x in range(100) if x >= context.config.min_value]


@rs.Asset
def rows() -> list:
    return [{"id": 1}, {"id": 2}]


@rs.Asset
def push_to_api(rows: list[dict]) -> rs.Materialization:
    response = requests.post(API_URL, json=rows)
    return rs.Materialization(
        metadata={"status_code": rs.MetadataValue.int(response.status_code)},
        data_version=response.headers["ETag"],
    )


@rs.Asset
def new_events() -> list:
    return ["e1", "e2"]


@rs.Asset
def running_total(self: rs.SelfDependency[int], new_events: list) -> int:
    prev = self.get_inner()  # int | None on first run
    return (prev or 0) + len(new_events)


@rs.Asset
async def prices():
    return await client.fetch("/prices")


@rs.Asset
async def inventory():
    return await client.fetch("/inventory")


@rs.Asset
def report(prices, inventory):
    return {**prices, **inventory}


@rs.Asset
def source() -> int:
    return 3


@rs.Asset
def trigger() -> None:
    return None


@rs.Asset(
    deps=[
        rs.AssetDef.input("source"),  # loaded via io_handler, name-matched to a param
        rs.AssetDef.dep("trigger"),  # lineage-only edge, never loaded
    ]
)
def uses_source(source: int) -> int:
    return source * 2


@rs.Asset(metadata={"rivers/executor": "in_process"})
def needs_in_process() -> int:
    return 42


ASSETS = [
    filtered,
    rows,
    push_to_api,
    new_events,
    running_total,
    prices,
    inventory,
    report,
    source,
    trigger,
    uses_source,
    needs_in_process,
]


def test_reference_examples_materialize(make_repo):
    """Every asset example of the design page materializes with the documented results."""
    repo = make_repo(*ASSETS)
    result = repo.materialize(config={"filtered": {"min_value": 95}})
    assert result.success, [f.error for f in result.failures]
    assert result.output_for("filtered") == [95, 96, 97, 98, 99]
    push = next(e for e in result.materializations if e.asset_key == "push_to_api")
    assert push.metadata["status_code"].value == 201
    assert push.data_version == '"abc123"'
    assert result.output_for("running_total") == 2
    assert repo.materialize("running_total").output_for("running_total") == 4
    assert result.output_for("report") == {"prices": 1, "inventory": 1}
    assert result.output_for("uses_source") == 6
    assert result.output_for("needs_in_process") == 42
    deps = {d.asset_key: d.role for d in repo.snapshot.assets_by_key["uses_source"].dependencies}
    assert deps == {"source": "input", "trigger": "dep"}
