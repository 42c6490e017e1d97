"""The daemon's own Prometheus metrics (the runtime already counts its gRPC calls).

Gauges of state (runs by status, queue depth, pool slots) are refreshed by the monitor's
sweep (:mod:`rivers_daemon.observe`), not at scrape time: a scrape never waits on storage.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from rivers.storage.records import InstigatorType, RunStatus, TickRecord, TickStatus

__all__ = ["DaemonMetrics"]

# Sensor and schedule evaluations take milliseconds to the evaluation timeout (60 s).
_EVALUATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# Queue waits: from a fraction of a poll interval to minutes under tight limits.
_WAIT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
# Steps: from trivial in-memory assets to hour-long warehouse loads.
_STEP_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


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
        self.tick_seconds = Histogram(
            "rivers_daemon_tick_seconds",
            "Duration of a tick (evaluation and recording), per schedule or sensor",
            ["type", "instigator"],
            buckets=_EVALUATION_BUCKETS,
            registry=registry,
        )
        self.instigator_ticks = Counter(
            "rivers_daemon_instigator_ticks",
            "Ticks recorded per schedule or sensor, by final status (outcome)",
            ["type", "instigator", "status"],
            registry=registry,
        )
        self.runs = Gauge(
            "rivers_daemon_runs",
            "The location's runs in storage, by status (refreshed each monitor sweep)",
            ["status"],
            registry=registry,
        )
        self.queue_depth = Gauge(
            "rivers_daemon_queue_depth",
            "The location's runs waiting in the queue (QUEUED)",
            registry=registry,
        )
        self.pool_slots_in_use = Gauge(
            "rivers_daemon_pool_slots_in_use",
            "Slots held in each concurrency pool (all locations share the pools)",
            ["pool"],
            registry=registry,
        )
        self.pool_slots_limit = Gauge(
            "rivers_daemon_pool_slots_limit",
            "Limit in force of each limited concurrency pool (unlimited pools: no series)",
            ["pool"],
            registry=registry,
        )
        self.step_seconds = Histogram(
            "rivers_daemon_step_seconds",
            "Durations of the location's finished steps, by outcome (success, failure), "
            "read from their STEP_SUCCESS/STEP_FAILURE events",
            ["outcome"],
            buckets=_STEP_BUCKETS,
            registry=registry,
        )
        self.pruned_rows = Counter(
            "rivers_daemon_pruned_rows",
            "Rows deleted by the periodic retention prune, by table",
            ["table"],
            registry=registry,
        )
        # Pre-create the label sets, so dashboards see zeros rather than absent series.
        for run_status in RunStatus:
            self.runs.labels(str(run_status))
        for outcome in ("success", "failure"):
            self.step_seconds.labels(outcome)
        for table in ("run_event", "run", "tick"):
            self.pruned_rows.labels(table)
        for kind in InstigatorType:
            self.evaluation_seconds.labels(str(kind))
            self.runs_queued.labels(str(kind))
            for status in TickStatus:
                if status is not TickStatus.STARTED:
                    self.ticks.labels(str(kind), str(status))

    def observe_tick(self, tick: TickRecord, *, timed: bool = True) -> None:
        """Count a recorded tick (and time it, unless it was never evaluated)."""
        kind, status = str(tick.type), str(tick.status)
        self.ticks.labels(kind, status).inc()
        self.instigator_ticks.labels(kind, tick.instigator, status).inc()
        if timed:
            self.tick_seconds.labels(kind, tick.instigator).observe(tick.duration_ms / 1000.0)
