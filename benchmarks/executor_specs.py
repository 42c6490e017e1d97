"""Sizes of the executor workloads, shared by both tools and ``run.py`` (stdlib only).

Dagster's multiprocess executor rebuilds the job in every step process from a module-level
function that takes no arguments, so the sizes are constants here rather than arguments.
"""

from __future__ import annotations

WORKERS = 2  # worker processes (rivers) / concurrent step processes (Dagster)

# parallel executor: independent trivial sync assets, each returning 1
PARALLEL_ASSETS = 200

# .map() + collect: ``numbers`` yields range(MAP_ITEMS), each item doubled, then summed
MAP_ITEMS = 5_000
MAP_TOTAL = 2 * sum(range(MAP_ITEMS))  # 24,995,000, what both tools must compute
MAP_TIMEOUT = 600.0  # seconds per process; Dagster's run is stopped there (reported as such)

# async assets: each awaits asyncio.sleep(ASYNC_SLEEP) and returns 1
ASYNC_ASSETS = 100
ASYNC_SLEEP = 1.0
