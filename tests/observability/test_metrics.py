"""Scraping /metrics of real services (code server, daemon) and watching values move with work."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from rivers._proto.rivers.v1 import codelocation_pb2 as pb
from rivers._service.metrics import storage_registry
from rivers.automation.launch import launch_requests
from rivers.automation.requests import RunRequest, SensorResult
from rivers.definitions.snapshot import DefinitionsSnapshot
from rivers.execution.events import EventKind, RunEvent
from rivers.storage import InstigatorType, RunRecord, RunStatus, Storage
from rivers_codeserver.server import start as start_codeserver
from rivers_daemon.metrics import DaemonMetrics
from rivers_daemon.observe import StateObserver
from rivers_daemon.server import Daemon
from tests.codeserver.support import LoopThread, Running, Store, wait_finished, wait_for
from tests.daemon.conftest import daemons, loop, store
from tests.daemon.support import AUTOMATION, address, location_id, switch_on

__all__ = ["daemons", "loop", "store"]  # the daemon tests' fixtures, used here too

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def codeserver(
    store: Store, loop: LoopThread, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Running]:
    """The automation_basic location's code server with /metrics on a free HTTP port."""
    monkeypatch.chdir(tmp_path)  # run workers keep their IO files under tmp_path/.rivers
    settings = store.settings(AUTOMATION, evaluation_workers=1, http_port=0)
    server = loop.run(start_codeserver(settings, storage=store.storage))
    running = Running(loop, server)
    yield running
    running.stop()


def scrape(port: int | None) -> Samples:
    """Every sample of ``/metrics`` on ``port``, by name and labels."""
    assert port is not None
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample ``name`` with exactly ``labels`` (0 when absent)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of samples ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def eventually(port: int | None, check: Callable[[Samples], bool], what: str) -> Samples:
    """Scrape until ``check`` holds (the daemon refreshes gauges each monitor sweep)."""
    found: list[Samples] = []

    def ok() -> bool:
        found[:] = [scrape(port)]
        return check(found[0])

    wait_for(ok, 30, what)
    return found[0]


def test_a_run_moves_grpc_run_step_and_storage_metrics(
    store: Store, codeserver: Running, daemons: Callable[..., Daemon]
) -> None:
    """A queued run launched by the daemon shows in gRPC, claims, runs, steps and storage."""
    loc = location_id(codeserver)
    daemon = daemons(
        loc,
        address(codeserver),
        enable_schedules=False,
        enable_sensors=False,
        http_port=0,
        metrics_finished_runs_interval=0.2,
    )
    assert daemon.monitor is not None
    wait_for(lambda: daemon.monitor is not None and daemon.monitor.sweeps >= 1, 10, "a sweep")
    code_before, daemon_before = scrape(codeserver.server.http_port), scrape(daemon.http_port)
    reply = codeserver.stub.GetDefinitions(pb.GetDefinitionsRequest(), timeout=10)
    snapshot = DefinitionsSnapshot.from_proto(reply.snapshot)
    launched = launch_requests(
        store.storage,
        snapshot,
        loc,
        SensorResult(run_requests=(RunRequest(["numbers"]),)),
        instigator="metrics-test",
        instigator_type="SENSOR",
    )
    (run_id,) = launched.run_ids
    assert wait_finished(store.storage, run_id).status is RunStatus.SUCCESS

    after = eventually(
        daemon.http_port,
        lambda s: (
            value(s, "rivers_daemon_step_seconds_count", outcome="success") >= 1
            and value(s, "rivers_daemon_runs", status="SUCCESS") >= 1
        ),
        "the daemon to see the step and the run",
    )
    assert value(after, "rivers_daemon_runs_claimed_total") == 1 + value(
        daemon_before, "rivers_daemon_runs_claimed_total"
    )
    assert value(after, "rivers_daemon_step_seconds_sum", outcome="success") > 0
    assert value(after, "rivers_daemon_runs", status="QUEUED") == 0
    assert value(after, "rivers_daemon_queue_depth") == 0
    for operation in ("read", "write"):
        name = "rivers_storage_query_seconds_count"
        assert value(after, name, operation=operation) > value(
            daemon_before, name, operation=operation
        )

    code_after = scrape(codeserver.server.http_port)
    launch = {"service": "codeserver", "method": "LaunchRun"}
    assert value(code_after, "rivers_grpc_requests_total", **launch, code="OK") == 1 + value(
        code_before, "rivers_grpc_requests_total", **launch, code="OK"
    )
    assert value(code_after, "rivers_grpc_request_seconds_count", **launch) >= 1
    assert value(code_after, "rivers_grpc_request_seconds_sum", **launch) > 0


def test_queue_depth_runs_by_status_and_pool_gauges_follow_storage(
    store: Store, daemons: Callable[..., Daemon]
) -> None:
    """Queued runs, pool slots in use and pool limits show as gauges, and follow changes."""
    loc = store.storage.ensure_location("gauges").identity
    daemon = daemons(
        loc,
        "127.0.0.1:9",  # never dialed: the queue is off, only the monitor runs
        enable_queue=False,
        enable_schedules=False,
        enable_sensors=False,
        enable_backfills=False,
        enable_automation=False,
        http_port=0,
        metrics_finished_runs_interval=0.2,
    )
    now = time.time()
    for i in range(3):
        store.storage.add_run(
            RunRecord(run_id=f"q{i}", location_id=loc, status=RunStatus.QUEUED, created_at=now)
        )
    store.storage.ensure_pool_limits({"warehouse": 4})
    assert store.storage.claim_pool_slots(
        "c1", ["warehouse"], 2, run_id="q0", step_key="s", owner="o", lease_duration=60
    )
    eventually(
        daemon.http_port,
        lambda s: (
            value(s, "rivers_daemon_queue_depth") == 3
            and value(s, "rivers_daemon_runs", status="QUEUED") == 3
            and value(s, "rivers_daemon_pool_slots_in_use", pool="warehouse") == 2
            and value(s, "rivers_daemon_pool_slots_limit", pool="warehouse") == 4
        ),
        "three queued runs and two slots of four",
    )
    assert store.storage.request_run_cancel("q1")
    store.storage.set_pool_limit("warehouse", 1)
    eventually(
        daemon.http_port,
        lambda s: (
            value(s, "rivers_daemon_queue_depth") == 2
            and value(s, "rivers_daemon_runs", status="CANCELED") == 1
            and value(s, "rivers_daemon_pool_slots_limit", pool="warehouse") == 1
        ),
        "the cancel and the new limit",
    )


def test_sensor_ticks_are_counted_and_timed_per_sensor(
    store: Store, codeserver: Running, daemons: Callable[..., Daemon]
) -> None:
    """Each tick of a sensor counts under its name and status, with its duration."""
    loc = location_id(codeserver)
    daemon = daemons(loc, address(codeserver), enable_schedules=False, http_port=0)
    labels = {"type": "SENSOR", "instigator": "steady"}
    assert value(scrape(daemon.http_port), "rivers_daemon_tick_seconds_count", **labels) == 0
    switch_on(store.storage, loc, "steady", InstigatorType.SENSOR)
    after = eventually(
        daemon.http_port,
        lambda s: value(s, "rivers_daemon_instigator_ticks_total", **labels, status="SKIPPED") >= 1,
        "a skipped tick of `steady`",
    )
    assert value(after, "rivers_daemon_tick_seconds_count", **labels) >= 1
    assert value(after, "rivers_daemon_tick_seconds_sum", **labels) > 0
    assert total(after, "rivers_daemon_instigator_ticks_total", instigator="files") == 0


def test_the_daemon_prunes_its_location_periodically(
    store: Store, daemons: Callable[..., Daemon]
) -> None:
    """With retention_days, the monitor prunes its own location's old runs and counts rows."""
    loc = store.storage.ensure_location("pruned").identity
    other = store.storage.ensure_location("not-pruned").identity
    old = time.time() - 40 * 86400
    for run_id, location in (("old-mine", loc), ("old-theirs", other)):
        store.storage.add_run(
            RunRecord(
                run_id=run_id,
                location_id=location,
                status=RunStatus.SUCCESS,
                created_at=old,
                end_time=old + 1,
            )
        )
        store.storage.store_events(
            [RunEvent(run_id=run_id, kind=EventKind.LOG, timestamp=old, message="x")],
            location_id=location,
        )
    daemon = daemons(
        loc,
        "127.0.0.1:9",
        enable_queue=False,
        enable_schedules=False,
        enable_sensors=False,
        enable_backfills=False,
        enable_automation=False,
        http_port=0,
        retention_days=30,
        retention_interval=0.2,
    )
    wait_for(lambda: store.storage.get_run("old-mine") is None, 30, "the prune")
    after = eventually(
        daemon.http_port,
        lambda s: value(s, "rivers_daemon_pruned_rows_total", table="run") == 1,
        "the pruned run counted",
    )
    assert value(after, "rivers_daemon_pruned_rows_total", table="run_event") == 1
    assert store.storage.get_run("old-theirs") is not None
    assert len(store.storage.get_run_events("old-theirs")) == 1


def test_storage_round_trips_are_timed_once_a_service_registry_exists() -> None:
    """Every query of any store in the process lands in rivers_storage_query_seconds."""
    registry = storage_registry()
    name = "rivers_storage_query_seconds_count"
    before = registry.get_sample_value(name, {"operation": "read"}) or 0.0
    with Storage.memory() as storage:
        storage.get_runs()
        storage.get_runs()
    after = registry.get_sample_value(name, {"operation": "read"}) or 0.0
    assert after >= before + 2


def test_finished_runs_are_counted_at_most_every_interval() -> None:
    """Unfinished runs count every refresh; finished ones (a history scan) once an interval."""
    registry = CollectorRegistry()
    metrics = DaemonMetrics(registry)
    with Storage.memory() as storage:
        observer = StateObserver(storage, "loc", metrics, finished_runs_interval=3600)
        observer.refresh()
        for run_id, status in (("done", RunStatus.SUCCESS), ("waiting", RunStatus.QUEUED)):
            storage.add_run(
                RunRecord(run_id=run_id, location_id="loc", status=status, created_at=time.time())
            )
        observer.refresh()
        assert registry.get_sample_value("rivers_daemon_queue_depth") == 1
        assert registry.get_sample_value("rivers_daemon_runs", {"status": "SUCCESS"}) == 0
        observer.finished_runs_interval = 0
        observer.refresh()
        assert registry.get_sample_value("rivers_daemon_runs", {"status": "SUCCESS"}) == 1
