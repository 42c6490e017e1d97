"""The daemon's own Prometheus metrics (the runtime already counts its gRPC calls)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from rivers.storage.records import InstigatorType, TickStatus

__all__ = ["DaemonMetrics"]

# Sensor and schedule evaluations take milliseconds to the evaluation timeout (60 s).
_EVALUATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# Queue waits: from a fraction of a poll interval to minutes under tight limits.
_WAIT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class DaemonMetrics:
    """Ticks, evaluation time and the run queue, on the service's registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        registry = registry if registry is not None else CollectorRegistry()
        self.ticks = Counter(
            "rivers_daemon_ticks",
            "Ticks recorded, by instigator type (SCHEDULE, SENSOR, ...) and final status",
            ["type", "status"],
            registry=registry,
        )
        self.evaluation_seconds = Histogram(
            "rivers_daemon_evaluation_seconds",
            "Time of one sensor or schedule evaluation in the code server, by instigator type",
            ["type"],
            buckets=_EVALUATION_BUCKETS,
            registry=registry,
        )
        self.runs_queued = Counter(
            "rivers_daemon_runs_queued",
            "Runs queued by ticks, by instigator type",
            ["type"],
            registry=registry,
        )
        self.runs_claimed = Counter(
            "rivers_daemon_runs_claimed",
            "Queued runs claimed (under the global limits) and launched through the code server",
            registry=registry,
        )
        self.launch_failures = Counter(
            "rivers_daemon_launch_failures",
            "Claimed runs failed because the code server could not be reached",
            registry=registry,
        )
        self.queue_wait_seconds = Histogram(
            "rivers_daemon_queue_wait_seconds",
            "Time runs waited in the queue before being claimed",
            buckets=_WAIT_BUCKETS,
            registry=registry,
        )
        self.stale_runs_failed = Counter(
            "rivers_daemon_stale_runs_failed",
            "Runs failed because their run worker stopped heartbeating",
            registry=registry,
        )
        self.pool_slots_reclaimed = Counter(
            "rivers_daemon_pool_slots_reclaimed",
            "Pool slots returned because their holder's lease expired",
            registry=registry,
        )
        # Pre-create the label sets, so dashboards see zeros rather than absent series.
        for kind in InstigatorType:
            self.evaluation_seconds.labels(str(kind))
            self.runs_queued.labels(str(kind))
            for status in TickStatus:
                if status is not TickStatus.STARTED:
                    self.ticks.labels(str(kind), str(status))
