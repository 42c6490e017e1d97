"""The runs list over many stored runs: ``.venv/bin/python benchmarks/ui_runs.py``.

Starts a real store (served over SurrealDB's WebSocket protocol), planner and gateway
in-process (the test harness's ``Stack``), bulk-inserts ``--runs`` run records (default
100,000; mostly SUCCESS, 5 % FAILURE, 1 % STARTED, a few tags) and measures the median and
max time of ``GET /runs`` (the HTML page) and ``GET /api/runs`` (JSON) for: the first page, a
deep page reached through ``page_token`` (about half-way down), and status filters. Target:
≤ 200 ms per page.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rivers.storage import RunRecord, RunStatus  # noqa: E402
from tests.fixtures.code_locations import ui_demo  # noqa: E402
from tests.gateway.harness import LoopThread, Stack  # noqa: E402

TARGET_MS = 200.0
_BATCH = 2000


def _status(i: int) -> RunStatus:
    if i % 100 == 7:
        return RunStatus.STARTED
    if i % 20 == 3:
        return RunStatus.FAILURE
    return RunStatus.SUCCESS


def _insert(stack: Stack, location_id: str, count: int) -> float:
    start = time.perf_counter()
    base = time.time() - count
    batch: list[RunRecord] = []
    for i in range(count):
        created = base + i
        status = _status(i)
        batch.append(
            RunRecord(
                run_id=uuid.uuid4().hex,
                location_id=location_id,
                status=status,
                created_at=created,
                start_time=created + 0.1,
                end_time=None if status is RunStatus.STARTED else created + 2.5,
                tags={"team": ("data", "web", "ml")[i % 3], "rivers/source": "bench"},
                selection=("orders", "customers", "order_stats"),
                asset_keys=("orders", "customers", "order_stats"),
            )
        )
        if len(batch) == _BATCH:
            stack.storage.add_runs(batch)
            batch = []
    if batch:
        stack.storage.add_runs(batch)
    return time.perf_counter() - start


def _get(url: str) -> tuple[float, bytes]:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 (loopback URL built here)
        body = response.read()
    return (time.perf_counter() - start) * 1000, body


def _measure(label: str, url: str, repeat: int) -> float:
    _get(url)  # warm: snapshot caches, connections
    times = [_get(url)[0] for _ in range(repeat)]
    median = statistics.median(times)
    verdict = "ok" if median <= TARGET_MS else "OVER TARGET"
    print(f"  {label:<44} median {median:7.1f} ms   max {max(times):7.1f} ms   {verdict}")
    return median


def _deep_token(http: str, pages: int) -> str:
    import json

    token = ""
    for _ in range(pages):
        query = urllib.parse.urlencode({"page_size": 1000, "page_token": token})
        _, body = _get(f"{http}/api/runs?{query}")
        token = json.loads(body)["next_page_token"]
    return token


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    loop = LoopThread()
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(loop, Path(tmp))
        try:
            stack.start_planner()
            stack.start_gateway()
            location = stack.register(ui_demo.repo)
            took = _insert(stack, location.identity, args.runs)
            print(f"inserted {args.runs} runs in {took:.1f} s")
            deep = _deep_token(stack.http, max(1, args.runs // 2000))
            token = urllib.parse.quote(deep)
            medians = []
            for path, label in (("/runs", "GET /runs"), ("/api/runs", "GET /api/runs")):
                print(f"{label}:")
                base = stack.http + path
                medians += [
                    _measure("first page", base, args.repeat),
                    _measure(
                        "deep page (page_token, ~half-way)",
                        f"{base}?page_token={token}",
                        args.repeat,
                    ),
                    _measure("status=FAILURE (5 %)", f"{base}?status=FAILURE", args.repeat),
                    _measure("status=STARTED (1 %)", f"{base}?status=STARTED", args.repeat),
                    _measure(
                        "status=FAILURE, deep page",
                        f"{base}?status=FAILURE&page_token={token}",
                        args.repeat,
                    ),
                    _measure(
                        "tag team=ml (gateway-side filter)", f"{base}?tag=team%3Dml", args.repeat
                    ),
                ]
        finally:
            stack.close()
            loop.close()
    worst = max(medians)
    print(f"worst median {worst:.1f} ms (target {TARGET_MS:.0f} ms)")
    return 0 if worst <= TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
