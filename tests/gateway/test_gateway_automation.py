"""ListInstigators, SetInstigatorStatus, ListTicks, CancelBackfill, RetryBackfillFailures.

The snapshots here are data (schedules and sensors as their code servers would publish them):
the gateway never runs user code, so none is needed.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest

import rivers as rs
from rivers._proto.rivers.v1 import api_pb2 as pb
from rivers._proto.rivers.v1 import runs_pb2
from rivers.client import NotFoundError
from rivers.definitions.snapshot import DefinitionsSnapshot, ScheduleSnap, SensorSnap
from rivers.execution.events import ErrorInfo
from rivers.storage import BackfillRecord, BackfillState, LocationRecord, RunStatus
from rivers.storage.records import InstigatorType, TickRecord, TickStatus
from rivers_ui.instigators import next_cron_time
from tests.fixtures.code_locations import basic, partitioned
from tests.gateway.harness import Stack

SCHEDULE, SENSOR = InstigatorType.SCHEDULE, InstigatorType.SENSOR
BACKFILL_TAG = "rivers/backfill"


def _code(call: object) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as info:
        call()  # type: ignore[operator]
    return info.value.code(), info.value.details()


def _get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - local test URL
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read())


def _automated(name: str = "basic") -> DefinitionsSnapshot:
    """The basic assets with two schedules and two sensors, as a code server publishes them."""
    return basic.repo.snapshot.model_copy(
        update={
            "location": name,
            "schedules": (
                ScheduleSnap(
                    name="nightly",
                    cron="30 9 * * *",
                    timezone="Europe/Berlin",
                    selection=("numbers",),
                    default_status="RUNNING",
                ),
                ScheduleSnap(name="weekly", cron="0 0 * * 0", selection=("total",)),
            ),
            "sensors": (
                SensorSnap(name="files", selection=("numbers",), minimum_interval=45.0),
                SensorSnap(name="always", default_status="RUNNING", minimum_interval=5.0),
            ),
        }
    )


def _publish(stack: Stack, snapshot: DefinitionsSnapshot) -> LocationRecord:
    """Register a location and publish ``snapshot`` for it, as its code server would."""
    location = stack.storage.ensure_location(snapshot.location)
    snapshot_id = stack.storage.store_snapshot(location.identity, snapshot)
    stack.storage.heartbeat_location(
        location.identity, endpoint=None, snapshot_id=snapshot_id, server_id="test"
    )
    found = stack.storage.get_location(location.identity)
    assert found is not None
    return found


def _tick(
    location: LocationRecord,
    instigator: str,
    status: TickStatus,
    timestamp: float,
    kind: InstigatorType = SENSOR,
    **fields: Any,
) -> TickRecord:
    return TickRecord(
        tick_id=uuid.uuid4().hex,
        location_id=location.identity,
        instigator=instigator,
        type=kind,
        status=status,
        timestamp=timestamp,
        **fields,
    )


# --- instigators -------------------------------------------------------------------------------


def test_next_cron_time_reads_the_cron_in_its_time_zone() -> None:
    """A schedule's next tick is its cron read in its zone (winter and summer), 6 fields too."""

    def at(text: str) -> float:
        return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()

    assert next_cron_time("30 9 * * *", "Europe/Berlin", at("2024-01-15T00:00")) == at(
        "2024-01-15T08:30"
    )
    assert next_cron_time("30 9 * * *", "Europe/Berlin", at("2024-07-15T00:00")) == at(
        "2024-07-15T07:30"
    )
    assert next_cron_time("30 9 * * *", "UTC", at("2024-07-15T09:30")) == at("2024-07-16T09:30")
    assert next_cron_time("*/20 * * * * *", "UTC", at("2024-07-15T09:30:05")) == at(
        "2024-07-15T09:30:20"
    )
    assert next_cron_time("@daily", "UTC", at("2024-07-15T09:30")) == at("2024-07-16T00:00")
    assert next_cron_time("not a cron", "UTC", 0.0) is None


def test_list_instigators_merges_the_snapshot_with_stored_state(stack: Stack) -> None:
    """Code defaults apply until a status is stored; cursor and last tick come from storage."""
    location = _publish(stack, _automated())
    storage = stack.storage
    storage.set_instigator_status(location.identity, "files", SENSOR, True)
    storage.set_instigator_status(location.identity, "always", SENSOR, False)
    last = time.time() - 10
    storage.update_instigator(
        location.identity,
        "files",
        SENSOR,
        cursor="c-7",
        last_tick_time=last,
        last_tick_status=TickStatus.SKIPPED,
    )
    storage.set_instigator_status(location.identity, "removed_from_code", SENSOR, True)
    client = stack.client()
    before = time.time()
    infos = {i.name: i for i in client.list_instigators()}
    assert list(infos) == ["nightly", "weekly", "files", "always"]
    nightly, weekly, files, always = infos.values()
    assert (nightly.type, nightly.running, nightly.cron) == (SCHEDULE, True, "30 9 * * *")
    expected = next_cron_time("30 9 * * *", "Europe/Berlin", before)
    assert nightly.next_tick_time is not None and expected is not None
    assert before < nightly.next_tick_time <= expected + 86400
    assert nightly.last_tick_time is None and nightly.last_tick_status is None
    assert (weekly.running, weekly.next_tick_time) == (False, None)
    assert (files.type, files.running, files.minimum_interval) == (SENSOR, True, 45.0)
    assert (files.cursor, files.last_tick_status) == ("c-7", TickStatus.SKIPPED)
    assert files.last_tick_time == pytest.approx(last)
    assert files.next_tick_time == pytest.approx(last + 45.0)
    assert files.cron is None
    assert (always.running, always.next_tick_time) == (False, None)
    assert all(i.location_id == location.identity for i in infos.values())
    assert client.list_instigators("basic") == list(infos.values())


def test_automation_is_an_instigator_when_an_asset_has_a_condition(stack: Stack) -> None:
    """Assets with automation conditions add one "automation" instigator, running by default."""
    plain = _publish(stack, _automated("plain"))
    snapshot = _automated("auto")
    first, *rest = snapshot.assets
    eager = first.model_copy(update={"automation_condition": rs.AutomationCondition.eager()})
    auto = _publish(stack, snapshot.model_copy(update={"assets": (eager, *rest)}))
    client = stack.client()
    assert "automation" not in {i.name for i in client.list_instigators("plain")}
    *_, automation = client.list_instigators("auto")
    assert (automation.name, automation.type) == ("automation", InstigatorType.AUTOMATION)
    assert automation.running and automation.location_id == auto.identity
    assert (automation.cron, automation.minimum_interval, automation.next_tick_time) == (
        None,
        None,
        None,
    )
    assert not client.stop_instigator("automation", location="auto").running
    state = stack.storage.get_instigator_state(auto.identity, "automation")
    assert state is not None and state.type is InstigatorType.AUTOMATION
    with pytest.raises(NotFoundError):
        client.stop_instigator("automation", location="plain")
    assert stack.storage.get_instigator_state(plain.identity, "automation") is None


def test_list_instigators_of_several_locations(stack: Stack) -> None:
    """Without a location every published location is listed; a name narrows it down."""
    first = _publish(stack, _automated("first"))
    _publish(stack, _automated("second"))
    stack.storage.ensure_location("unpublished")
    client = stack.client()
    everything = client.list_instigators()
    assert len(everything) == 8
    only = client.list_instigators("first")
    assert {i.location_id for i in only} == {first.identity}
    assert client.list_instigators("unpublished") == []
    stub = stack.stub()
    code, details = _code(lambda: stub.ListInstigators(pb.ListInstigatorsRequest(location="x")))
    assert code is grpc.StatusCode.NOT_FOUND
    assert "no code location named 'x'" in details


def test_set_instigator_status_is_stored_and_wins_over_the_default(stack: Stack) -> None:
    """Stopping a RUNNING-by-default schedule sticks; starting a sensor gives its state back."""
    location = _publish(stack, _automated())
    client = stack.client()
    stopped = client.stop_instigator("nightly")
    assert (stopped.name, stopped.running, stopped.next_tick_time) == ("nightly", False, None)
    state = stack.storage.get_instigator_state(location.identity, "nightly")
    assert state is not None and (state.status, state.type) == ("STOPPED", SCHEDULE)
    assert {i.name: i.running for i in client.list_instigators()}["nightly"] is False
    started = client.start_instigator("weekly", location="basic")
    assert started.running and started.next_tick_time is not None
    assert started.next_tick_time > time.time()
    files = client.start_instigator("files")
    assert (files.type, files.running) == (SENSOR, True)
    assert client.start_instigator("nightly").running


def test_set_instigator_status_errors(stack: Stack) -> None:
    """Unknown name NOT_FOUND; no name INVALID_ARGUMENT; unpublished FAILED_PRECONDITION."""
    _publish(stack, _automated())
    stub = stack.stub()
    request = pb.SetInstigatorStatusRequest(name="nope", running=True)
    code, details = _code(lambda: stub.SetInstigatorStatus(request))
    assert code is grpc.StatusCode.NOT_FOUND
    assert "has no schedule or sensor named 'nope'" in details
    assert "nightly" in details
    code, _ = _code(lambda: stub.SetInstigatorStatus(pb.SetInstigatorStatusRequest(running=True)))
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    stack.storage.ensure_location("later")
    request = pb.SetInstigatorStatusRequest(location="later", name="nightly", running=True)
    code, details = _code(lambda: stub.SetInstigatorStatus(request))
    assert code is grpc.StatusCode.FAILED_PRECONDITION
    assert "has not published its definitions" in details
    request = pb.SetInstigatorStatusRequest(name="nightly", running=True)
    code, _ = _code(lambda: stub.SetInstigatorStatus(request))
    assert code is grpc.StatusCode.INVALID_ARGUMENT  # two locations now: name one


# --- ticks -------------------------------------------------------------------------------------


def test_list_ticks_filters_and_pages(stack: Stack) -> None:
    """Ticks come newest first, filtered by location, instigator and status, paged by `before`."""
    here = _publish(stack, _automated("here"))
    there = _publish(stack, _automated("there"))
    now = time.time()
    error = ErrorInfo(error_type="ValueError", message="bad", traceback="Traceback ...")
    ticks = [
        _tick(here, "files", TickStatus.SUCCESS, now - 50, run_ids=("r1",), cursor="5"),
        _tick(here, "files", TickStatus.SKIPPED, now - 40, skip_reason="nothing new"),
        _tick(here, "files", TickStatus.FAILURE, now - 30, error=error, duration_ms=12.5),
        _tick(here, "nightly", TickStatus.SUCCESS, now - 20, SCHEDULE, scheduled_time=now - 21),
        _tick(there, "files", TickStatus.SUCCESS, now - 10),
    ]
    for tick in ticks:
        stack.storage.add_tick(tick)
    client = stack.client()
    assert client.list_ticks() == ticks[::-1]
    assert client.list_ticks(location="here") == ticks[3::-1]
    assert client.list_ticks(location="here", instigator="files") == ticks[2::-1]
    assert client.list_ticks(statuses=["failure", TickStatus.SKIPPED]) == [ticks[2], ticks[1]]
    assert client.list_ticks(limit=2) == [ticks[4], ticks[3]]
    assert client.list_ticks(limit=2, before=ticks[3].timestamp) == [ticks[2], ticks[1]]
    (failed,) = client.list_ticks(statuses=["FAILURE"])
    assert failed.error == error and failed.duration_ms == 12.5


def test_list_ticks_limit_defaults_to_100(stack: Stack) -> None:
    """A request without a limit returns the newest 100 ticks."""
    here = _publish(stack, _automated("here"))
    now = time.time()
    for i in range(105):
        stack.storage.add_tick(_tick(here, "always", TickStatus.SKIPPED, now - i))
    stub = stack.stub()
    reply = stub.ListTicks(pb.ListTicksRequest())
    assert len(reply.ticks) == 100
    assert reply.ticks[0].timestamp == pytest.approx(now)
    assert len(stack.client().list_ticks(limit=105)) == 105


def test_list_ticks_errors(stack: Stack) -> None:
    """Unknown location NOT_FOUND; a negative limit or an unspecified status INVALID_ARGUMENT."""
    _publish(stack, _automated())
    stub = stack.stub()
    code, _ = _code(lambda: stub.ListTicks(pb.ListTicksRequest(location="nope")))
    assert code is grpc.StatusCode.NOT_FOUND
    code, details = _code(lambda: stub.ListTicks(pb.ListTicksRequest(limit=-1)))
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert "limit" in details
    request = pb.ListTicksRequest(statuses=[runs_pb2.TICK_STATUS_UNSPECIFIED])
    code, details = _code(lambda: stub.ListTicks(request))
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert "unsupported tick status" in details


def test_http_instigators_and_ticks(stack: Stack) -> None:
    """/api/instigators and /api/ticks serve the same data as JSON, with the same filters."""
    here = _publish(stack, _automated("here"))
    now = time.time()
    stack.storage.add_tick(_tick(here, "files", TickStatus.SUCCESS, now - 2))
    stack.storage.add_tick(_tick(here, "files", TickStatus.FAILURE, now - 1))
    stack.storage.add_tick(_tick(here, "nightly", TickStatus.SUCCESS, now, SCHEDULE))
    status, body = _get(f"{stack.http}/api/instigators?location=here")
    assert status == 200
    assert [(i["name"], i["type"], i["running"]) for i in body] == [
        ("nightly", "SCHEDULE", True),
        ("weekly", "SCHEDULE", False),
        ("files", "SENSOR", False),
        ("always", "SENSOR", True),
    ]
    status, body = _get(f"{stack.http}/api/ticks?instigator=files&status=failure&status=SUCCESS")
    assert status == 200
    assert [t["status"] for t in body] == ["FAILURE", "SUCCESS"]
    status, body = _get(f"{stack.http}/api/ticks?limit=1&before={now - 0.5}")
    assert status == 200 and [t["status"] for t in body] == ["FAILURE"]
    assert _get(f"{stack.http}/api/ticks?status=nope")[0] == 400
    assert _get(f"{stack.http}/api/ticks?before=yesterday")[0] == 400
    assert _get(f"{stack.http}/api/ticks?before=nan")[0] == 400
    assert _get(f"{stack.http}/api/ticks?limit=-1")[0] == 400
    assert _get(f"{stack.http}/api/ticks?location=nope")[0] == 404
    assert _get(f"{stack.http}/api/instigators?location=nope") == (
        404,
        {"error": "no code location named 'nope' (registered: here)"},
    )


# --- backfills ---------------------------------------------------------------------------------


def _backfill(location: LocationRecord, status: BackfillState, **fields: Any) -> BackfillRecord:
    return BackfillRecord(
        backfill_id=uuid.uuid4().hex[:12],
        location_id=location.identity,
        status=status,
        created_at=time.time(),
        asset_selection=("daily_events",),
        partitions={"all": True},
        strategy={"kind": "multi_run", "multi_run_dimensions": [], "single_run_dimensions": []},
        requested=10,
        **fields,
    )


def test_cancel_backfill_cancels_its_queued_runs_and_stops_running_ones(stack: Stack) -> None:
    """The backfill is CANCELED, its queued runs too; running ones CANCELING; others untouched."""
    location = stack.register(partitioned.repo)
    backfill = _backfill(location, BackfillState.IN_PROGRESS, runs_total=4)
    stack.storage.add_backfill(backfill)
    tags = {BACKFILL_TAG: backfill.backfill_id}
    queued = stack.add_run(location, status=RunStatus.QUEUED, tags=tags)
    running = stack.add_run(location, status=RunStatus.STARTED, tags=tags)
    done = stack.add_run(location, status=RunStatus.SUCCESS, tags=tags)
    other = stack.add_run(location, status=RunStatus.QUEUED)
    client = stack.client()
    canceled = client.cancel_backfill(backfill.backfill_id)
    assert canceled.status is BackfillState.CANCELED
    assert canceled.backfill_id == backfill.backfill_id

    def status(run_id: str) -> RunStatus:
        run = stack.storage.get_run(run_id)
        assert run is not None
        return run.status

    assert status(queued.run_id) is RunStatus.CANCELED
    assert status(running.run_id) is RunStatus.CANCELING
    assert status(done.run_id) is RunStatus.SUCCESS
    assert status(other.run_id) is RunStatus.QUEUED
    again = client.cancel_backfill(backfill.backfill_id)
    assert again.status is BackfillState.CANCELED
    assert client.get_backfill(backfill.backfill_id).status is BackfillState.CANCELED


def test_cancel_backfill_errors(stack: Stack) -> None:
    """Unknown backfill NOT_FOUND; a completed one FAILED_PRECONDITION; no id INVALID_ARGUMENT."""
    location = stack.register(partitioned.repo)
    finished = _backfill(location, BackfillState.COMPLETED, end_time=time.time())
    stack.storage.add_backfill(finished)
    stub = stack.stub()
    code, _ = _code(lambda: stub.CancelBackfill(pb.CancelBackfillRequest(backfill_id="nope")))
    assert code is grpc.StatusCode.NOT_FOUND
    request = pb.CancelBackfillRequest(backfill_id=finished.backfill_id)
    code, details = _code(lambda: stub.CancelBackfill(request))
    assert code is grpc.StatusCode.FAILED_PRECONDITION
    assert "has already finished (COMPLETED)" in details
    code, _ = _code(lambda: stub.CancelBackfill(pb.CancelBackfillRequest()))
    assert code is grpc.StatusCode.INVALID_ARGUMENT


def test_retry_backfill_failures_requests_the_failed_partitions(stack: Stack) -> None:
    """A finished backfill's failed partitions become a new REQUESTED backfill of its own."""
    stack.register(partitioned.repo)
    client = stack.client()
    days = rs.PartitionKeyRange.single("2024-01-02", "2024-01-05")
    parent = client.launch_backfill(
        ["daily_events"], days, rs.BackfillStrategy.single_run(), tags={"why": "fix"}
    )
    storage = stack.storage
    failed = {"2024-01-04": "boom", "2024-01-02": "bang"}
    storage.record_backfill_run(
        parent.backfill_id, run_id="r1", succeeded=2, failed_partitions=failed
    )
    storage.update_backfill(parent.backfill_id, status=BackfillState.FAILED, end_time=time.time())
    retry = client.retry_backfill_failures(parent.backfill_id)
    assert retry.backfill_id != parent.backfill_id
    assert retry.status is BackfillState.REQUESTED
    assert retry.parent_backfill_id == parent.backfill_id
    assert retry.partitions == {"keys": ["2024-01-02", "2024-01-04"]}
    assert (retry.requested, retry.runs_total) == (2, 1)
    assert (retry.asset_selection, retry.strategy, retry.tags) == (
        parent.asset_selection,
        parent.strategy,
        parent.tags,
    )
    assert client.get_backfill(retry.backfill_id) == retry


def test_retry_backfill_failures_errors(stack: Stack) -> None:
    """Unfinished or failure-free backfills FAILED_PRECONDITION; unknown ones NOT_FOUND."""
    location = stack.register(partitioned.repo)
    running = _backfill(location, BackfillState.IN_PROGRESS, failed=1)
    clean = _backfill(location, BackfillState.COMPLETED, succeeded=10)
    for backfill in (running, clean):
        stack.storage.add_backfill(backfill)
    stub = stack.stub()

    def retry(backfill_id: str) -> Any:
        return stub.RetryBackfillFailures(pb.RetryBackfillFailuresRequest(backfill_id=backfill_id))

    code, details = _code(lambda: retry(running.backfill_id))
    assert code is grpc.StatusCode.FAILED_PRECONDITION
    assert "has not finished (IN_PROGRESS)" in details
    code, details = _code(lambda: retry(clean.backfill_id))
    assert code is grpc.StatusCode.FAILED_PRECONDITION
    assert "has no failed partitions" in details
    code, _ = _code(lambda: retry("nope"))
    assert code is grpc.StatusCode.NOT_FOUND
    assert len(stack.storage.get_backfills()) == 2
