"""Event written → visible in the browser: ``.venv/bin/python benchmarks/ui_live.py``.

Starts a real store (served over SurrealDB's WebSocket protocol), planner and gateway
in-process (the test harness's ``Stack``), opens the run page of a run in headless Debian
Chromium (Playwright), then writes events one at a time to the store and measures, for each,
the time from just before the write to the browser having painted the frame after the event's
arrival on ``/api/events`` (both clocks are this machine's). Target: ≤ 250 ms.

Prints the median, p95 and max over ``--events`` events (default 50), spaced ``--gap``
seconds apart (default 0.2).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rivers.execution.events import EventKind, RunEvent  # noqa: E402
from tests.browser.support import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.fixtures.code_locations import basic  # noqa: E402
from tests.gateway.harness import LoopThread, Stack  # noqa: E402

TARGET_MS = 250.0

# Records when each run event is painted: arrival, then the frame after it.
_PROBE = """
window.__painted = {};
window.rivers.on("run_event", (e) => {
  requestAnimationFrame(() => { window.__painted[e.seq] = Date.now(); });
});
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--gap", type=float, default=0.2)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    loop = LoopThread()
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(loop, Path(tmp))
        try:
            stack.start_planner()
            stack.start_gateway()
            location = stack.register(basic.repo)
            run = stack.add_run(location)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                page = browser.new_page()
                page.goto(f"{stack.http}/runs/{run.run_id}")
                page.wait_for_function("window.rivers && window.rivers.state === 'live'")
                page.evaluate(_PROBE)
                latencies: list[float] = []
                for i in range(args.events):
                    event = RunEvent.now(run.run_id, EventKind.LOG, message=f"line {i}")
                    before = time.time() * 1000
                    (stored,) = stack.storage.store_events([event], location_id=location.identity)
                    page.wait_for_function(f"window.__painted[{stored.seq}] !== undefined")
                    painted = page.evaluate(f"window.__painted[{stored.seq}]")
                    latencies.append(painted - before)
                    time.sleep(args.gap)
                browser.close()
        finally:
            stack.close()
            loop.close()
    latencies.sort()
    p95 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))]
    median = statistics.median(latencies)
    sys.stdout.write(
        f"event written -> painted in the browser ({len(latencies)} events): "
        f"median {median:.0f} ms, p95 {p95:.0f} ms, max {latencies[-1]:.0f} ms "
        f"(target <= {TARGET_MS:.0f} ms: {'met' if p95 <= TARGET_MS else 'MISSED'})\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
