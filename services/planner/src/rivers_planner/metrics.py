"""The planner's own Prometheus metrics (the runtime already counts and times every call)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = ["PlannerMetrics"]

# Warm plans take well under a millisecond, cold ones of large snapshots tens of milliseconds.
_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)


class PlannerMetrics:
    """Cache hits and misses and planning latency, on the service's registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        registry = registry if registry is not None else CollectorRegistry()
        self.plan_cache = Counter(
            "rivers_planner_plan_cache",
            "Plan lookups by (snapshot id, selection), by result (hit or miss)",
            ["result"],
            registry=registry,
        )
        self.snapshot_cache = Counter(
            "rivers_planner_snapshot_cache",
            "Snapshot lookups by id, by result (hit or miss: read from storage)",
            ["result"],
            registry=registry,
        )
        self.planning_seconds = Histogram(
            "rivers_planner_planning_seconds",
            "Time to answer a planning request (snapshot lookup included), by operation",
            ["operation"],
            buckets=_BUCKETS,
            registry=registry,
        )
        # Pre-create the label sets, so dashboards see zeros rather than absent series.
        for result in ("hit", "miss"):
            self.plan_cache.labels(result)
            self.snapshot_cache.labels(result)
