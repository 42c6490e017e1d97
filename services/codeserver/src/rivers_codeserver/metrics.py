"""Prometheus metrics of the code server (next to the runtime's gRPC metrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["CodeServerMetrics"]

_LAUNCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0)


class CodeServerMetrics:
    """Run workers, evaluations, heartbeats and reloads of one code location."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.active_workers = Gauge(
            "rivers_codeserver_active_workers",
            "Run and backfill workers executing now",
            ["kind"],
            registry=registry,
        )
        self.launches = Counter(
            "rivers_codeserver_worker_launches",
            "Workers started, by kind and whether a warm spare was used",
            ["kind", "warm"],
            registry=registry,
        )
        self.worker_exits = Counter(
            "rivers_codeserver_worker_exits",
            "Workers that ended, by kind and exit code",
            ["kind", "code"],
            registry=registry,
        )
        self.launch_seconds = Histogram(
            "rivers_codeserver_launch_seconds",
            "From the LaunchRun request to the worker holding the run",
            buckets=_LAUNCH_BUCKETS,
            registry=registry,
        )
        self.cancels = Counter(
            "rivers_codeserver_worker_signals",
            "Signals sent to run workers that did not stop in time",
            ["signal"],
            registry=registry,
        )
        self.evaluations = Counter(
            "rivers_codeserver_evaluations",
            "Sensor and schedule evaluations, by kind and outcome (ok, error, timeout, crash)",
            ["kind", "outcome"],
            registry=registry,
        )
        self.evaluation_seconds = Histogram(
            "rivers_codeserver_evaluation_seconds",
            "From an EvaluateSensor/EvaluateSchedule request to its reply",
            ["kind"],
            buckets=_LAUNCH_BUCKETS,
            registry=registry,
        )
        self.evaluation_worker_restarts = Counter(
            "rivers_codeserver_evaluation_worker_restarts",
            "Evaluation workers replaced, by reason (timeout, crash, canceled)",
            ["reason"],
            registry=registry,
        )
        self.heartbeat_failures = Counter(
            "rivers_codeserver_heartbeat_failures",
            "Location heartbeats that could not be written",
            registry=registry,
        )
        self.reloads = Counter(
            "rivers_codeserver_reloads",
            "Reloads of the code location, by result",
            ["result"],
            registry=registry,
        )
        self.stale_runs_failed = Counter(
            "rivers_codeserver_stale_runs_failed",
            "Runs of a previous incarnation failed because their worker stopped heartbeating",
            registry=registry,
        )
