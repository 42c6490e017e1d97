"""The asset graph page at 5,000 assets: server time of ``/`` and ``/api/graph``, browser time.

Run on demand (not a test): ``.venv/bin/python benchmarks/ui_graph.py [N]``. It registers a
``layered`` location of N assets (default 5,000) in a real store behind a real gateway and
planner (``tests.gateway.harness``), marks a third of them materialized, then prints:

- the median wall time of ``GET /`` and ``GET /api/graph`` over loopback (server time plus a
  local transfer of the JSON) and the response sizes;
- with Playwright and ``/usr/bin/chromium``: the time from navigation start until the graph is
  drawn and interactive (``window.riversGraph.readyAt``), and the median time of one full
  redraw at the "fit" zoom and at 100 % zoom (what a pan or wheel step costs); a screenshot
  goes to ``test-artifacts/screenshots/graph-5000.png``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import aiohttp  # noqa: E402 (after the path setup)
import shapes  # noqa: E402

import rivers as rs  # noqa: E402
from rivers.execution.events import EventKind, RunEvent  # noqa: E402
from tests.browser.support import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS  # noqa: E402
from tests.gateway.harness import LoopThread, Stack  # noqa: E402

REPEAT = 15


def make_repo(n: int) -> rs.CodeRepository:
    """The ``layered`` shape as a code location (groups by layer, so filters have choices)."""

    def make(name: str, ups: list[str]) -> rs.Asset:
        def fn(**kwargs: int) -> int:
            return 1 + sum(kwargs.values())

        fn.__name__ = name
        group = "layer_" + name.split("_")[0][1:]
        return rs.Asset(name=name, group=group, deps=[rs.AssetDef.input(u) for u in ups])(fn)

    return rs.CodeRepository(
        name="bench", assets=[make(name, ups) for name, ups in shapes.layered(n)]
    )


def materialize_some(stack: Stack, location: Any, keys: list[str]) -> None:
    """Write materialization events for ``keys`` (as a run worker would), in one batch."""
    run = stack.add_run(location, status=rs.RunStatus.SUCCESS, asset_keys=tuple(keys))
    events = [
        RunEvent.now(run.run_id, EventKind.ASSET_MATERIALIZATION, step_key=k, asset_key=k)
        for k in keys
    ]
    stack.storage.store_events(events, location_id=location.identity)


def time_get(stack: Stack, path: str) -> tuple[float, int]:
    async def run() -> tuple[list[float], int]:
        times: list[float] = []
        size = 0
        async with aiohttp.ClientSession() as session:
            for _ in range(REPEAT + 1):
                start = time.perf_counter()
                async with session.get(stack.http + path) as reply:
                    body = await reply.read()
                    assert reply.status == 200, body[:300]
                times.append(time.perf_counter() - start)
                size = len(body)
        return times[1:], size  # the first read warms the snapshot cache

    times, size = stack.loop.run(run(), timeout=300)
    return statistics.median(times), size


def browser_times(url: str) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    out: dict[str, list[float]] = {"ready_ms": [], "draw_fit_ms": [], "draw_100_ms": []}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            for _ in range(5):
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.goto(url)
                page.wait_for_function("window.riversGraph && window.riversGraph.ready")
                out["ready_ms"].append(page.evaluate("window.riversGraph.readyAt"))
                out["draw_fit_ms"].append(page.evaluate(_DRAW_FIT))
                out["draw_100_ms"].append(page.evaluate(_DRAW_100))
                page.evaluate("window.riversGraph.fit()")
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(SCREENSHOTS / "graph-5000.png"))
                page.close()
        finally:
            browser.close()
    return {k: statistics.median(v) for k, v in out.items()}


_DRAW_FIT = """() => { const t = performance.now();
  for (let i = 0; i < 20; i++) window.riversGraph.fit(); return (performance.now() - t) / 20; }"""
_DRAW_100 = """() => { const t = performance.now(); const keys = window.riversGraph.keys();
  for (let i = 0; i < 20; i++) window.riversGraph.center(keys[(i * 97) % keys.length]);
  return (performance.now() - t) / 20; }"""


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    loop = LoopThread()
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(loop, Path(tmp))
        try:
            stack.start_planner()
            stack.start_gateway()
            repo = make_repo(n)
            location = stack.register(repo)
            keys = [a.key for a in repo.snapshot.assets]
            materialize_some(stack, location, keys[: len(keys) // 3])
            stack.add_run(location, status=rs.RunStatus.STARTED, asset_keys=(keys[-1],))
            stack.add_run(
                location,
                status=rs.RunStatus.FAILURE,
                asset_keys=(keys[-2],),
                run_id=uuid.uuid4().hex,
            )
            page, page_size = time_get(stack, "/")
            api, api_size = time_get(stack, "/api/graph")
            print(f"assets: {n}")
            print(f"GET /           median {page * 1000:7.1f} ms  ({page_size / 1e6:.2f} MB)")
            print(f"GET /api/graph  median {api * 1000:7.1f} ms  ({api_size / 1e6:.2f} MB)")
            for name, value in browser_times(stack.http + "/").items():
                print(f"browser {name:12s} median {value:7.1f} ms")
        finally:
            stack.close()
            loop.close()


if __name__ == "__main__":
    main()
