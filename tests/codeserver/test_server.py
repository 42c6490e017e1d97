"""The code server's identity, definitions, registration and incarnations."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from grpc_health.v1 import health_pb2, health_pb2_grpc

import rivers as rs
from rivers._convert.definitions import snapshot_from_proto
from rivers._proto.rivers.v1 import codelocation_pb2 as pb
from tests.codeserver.support import BASIC, Running, Store, wait_for


def test_server_id_and_definitions(serve: Callable[..., Running], store: Store) -> None:
    """GetServerId names the location and snapshot; GetDefinitions returns that snapshot."""
    running = serve(BASIC)
    ident = running.stub.GetServerId(pb.GetServerIdRequest())
    assert ident.location_name == "basic"
    assert ident.server_id == running.server.server_id
    assert ident.location_identity == running.server.location.identity
    snapshot = snapshot_from_proto(running.stub.GetDefinitions(pb.GetDefinitionsRequest()).snapshot)
    assert {a.key for a in snapshot.assets} == {"numbers", "scaled", "total", "report"}
    assert snapshot.snapshot_id == ident.snapshot_id
    assert store.storage.get_snapshot(ident.snapshot_id) == snapshot


def test_health(serve: Callable[..., Running]) -> None:
    """Health reports SERVING for the CodeLocation service once the server is ready."""
    running = serve(BASIC)
    health = health_pb2_grpc.HealthStub(running.channel)
    reply = health.Check(
        health_pb2.HealthCheckRequest(service="rivers.v1.codelocation.CodeLocation")
    )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_registration_and_heartbeat(serve: Callable[..., Running], store: Store) -> None:
    """The location is registered with its endpoint, server id and snapshot, and heartbeats."""
    identity = str(uuid.uuid4())
    running = serve(BASIC, location_name="analytics", location_identity=identity)
    record = store.storage.get_location(identity)
    assert record is not None
    assert record.name == "analytics"
    assert record.endpoint == f"127.0.0.1:{running.server.grpc_port}"
    assert record.server_id == running.server.server_id
    assert record.snapshot_id == running.server.location.snapshot_id
    first = record.last_heartbeat
    assert first is not None

    def beat_again() -> bool:
        again = store.storage.get_location(identity)
        return again is not None and (again.last_heartbeat or 0) > first

    wait_for(beat_again, 5, "a second heartbeat")
    assert record.is_available(time.time(), timeout=5)


def test_restart_is_a_new_incarnation_that_fails_stale_runs(
    serve: Callable[..., Running], store: Store
) -> None:
    """A restarted server has a new server id and fails runs its predecessor left behind."""
    first = serve(BASIC)
    first_id = first.server.server_id
    first.stop()
    repo = store.repo(BASIC)
    now = time.time()
    orphan = rs.RunRecord(
        run_id=uuid.uuid4().hex,
        location_id=repo.location_id(),
        status=rs.RunStatus.STARTED,
        created_at=now - 60,
        start_time=now - 60,
        heartbeat_at=now - 30,
        worker="gone:1",
    )
    alive = orphan.model_copy(update={"run_id": uuid.uuid4().hex, "heartbeat_at": now})
    store.storage.add_run(orphan)
    store.storage.add_run(alive)
    second = serve(BASIC, heartbeat_interval=5.0)
    assert second.server.server_id != first_id
    assert second.stub.GetServerId(pb.GetServerIdRequest()).server_id == second.server.server_id
    failed = store.storage.get_run(orphan.run_id)
    assert failed is not None and failed.status is rs.RunStatus.FAILURE
    assert "heartbeat" in (failed.failure_reason or "")
    untouched = store.storage.get_run(alive.run_id)
    assert untouched is not None and untouched.status is rs.RunStatus.STARTED
